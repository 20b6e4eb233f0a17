"""Non-streamed round trips: 1,000 small sequential requests (model `echo`) by raw httpx, puter_magic and
puter-python-sdk, against the local Puter server in its own process.

Every client runs in a fresh process (workers.py; puter-python-sdk from the peers' venv), rounds interleaved in a
shuffled order; medians. puter-python-sdk sends legacy driver names, so the server runs with `permissive: true`
(for every client alike); it is pointed at the server through its own environment variable PUTER_API_BASE
(`http://127.0.0.1:PORT`), which is why the server also runs with `host_routing: false`.

Connection reuse: raw httpx and puter_magic keep one AsyncClient (one keep-alive connection) for all requests.
puter-python-sdk's `PuterAI.chat` calls `requests.post` with no Session, so every request opens a new TCP
connection; its `async_chat` opens a new aiohttp ClientSession (and connection) per request.
"""

from __future__ import annotations

import sys

import httpx
from common import (
    Measurement,
    PeersMissing,
    cpu_seconds,
    interleave,
    local_puter_process,
    peers_python,
    quartiles,
    worker,
)

REQUESTS = 1_000
RUNS = 5
SERVER_SETTINGS = {"permissive": True, "host_routing": False}
LIMIT = "raw httpx, one AsyncClient reused"
PUTER_MAGIC = "puter_magic PuterProvider.complete, one provider reused"
SDK = "puter-python-sdk PuterAI.chat (requests, no Session)"
SDK_ASYNC = "puter-python-sdk PuterAI.async_chat (aiohttp, a session per call)"
CLIENTS = {LIMIT: "raw-httpx", PUTER_MAGIC: "puter-magic", SDK: "puter-sdk", SDK_ASYNC: "puter-sdk-async"}
PEERS = {SDK, SDK_ASYNC}
REUSE = {LIMIT: "yes", PUTER_MAGIC: "yes", SDK: "no: a new connection per request", SDK_ASYNC: "no: a new session"}


def run(requests: int = REQUESTS, runs: int = RUNS) -> dict[str, object]:
    try:
        peers: object = peers_python()
    except PeersMissing as missing:
        peers = missing
    with local_puter_process(**SERVER_SETTINGS) as facts:
        args = {"origin": facts["origin"], "port": facts["port"], "token": facts["Admin token"], "requests": requests}
        cases = {}
        for label, name in CLIENTS.items():
            if label in PEERS and isinstance(peers, PeersMissing):
                continue
            python = peers if label in PEERS else sys.executable

            def one(python: object = python, name: str = name) -> dict[str, float]:
                httpx.delete(f"{facts['origin']}/__fake__/requests")  # keep the server's request log short
                server_before = cpu_seconds(facts["pid"])
                result = worker(python, "roundtrip", name, **args)
                result["server"] = cpu_seconds(facts["pid"]) - server_before
                return result

            cases[label] = one
        results = interleave(runs, cases)

    def pick(key: str) -> dict[str, Measurement]:
        return {label: Measurement(label, [s[key] for s in samples]) for label, samples in results.items()}

    return {
        "measurements": pick("total"),
        "cpu": pick("cpu"),
        "server": pick("server"),
        "missing": str(peers) if isinstance(peers, PeersMissing) else None,
        "requests": requests,
    }


def report(result: dict[str, object]) -> str:
    found: dict[str, Measurement] = result["measurements"]  # type: ignore[assignment]
    requests: int = result["requests"]  # type: ignore[assignment]
    limit = requests / found[LIMIT].median
    magic = requests / found[PUTER_MAGIC].median
    cpu: dict[str, Measurement] = result["cpu"]  # type: ignore[assignment]
    server: dict[str, Measurement] = result["server"]  # type: ignore[assignment]
    lines = [
        "| client | requests/s | mean round trip | vs raw httpx | puter_magic vs it | client CPU per request "
        "| server CPU per request | connection reused |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label in CLIENTS:
        if label not in found:
            lines.append(f"| {label} | not measured: {result['missing']} | | | | | | |")
            continue
        m = found[label]
        rate = requests / m.median
        low, high = quartiles([requests / s for s in m.samples])
        lines.append(
            f"| {label} | {rate:,.0f} (IQR {low:,.0f}–{high:,.0f}) | {m.median / requests * 1000:.2f} ms "
            f"| {rate / limit:.2f}× | {magic / rate:.2f}× | {cpu[label].median / requests * 1e6:.0f} µs "
            f"| {server[label].median / requests * 1e6:.0f} µs | {REUSE[label]} |"
        )
    return "\n".join(lines)


def headline(result: dict[str, object]) -> dict[str, float]:
    found: dict[str, Measurement] = result["measurements"]  # type: ignore[assignment]
    requests: int = result["requests"]  # type: ignore[assignment]
    out = {"rps": requests / found[PUTER_MAGIC].median, "vs limit": found[LIMIT].median / found[PUTER_MAGIC].median}
    if SDK in found:
        out["vs sdk"] = found[SDK].median / found[PUTER_MAGIC].median
    cpu: dict[str, Measurement] = result["cpu"]  # type: ignore[assignment]
    out["cpu us"] = cpu[PUTER_MAGIC].median / requests * 1e6
    out["cpu vs limit"] = cpu[LIMIT].median / cpu[PUTER_MAGIC].median
    return out
