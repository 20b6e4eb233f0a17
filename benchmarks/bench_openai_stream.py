"""OpenAI-compatible SSE stream throughput: raw httpx (the limit), puter_magic and the official openai SDK.

The local OpenAI-compatible server (puter_magic.testing.openai_server) runs in its own process and streams
the same long answer to each consumer; alternating runs, medians. Two framings: one event per HTTP chunk
(as llama-server sends), and 64 events per chunk (the client's own cost shows).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from contextlib import contextmanager

import httpx
from common import Measurement, free_port

from puter_magic.datatypes import ChatRequest, Message, TextDelta
from puter_magic.providers.openai import OpenAIProvider

EVENTS = 50_000
RUNS = 5
BODY = {"model": "count", "messages": [{"role": "user", "content": "go"}], "stream": True, "fake_chunks": EVENTS}


@contextmanager
def openai_process(batch: int):
    port = free_port()
    code = (
        "import sys; from puter_magic.testing.openai_server import LocalOpenAI\n"
        f"with LocalOpenAI(port={port}, batch={batch}) as s:\n"
        "    print('ready', flush=True); sys.stdin.read()"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(10)


async def raw_httpx(base_url: str) -> tuple[float, float, int]:
    async with httpx.AsyncClient(timeout=60) as client:
        start = time.perf_counter()
        first, count = None, 0
        async with client.stream("POST", f"{base_url}/chat/completions", json=BODY) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                chunk = json.loads(line[6:])
                for choice in chunk["choices"]:
                    if choice["delta"].get("content"):
                        count += 1
                        first = first or time.perf_counter() - start
        return time.perf_counter() - start, first or 0.0, count


async def puter_magic(base_url: str) -> tuple[float, float, int]:
    provider = OpenAIProvider(base_url)
    request = ChatRequest((Message("user", "go"),), "count", extra={"fake_chunks": EVENTS})
    try:
        start = time.perf_counter()
        first, count = None, 0
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                count += 1
                first = first or time.perf_counter() - start
        return time.perf_counter() - start, first or 0.0, count
    finally:
        await provider.aclose()


async def openai_sdk(base_url: str) -> tuple[float, float, int]:
    import openai

    client = openai.AsyncOpenAI(base_url=base_url, api_key="unused", max_retries=0)
    try:
        start = time.perf_counter()
        first, count = None, 0
        stream = await client.chat.completions.create(
            model="count", messages=[{"role": "user", "content": "go"}], stream=True, extra_body={"fake_chunks": EVENTS}
        )
        async for chunk in stream:
            for choice in chunk.choices:
                if choice.delta.content:
                    count += 1
                    first = first or time.perf_counter() - start
        return time.perf_counter() - start, first or 0.0, count
    finally:
        await client.close()


CONSUMERS = {
    "raw httpx aiter_lines + json.loads (the limit)": raw_httpx,
    "puter_magic OpenAIProvider.stream": puter_magic,
    "openai SDK (AsyncOpenAI)": openai_sdk,
}


def run(batch: int = 1, runs: int = RUNS) -> list[Measurement]:
    totals: dict[str, list[float]] = {name: [] for name in CONSUMERS}
    with openai_process(batch) as base_url:
        for _ in range(runs):
            for name, consumer in CONSUMERS.items():
                total, _first, count = asyncio.run(consumer(base_url))
                assert count == EVENTS, (name, count)
                totals[name].append(total)
    return [Measurement(name, samples) for name, samples in totals.items()]


def report(measurements: list[Measurement]) -> str:
    limit = measurements[0].median
    sdk = measurements[2].median
    lines = ["| consumer | median time | events/s | vs the limit | vs the SDK |", "|---|---|---|---|---|"]
    for m in measurements:
        ratios = f"{limit / m.median:.2f}× | {sdk / m.median:.2f}×"
        lines.append(f"| {m.name} | {m.median:.3f} s | {EVENTS / m.median:,.0f} | {ratios} |")
    return "\n".join(lines)
