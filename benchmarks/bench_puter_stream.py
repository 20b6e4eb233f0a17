"""Puter NDJSON stream throughput and time to first token: raw httpx (the limit), puter_magic and putergenai.

The local Puter server runs in its own process and streams the same long answer (its `slow` model at rate 0) to
each consumer. Every consumer runs in a fresh process of its own (workers.py; putergenai from the peers' venv)
and reads the stream twice on one client: the first ("cold") pays the connection and the HTTP stack's lazy
imports, the second ("warm") is the steady state. Rounds are interleaved in a shuffled order; medians.

putergenai sends legacy driver names (`openai-completion`), which today's Puter rejects: the server runs with
`permissive: true` for this section (for every consumer alike), and with `host_routing: false` because putergenai
is pointed at `http://127.0.0.1:PORT`, whose Host header is not `api.*`.

Two framings: one line per HTTP chunk (how Puter sends it), and 64 lines per chunk (so the server is not the
bottleneck and each client's own cost shows).
"""

from __future__ import annotations

import sys

from common import (
    Measurement,
    PeersMissing,
    cpu_seconds,
    interleave,
    local_puter_process,
    ms,
    overlap,
    peers_python,
    quartiles,
    worker,
)

EVENTS = 50_000
RUNS = 5
SERVER_SETTINGS = {"slow_rate": 0, "permissive": True, "host_routing": False}
LIMIT = "raw httpx aiter_lines + json.loads (the limit)"
PUTER_MAGIC = "puter_magic PuterProvider.stream"
PUTERGENAI = "putergenai PuterClient.ai_chat(stream=True)"
CONSUMERS = {LIMIT: "raw-httpx", PUTER_MAGIC: "puter-magic", PUTERGENAI: "putergenai"}
PEERS = {PUTERGENAI}


def run(events: int = EVENTS, runs: int = RUNS, batch: int = 1) -> dict[str, object]:
    try:
        peers: object = peers_python()
    except PeersMissing as missing:
        peers = missing
    with local_puter_process(**SERVER_SETTINGS, stream_batch=batch) as facts:
        args = {"origin": facts["origin"], "port": facts["port"], "token": facts["Admin token"], "events": events}
        cases = {}
        for label, name in CONSUMERS.items():
            if label in PEERS and isinstance(peers, PeersMissing):
                continue
            python = peers if label in PEERS else sys.executable

            def one(python: object = python, name: str = name) -> dict:
                server_before = cpu_seconds(facts["pid"])
                result = worker(python, "puter-stream", name, **args)
                streams = [result["cold"], *result["warm"]]
                result["server cpu per event"] = (cpu_seconds(facts["pid"]) - server_before) / (events * len(streams))
                for one_stream in streams:
                    if one_stream["count"] != events:
                        raise RuntimeError(f"{name} saw {one_stream['count']} of {events} events")
                return result

            cases[label] = one
        results = interleave(runs, cases, seed=batch)
    return {"results": results, "missing": str(peers) if isinstance(peers, PeersMissing) else None}


def measurements(run_result: dict[str, object]) -> dict[str, dict[str, Measurement]]:
    """Per consumer: the warm streams of all its processes pooled; the cold stream of each process."""
    results: dict[str, list[dict]] = run_result["results"]  # type: ignore[assignment]
    out = {}
    for label, samples in results.items():
        warm = [w for s in samples for w in s["warm"]]
        out[label] = {
            "warm": Measurement(f"{label} warm", [w["total"] for w in warm]),
            "cpu": Measurement(f"{label} cpu", [w["cpu"] for w in warm]),
            "ttft warm": Measurement(f"{label} ttft warm", [w["first"] for w in warm]),
            "cold": Measurement(f"{label} cold", [s["cold"]["total"] for s in samples]),
            "ttft cold": Measurement(f"{label} ttft cold", [s["cold"]["first"] for s in samples]),
            "server": Measurement(f"{label} server", [s["server cpu per event"] for s in samples]),
        }
    return out


def report(run_result: dict[str, object], events: int = EVENTS) -> str:
    found = measurements(run_result)
    limit = found[LIMIT]["warm"].median
    lines = [
        "| consumer | median time (warm) | events/s | vs the limit | client CPU per event | server CPU per event "
        "| first token, cold | first token, warm | whole stream, cold |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label in CONSUMERS:
        if label not in found:
            lines.append(f"| {label} | not measured: {run_result['missing']} | | | | | | | |")
            continue
        m = found[label]
        warm = m["warm"].median
        low, high = quartiles(m["warm"].samples)
        lines.append(
            f"| {label} | {warm:.3f} s (IQR {low:.3f}–{high:.3f}) | {events / warm:,.0f} | {limit / warm:.2f}× "
            f"| {m['cpu'].median / events * 1e6:.2f} µs | {m['server'].median * 1e6:.2f} µs "
            f"| {ms(m['ttft cold'].median)} | {ms(m['ttft warm'].median)} | {m['cold'].median:.3f} s |"
        )
    return "\n".join(lines)


def headline(run_result: dict[str, object]) -> dict[str, float]:
    found = measurements(run_result)
    limit = found[LIMIT]["warm"].median
    magic = found[PUTER_MAGIC]
    out = {"vs limit": limit / magic["warm"].median, "vs limit noise": overlap(found[LIMIT]["warm"], magic["warm"])}
    if PUTERGENAI in found:
        out["vs putergenai"] = found[PUTERGENAI]["warm"].median / magic["warm"].median
        out["vs putergenai noise"] = overlap(found[PUTERGENAI]["warm"], magic["warm"])
        out["cpu vs putergenai"] = found[PUTERGENAI]["cpu"].median / magic["cpu"].median
    out["cpu vs limit"] = found[LIMIT]["cpu"].median / found[PUTER_MAGIC]["cpu"].median
    out["ttft cold ms"] = found[PUTER_MAGIC]["ttft cold"].median * 1000
    out["ttft warm ms"] = found[PUTER_MAGIC]["ttft warm"].median * 1000
    return out
