"""Puter NDJSON stream throughput: puter_magic's provider vs raw httpx line iteration (the limit).

The server runs in its own process. Both consumers read the same long answer (the local server's `slow` model
at rate 0) and do the least any client must: split lines and parse each as JSON. Run alternately, median of
several runs. Two framings: one line per HTTP chunk (how Puter sends it), and 64 lines per chunk (so the server
is not the bottleneck and the client's own cost shows).
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
from common import Measurement, local_puter_process

from puter_magic.config import Settings
from puter_magic.providers.puter import PuterProvider
from puter_magic.types import ChatRequest, Finished, Message, TextDelta

EVENTS = 50_000
RUNS = 5


def body(events: int) -> dict:
    return {
        "interface": "puter-chat-completion",
        "driver": "ai-chat",
        "method": "complete",
        "args": {
            "messages": [{"role": "user", "content": "go"}],
            "model": "slow",
            "stream": True,
            "fake_chunks": events,
        },
    }


async def raw_httpx(facts: dict[str, str], events: int) -> tuple[float, float, int]:
    headers = {"Host": f"api.puter.localhost:{facts['port']}", "Authorization": f"Bearer {facts['Admin token']}"}
    async with httpx.AsyncClient(base_url=facts["origin"], timeout=60) as client:
        start = time.perf_counter()
        first = None
        count = 0
        async with client.stream("POST", "/drivers/call", json=body(events), headers=headers) as response:
            async for line in response.aiter_lines():
                if not line:
                    continue
                obj = json.loads(line)
                if obj["type"] == "text":
                    count += 1
                    if first is None:
                        first = time.perf_counter() - start
        return time.perf_counter() - start, first or 0.0, count


async def puter_magic(facts: dict[str, str], events: int) -> tuple[float, float, int]:
    settings = Settings(
        api_origin=f"http://api.puter.localhost:{facts['port']}",
        gui_origin=f"http://puter.localhost:{facts['port']}",
        token=facts["Admin token"],
        rate_limit=None,
        max_concurrent=None,
    )
    provider = PuterProvider(settings)
    request = ChatRequest((Message("user", "go"),), "slow", extra={"fake_chunks": events})
    try:
        start = time.perf_counter()
        first = None
        count = 0
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                count += 1
                if first is None:
                    first = time.perf_counter() - start
            elif isinstance(event, Finished):
                pass
        return time.perf_counter() - start, first or 0.0, count
    finally:
        await provider.aclose()


CONSUMERS = {
    "raw httpx aiter_lines + json.loads (the limit)": raw_httpx,
    "puter_magic PuterProvider.stream": puter_magic,
}


def run(events: int = EVENTS, runs: int = RUNS, batch: int = 1) -> list[Measurement]:
    totals = {name: [] for name in CONSUMERS}
    firsts = {name: [] for name in CONSUMERS}
    with local_puter_process(slow_rate=0, stream_batch=batch) as facts:
        for _ in range(runs):
            for name, consumer in CONSUMERS.items():
                total, first, count = asyncio.run(consumer(facts, events))
                assert count == events, (name, count)
                totals[name].append(total)
                firsts[name].append(first)
    return [Measurement(name, totals[name]) for name in CONSUMERS] + [
        Measurement(f"{name} — time to first token", firsts[name]) for name in CONSUMERS
    ]


def report(measurements: list[Measurement], events: int = EVENTS) -> str:
    limit = measurements[0].median
    lines = ["| consumer | median time | events/s | vs the limit |", "|---|---|---|---|"]
    for m in measurements[: len(CONSUMERS)]:
        lines.append(f"| {m.name} | {m.median:.3f} s | {events / m.median:,.0f} | {limit / m.median:.2f}× |")
    for m in measurements[len(CONSUMERS) :]:
        lines.append(f"| {m.name} | {m.median * 1000:.1f} ms | | |")
    return "\n".join(lines)
