"""Proxy overhead: requests per second and added latency through `puter-magic serve` vs the local Puter server
called directly, in one run. Each server runs in its own process; the client sends small non-streamed requests
one after another (latency) and 16 at a time (throughput), alternating the two paths.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
from common import Measurement, free_port, local_puter_process

RUNS = 5
SEQUENTIAL = 200
CONCURRENT = 400
KEY = "bench-proxy-key-123456"


@contextmanager
def proxy_process(facts: dict[str, str], env: dict[str, str] | None = None, cwd: Path | None = None):
    """`puter-magic serve` in its own process, in front of the local server; yields (url, pid). `cwd` comes first
    on `python -m`'s path: the package found there is the one served."""
    port = free_port()
    env = {
        **os.environ,
        "PUTER_API_ORIGIN": f"http://api.puter.localhost:{facts['port']}",
        "PUTER_GUI_ORIGIN": f"http://puter.localhost:{facts['port']}",
        "PUTER_TOKEN": facts["Admin token"],
        "PUTER_RATE_LIMIT": "off",
        "PUTER_MAX_CONCURRENT": "off",
        "PUTER_PROXY_KEY": KEY,
        **(env or {}),
    }
    command = [sys.executable, "-m", "puter_magic", "serve", "--port", str(port)]
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)  # the server is still starting (a bounded readiness poll)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        proc.wait(10)


def direct_request(facts: dict[str, str]) -> tuple[str, dict, dict]:
    body = {
        "interface": "puter-chat-completion",
        "driver": "ai-chat",
        "method": "complete",
        "args": {"messages": [{"role": "user", "content": "ping"}], "model": "echo"},
    }
    headers = {"Host": f"api.puter.localhost:{facts['port']}", "Authorization": f"Bearer {facts['Admin token']}"}
    return f"{facts['origin']}/drivers/call", body, headers


def proxy_request(url: str) -> tuple[str, dict, dict]:
    body = {"model": "echo", "messages": [{"role": "user", "content": "ping"}]}
    return f"{url}/v1/chat/completions", body, {"Authorization": f"Bearer {KEY}"}


async def measure(target: tuple[str, dict, dict]) -> tuple[float, float]:
    """(median latency of sequential requests, requests per second with 16 in flight)."""
    url, body, headers = target
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=16)) as client:
        latencies = []
        for _ in range(SEQUENTIAL):
            start = time.perf_counter()
            (await client.post(url, json=body, headers=headers)).raise_for_status()
            latencies.append(time.perf_counter() - start)
        gate = asyncio.Semaphore(16)

        async def one() -> None:
            async with gate:
                (await client.post(url, json=body, headers=headers)).raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(CONCURRENT)))
        return statistics.median(latencies), CONCURRENT / (time.perf_counter() - start)


def run(runs: int = RUNS) -> dict[str, Measurement]:
    results: dict[str, list[float]] = {"direct latency": [], "proxy latency": [], "direct rps": [], "proxy rps": []}
    with local_puter_process() as facts, proxy_process(facts) as (url, _):
        for _ in range(runs):
            for name, target in (("direct", direct_request(facts)), ("proxy", proxy_request(url))):
                latency, rps = asyncio.run(measure(target))
                results[f"{name} latency"].append(latency)
                results[f"{name} rps"].append(rps)
    return {name: Measurement(name, samples) for name, samples in results.items()}


def report(results: dict[str, Measurement]) -> str:
    direct, proxy = results["direct latency"].median, results["proxy latency"].median
    direct_rps, proxy_rps = results["direct rps"].median, results["proxy rps"].median
    return "\n".join(
        [
            "| path | median latency (sequential) | requests/s (16 in flight) |",
            "|---|---|---|",
            f"| local Puter server, called directly | {direct * 1000:.2f} ms | {direct_rps:,.0f} |",
            f"| through the proxy (`puter-magic serve`) | {proxy * 1000:.2f} ms | {proxy_rps:,.0f} |",
            f"| the proxy adds | {(proxy - direct) * 1000:+.2f} ms | {proxy_rps / direct_rps:.2f}× the direct rate |",
        ]
    )
