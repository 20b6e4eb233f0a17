"""Many prompts at once: batch() wall time against the ideal, a raw httpx client, and asking one at a time.

The local Puter server runs in its own process and waits LATENCY seconds before each answer (model `echo`, short
prompts, not streamed), so the ideal for N prompts at concurrency C is N × LATENCY / C. The provider's limiter is
off, so `concurrency` is the only bound. The raw client (httpx.AsyncClient + asyncio.Semaphore + gather, JSON
parsed, nothing else) is what any Python client pays on this machine. One-at-a-time is `concurrency=1` over
SEQUENTIAL prompts, extrapolated to ITEMS. Runs alternate; each figure is a median.
"""

from __future__ import annotations

import asyncio
import io
import time

import httpx
from common import Measurement, local_puter_process

from puter_magic.config import Settings
from puter_magic.core.sessions import Session
from puter_magic.notebook.batch_call import batch
from puter_magic.notebook.progress_bars import TerminalProgress

ITEMS = 500
CONCURRENCY = 16
LATENCY = 0.05
SEQUENTIAL = 100
RUNS = 3
IDEAL = ITEMS * LATENCY / CONCURRENCY


def prompts(n: int) -> list[str]:
    return [f"prompt number {i}" for i in range(n)]


def session_for(facts: dict[str, str]) -> Session:
    settings = Settings(
        api_origin=f"http://api.puter.localhost:{facts['port']}",
        gui_origin=f"http://puter.localhost:{facts['port']}",
        token=facts["Admin token"],
        rate_limit=None,
        max_concurrent=None,
    )
    session = Session(settings)
    session.set_model("echo")
    return session


def timed_batch(session: Session, n: int, concurrency: int, progress: bool) -> float:
    reporter = TerminalProgress(io.StringIO(), live=True) if progress else False
    start = time.perf_counter()
    result = batch(prompts(n), concurrency=concurrency, session=session, progress=reporter)
    elapsed = time.perf_counter() - start
    assert result.ok and list(result) == prompts(n), result.summary()
    return elapsed


async def raw_httpx(facts: dict[str, str], n: int, concurrency: int) -> float:
    headers = {"Host": f"api.puter.localhost:{facts['port']}", "Authorization": f"Bearer {facts['Admin token']}"}
    gate = asyncio.Semaphore(concurrency)

    async def ask(client: httpx.AsyncClient, prompt: str) -> str:
        body = {
            "interface": "puter-chat-completion",
            "driver": "ai-chat",
            "method": "complete",
            "args": {"messages": [{"role": "user", "content": prompt}], "model": "echo"},
        }
        async with gate:
            response = await client.post("/drivers/call", json=body, headers=headers)
        message = response.json()["result"]["message"]
        return str(message["content"])

    async with httpx.AsyncClient(base_url=facts["origin"], timeout=60) as client:
        await asyncio.gather(*(ask(client, p) for p in prompts(concurrency)))  # warm the connection pool
        start = time.perf_counter()
        answers = await asyncio.gather(*(ask(client, p) for p in prompts(n)))
        elapsed = time.perf_counter() - start
    assert len(answers) == n
    return elapsed


def run(runs: int = RUNS) -> list[Measurement]:
    names = [
        f"raw httpx + Semaphore({CONCURRENCY}) (the limit)",
        f"batch(), concurrency {CONCURRENCY}, progress off",
        f"batch(), concurrency {CONCURRENCY}, progress line on",
        f"batch(), one at a time ({SEQUENTIAL} prompts, ×{ITEMS // SEQUENTIAL})",
    ]
    samples: dict[str, list[float]] = {name: [] for name in names}
    with local_puter_process(latency=LATENCY) as facts:
        session = session_for(facts)
        try:
            timed_batch(session, CONCURRENCY, CONCURRENCY, progress=False)  # warm the connection pool
            for _ in range(runs):
                samples[names[0]].append(asyncio.run(raw_httpx(facts, ITEMS, CONCURRENCY)))
                samples[names[1]].append(timed_batch(session, ITEMS, CONCURRENCY, progress=False))
                samples[names[2]].append(timed_batch(session, ITEMS, CONCURRENCY, progress=True))
                scale = ITEMS / SEQUENTIAL
                samples[names[3]].append(timed_batch(session, SEQUENTIAL, 1, progress=False) * scale)
        finally:
            session.close()
    return [Measurement(name, samples[name]) for name in names]


def report(measurements: list[Measurement]) -> str:
    limit = measurements[0].median
    sequential = measurements[-1].median
    lines = [
        f"Ideal: {ITEMS} × {LATENCY * 1000:.0f} ms / {CONCURRENCY} = {IDEAL:.3f} s (target: batch() ≤ 1.2× the ideal).",
        "",
        "| run | median wall time | prompts/s | vs the ideal | vs the limit | vs one at a time |",
        "|---|---|---|---|---|---|",
    ]
    for m in measurements:
        lines.append(
            f"| {m.name} | {m.median:.3f} s | {ITEMS / m.median:,.0f} | {m.median / IDEAL:.2f}× "
            f"| {limit / m.median:.2f}× | {sequential / m.median:.1f}× faster |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(run()))
