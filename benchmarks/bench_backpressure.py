"""Backpressure through the proxy: memory with a reader that stops reading, and throughput for one that does not.

The local Puter server (its own process) streams a 500,000-chunk answer (model `slow`, unpaced, 64 lines per HTTP
chunk) through `puter-magic serve` (its own process). A stalled client sends the request on a raw socket, reads
the response headers and its first bytes, then reads nothing more; the proxy's RSS (VmRSS, /proc) is sampled
every 0.25 s until it has not grown for 3 s (at most 60 s). Growth is against the RSS after a short warm-up
answer (every module of the streaming path loaded). The fast reader then reads the same answer through the
proxy with httpx as fast as it can (`data:` lines counted, nothing parsed); chunks per second, median of the runs.

The comparison runs the same code with the hand-off unbounded, in a second proxy process on the same server: a
copy of the package whose `loop.WINDOW` is raised beyond any answer's length (`unbounded_copy()`, in .cache/),
which is how the proxy behaved before the window. The fast reads alternate between the two proxies.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from bench_proxy import KEY, proxy_process
from common import ROOT, Measurement, local_puter_process, overlap

CHUNKS = 500_000
RUNS = 5
SERVER_SETTINGS = {"slow_chunks": CHUNKS, "slow_rate": 0, "stream_batch": 64}
BODY = b'{"model":"slow","stream":true,"messages":[{"role":"user","content":"go"}]}'


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def warm_up(url: str) -> None:
    """One short streamed answer: every module of the streaming path loaded, every connection open."""
    body = {"model": "echo", "stream": True, "messages": [{"role": "user", "content": "warm up"}]}
    headers = {"Authorization": f"Bearer {KEY}"}
    httpx.post(f"{url}/v1/chat/completions", json=body, headers=headers, timeout=30).raise_for_status()


def read_fast(url: str) -> float:
    """Seconds to read the whole answer through the proxy."""
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    start = time.perf_counter()
    events = 0
    with (
        httpx.Client(timeout=120) as client,
        client.stream("POST", f"{url}/v1/chat/completions", content=BODY, headers=headers) as response,
    ):
        response.raise_for_status()
        for line in response.iter_lines():
            events += line.startswith("data: ")
    if events < CHUNKS:
        raise RuntimeError(f"the answer had {events} events, expected at least {CHUNKS}")
    return time.perf_counter() - start


def stall(url: str, pid: int, baseline: float) -> dict[str, float]:
    """Open a stream, read its first bytes, stop reading; the proxy's RSS over time."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY
    try:
        sock.sendall(request)
        first = sock.recv(4096)
        if not first.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"the proxy answered {first[:80]!r}")
        start = time.monotonic()
        peak = current = rss_mib(pid)
        last_growth = start
        while time.monotonic() - last_growth < 3 and time.monotonic() - start < 60:
            time.sleep(0.25)  # sampling interval of a measurement, not synchronisation
            current = rss_mib(pid)
            if current > peak + 0.1:
                last_growth = time.monotonic()
            peak = max(peak, current)
        return {"peak": peak, "growth": peak - baseline, "settled_s": last_growth - start}
    finally:
        sock.close()


def unbounded_copy(target: Path) -> Path:
    """A copy of the package in `target` whose stream hand-off has no bound (for the comparison)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(ROOT / "puter_magic", target / "puter_magic", ignore=shutil.ignore_patterns("__pycache__"))
    loop = target / "puter_magic" / "core/handoff.py"
    text, count = re.subn(r"^WINDOW = \d+", "WINDOW = 2**62", loop.read_text(encoding="utf-8"), flags=re.M)
    if count != 1:
        raise RuntimeError("core/handoff.py has no WINDOW constant to lift")
    loop.write_text(text, encoding="utf-8")
    check = "import puter_magic.core.handoff as loop; print(loop.__file__, loop.WINDOW)"
    found = subprocess.run([sys.executable, "-c", check], cwd=target, capture_output=True, text=True, check=True)
    if found.stdout.split() != [str(loop), str(2**62)]:
        raise RuntimeError(f"the unbounded copy is not the package a process in {target} imports: {found.stdout}")
    return target


def run(runs: int = RUNS) -> dict[str, dict]:
    """Both proxies side by side on one local server: the stall once each, then fast reads alternating."""
    unbounded = unbounded_copy(ROOT / ".cache" / "bench-unbounded")
    with (
        local_puter_process(**SERVER_SETTINGS) as facts,
        proxy_process(facts) as now,
        proxy_process(facts, cwd=unbounded) as before,
    ):
        results: dict[str, dict] = {}
        for name, (url, pid) in (("now", now), ("before", before)):
            warm_up(url)
            baseline = rss_mib(pid)
            results[name] = {"baseline": baseline, "stalled": stall(url, pid, baseline), "fast": []}
        for _ in range(runs):
            for name, (url, _pid) in (("now", now), ("before", before)):
                results[name]["fast"].append(read_fast(url))
    for result in results.values():
        result["fast"] = Measurement("fast reader", result["fast"])
    return results


def report(results: dict[str, dict]) -> str:
    now, before = results["now"], results["before"]

    def stalled(result: dict) -> str:
        return f"{result['stalled']['growth']:+.1f} MiB (flat after {result['stalled']['settled_s']:.1f} s)"

    def fast(result: dict) -> str:
        median = result["fast"].median
        return f"{median:.2f} s, {CHUNKS / median:,.0f} chunks/s"

    return "\n".join(
        [
            "| | bounded hand-off (now) | unbounded (`WINDOW` lifted: as before) |",
            "|---|---|---|",
            f"| proxy RSS after a short warm-up answer | {now['baseline']:.1f} MiB | {before['baseline']:.1f} MiB |",
            f"| proxy RSS growth, 1 stalled reader | {stalled(now)} | {stalled(before)} |",
            f"| fast reader, {CHUNKS:,} chunks (median of {len(now['fast'].samples)}) | {fast(now)} | {fast(before)} |",
            "",
            f"Fast reader: {before['fast'].median / now['fast'].median:.2f}× the unbounded version's rate "
            f"(per-run times: now {', '.join(f'{t:.1f}' for t in now['fast'].samples)} s; "
            f"before {', '.join(f'{t:.1f}' for t in before['fast'].samples)} s).",
        ]
    )


def headline(results: dict[str, dict]) -> dict[str, float]:
    now, before = results["now"], results["before"]
    return {
        "growth MiB": now["stalled"]["growth"],
        "before growth MiB": before["stalled"]["growth"],
        "chunks/s": CHUNKS / now["fast"].median,
        "rate vs before": before["fast"].median / now["fast"].median,
        "rate noise": overlap(now["fast"], before["fast"]),
    }
