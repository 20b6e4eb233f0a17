"""One measurement in a fresh process: `python benchmarks/workers.py KIND CASE JSON-ARGS` prints one JSON line.

The driver (run.py and the bench_* modules) starts every case the same way, puter_magic's with the project's
interpreter and the peers' with the peers' venv (.cache/bench-peers), so no case inherits another's warmed-up
process, and cases that need packages the other venv lacks still run side by side. This module imports only the
standard library at the top: each case imports what it measures.

Kinds: `load` (an IPython extension), `puter-stream` (a long NDJSON answer), `roundtrip` (sequential small
requests), `memory` (a Session after many turns) and `trim` (Conversations.messages at several history lengths).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

Args = dict[str, Any]
CASES: dict[tuple[str, str], Callable[[Args], Any]] = {}


def case(kind: str, name: str) -> Callable[[Callable[[Args], Any]], Callable[[Args], Any]]:
    def register(fn: Callable[[Args], Any]) -> Callable[[Args], Any]:
        CASES[kind, name] = fn
        return fn

    return register


def api_headers(args: Args) -> dict[str, str]:
    return {"Host": f"api.puter.localhost:{args['port']}", "Authorization": f"Bearer {args['token']}"}


def puter_settings(args: Args) -> Any:
    from puter_magic.config import Settings

    # No client-side rate limit: the default (30 requests / 10 s) is politeness towards puter.com and would make
    # 1,000 requests take 5 minutes. max_concurrent stays at its default (3); sequential requests never wait on it.
    return Settings(
        api_origin=f"http://api.puter.localhost:{args['port']}",
        gui_origin=f"http://puter.localhost:{args['port']}",
        token=args["token"],
        rate_limit=None,
    )


# --- 1. extension load time ---------------------------------------------------------------------------------


@case("load", "extension")
def load_extension(args: Args) -> Args:
    """A shell like a kernel's (InteractiveShell), then `%load_ext NAME` timed around run_line_magic."""
    start = time.perf_counter()
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    ready = time.perf_counter()
    loaded = None
    if args["extension"]:
        shell.run_line_magic("load_ext", args["extension"])
        loaded = time.perf_counter() - ready
        if args["magic"] not in shell.magics_manager.magics["cell"]:
            raise RuntimeError(f"%load_ext {args['extension']} did not register %%{args['magic']}")
    return {"shell": ready - start, "load": loaded}


# --- 2. Puter streaming -------------------------------------------------------------------------------------


def stream_body(args: Args) -> Args:
    return {
        "interface": "puter-chat-completion",
        "driver": "ai-chat",
        "method": "complete",
        "args": {
            "messages": [{"role": "user", "content": "go"}],
            "model": "slow",
            "stream": True,
            "fake_chunks": args["events"],
        },
    }


async def timed(events: Any) -> Args:
    """Consume an async iterator of text pieces: wall seconds, this process's CPU seconds, seconds to the first
    piece, the count."""
    start, cpu = time.perf_counter(), time.process_time()
    first, count = None, 0
    async for _ in events:
        count += 1
        if first is None:
            first = time.perf_counter() - start
    return {"total": time.perf_counter() - start, "cpu": time.process_time() - cpu, "first": first, "count": count}


async def cold_and_warm(once: Callable[[], Any], warm: int = 3) -> Args:
    """The same stream 1 + `warm` times on one client: the first ("cold") pays the connection and the HTTP stack's
    lazy imports; the warm ones are the steady state."""
    cold = await timed(once())
    return {"cold": cold, "warm": [await timed(once()) for _ in range(warm)]}


@case("puter-stream", "raw-httpx")
async def stream_raw_httpx(args: Args) -> Args:
    import httpx

    async with httpx.AsyncClient(base_url=args["origin"], timeout=60) as client:

        async def once() -> Any:
            request = client.stream("POST", "/drivers/call", json=stream_body(args), headers=api_headers(args))
            async with request as response:
                async for line in response.aiter_lines():
                    if not line:
                        continue
                    obj = json.loads(line)
                    if obj["type"] == "text":
                        yield obj["text"]

        return await cold_and_warm(once)


@case("puter-stream", "puter-magic")
async def stream_puter_magic(args: Args) -> Args:
    from puter_magic.datatypes import ChatRequest, Message, TextDelta
    from puter_magic.providers.puter import PuterProvider

    provider = PuterProvider(puter_settings(args))
    request = ChatRequest((Message("user", "go"),), "slow", extra={"fake_chunks": args["events"]})

    async def once() -> Any:
        async for event in provider.stream(request):
            if isinstance(event, TextDelta):
                yield event.text

    try:
        return await cold_and_warm(once)
    finally:
        await provider.aclose()


@case("puter-stream", "putergenai")
async def stream_putergenai(args: Args) -> Args:
    from putergenai import PuterClient

    # putergenai hard-codes https://api.puter.com as an instance attribute set in __init__ (putergenai.py:74) and
    # builds every URL from it: repointing that one attribute is the whole redirection. It sends the legacy driver
    # name "openai-completion", which the server accepts in permissive mode.
    async with PuterClient(token=args["token"]) as client:  # opens its aiohttp session, as documented
        client.api_base = args["origin"]
        options = {"model": "slow", "stream": True, "fake_chunks": args["events"]}

        async def once() -> Any:
            async for text, _model in await client.ai_chat(prompt="go", options=dict(options)):
                yield text

        return await cold_and_warm(once)


# --- 4. non-streaming round trips ---------------------------------------------------------------------------


def roundtrip_body() -> Args:
    return {
        "interface": "puter-chat-completion",
        "driver": "ai-chat",
        "method": "complete",
        "args": {"messages": [{"role": "user", "content": "ping"}], "model": "echo"},
    }


def check_answer(text: Any) -> None:
    if text != "ping":
        raise RuntimeError(f"unexpected answer {text!r}")


@case("roundtrip", "raw-httpx")
async def roundtrip_raw_httpx(args: Args) -> Args:
    import httpx

    async with httpx.AsyncClient(base_url=args["origin"], timeout=30) as client:
        body, headers = roundtrip_body(), api_headers(args)
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(args["requests"]):
            response = await client.post("/drivers/call", json=body, headers=headers)
            response.raise_for_status()
            check_answer(response.json()["result"]["message"]["content"])
        return {"total": time.perf_counter() - start, "cpu": time.process_time() - cpu}


@case("roundtrip", "puter-magic")
async def roundtrip_puter_magic(args: Args) -> Args:
    from puter_magic.datatypes import ChatRequest, Message
    from puter_magic.providers.puter import PuterProvider

    provider = PuterProvider(puter_settings(args))
    request = ChatRequest((Message("user", "ping"),), "echo")
    try:
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(args["requests"]):
            check_answer((await provider.complete(request)).text)
        return {"total": time.perf_counter() - start, "cpu": time.process_time() - cpu}
    finally:
        await provider.aclose()


def puter_sdk(args: Args) -> Any:
    # puter-python-sdk reads its origins from the environment when `puter.config` is first imported
    # (PUTER_API_BASE, config.py:13); its async throttle (10 requests / 60 s) is lifted the same way.
    os.environ["PUTER_API_BASE"] = args["origin"]
    os.environ["PUTER_RATE_LIMIT_REQUESTS"] = "1000000000"
    from puter import PuterAI

    return PuterAI(token=args["token"])


@case("roundtrip", "puter-sdk")
def roundtrip_puter_sdk(args: Args) -> Args:
    ai = puter_sdk(args)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(args["requests"]):
        check_answer(ai.chat("ping", model="echo"))
        ai.clear_chat_history()  # PuterAI resends its whole history each call; keep the requests alike
    return {"total": time.perf_counter() - start, "cpu": time.process_time() - cpu}


@case("roundtrip", "puter-sdk-async")
async def roundtrip_puter_sdk_async(args: Args) -> Args:
    ai = puter_sdk(args)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(args["requests"]):
        check_answer(await ai.async_chat("ping", model="echo"))
        ai.clear_chat_history()
    return {"total": time.perf_counter() - start, "cpu": time.process_time() - cpu}


# --- 6. memory and history trimming -------------------------------------------------------------------------


def rss_kib() -> tuple[int, int]:
    """(current RSS, peak RSS) of this process in KiB, from /proc/self/status."""
    fields = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def prompt_text(turn: int, length: int) -> str:
    words = f"turn {turn}: " + "lorem ipsum dolor sit amet consectetur adipiscing elit " * (length // 56 + 1)
    return words[:length]


@case("memory", "session")
def memory_session(args: Args) -> Args:
    """A Session (the object %%puter uses) asked `turns` questions through the local server's `echo` model."""
    import gc

    import puter_magic
    from puter_magic.core.sessions import Session

    session = Session(puter_settings(args))
    session.chat(prompt_text(0, args["chars"]), model="echo")  # the client, the loop thread and the pool are up
    session.conversations.clear()
    gc.collect()
    before = rss_kib()
    start = time.perf_counter()
    for turn in range(args["turns"]):
        answer = session.chat(prompt_text(turn, args["chars"]), model="echo")
        if len(answer.text) != args["chars"]:
            raise RuntimeError(f"unexpected answer length {len(answer.text)}")
    elapsed = time.perf_counter() - start
    gc.collect()
    after = rss_kib()
    kept = session.conversations.thread().turns
    text = sum(len(t.prompt) + len(t.answer) for t in kept)
    session.close()
    return {
        "version": puter_magic.__version__,
        "rss_before": before[0],
        "rss_after": after[0],
        "peak": after[1],
        "turns_kept": len(kept),
        "text_chars": text,
        "elapsed": elapsed,
    }


@case("trim", "messages")
def trim_messages(args: Args) -> Args:
    """µs per `Conversations.messages()` call at several history lengths, two budgets."""
    from puter_magic.core.conversation import Conversations, Turn

    results = []
    for turns in args["lengths"]:
        conversations = Conversations()
        for turn in range(turns):
            text = prompt_text(turn, args["chars"])
            conversations.record(Turn(text, text, key=f"cell-{turn}", model="echo", provider="puter"))
        row: Args = {"turns": turns}
        for label, budget in (("trimmed", 8192), ("whole", 10**9)):
            calls = max(20, args["calls"] // turns)
            samples = []
            for _ in range(args["repeats"]):
                start = time.perf_counter()
                for _ in range(calls):
                    messages = conversations.messages("next", key="cell-new", budget=budget)
                samples.append((time.perf_counter() - start) / calls)
            row[label] = statistics.median(samples) * 1e6
            row[f"{label}_sent"] = (len(messages) - 1) // 2
        results.append(row)
    return {"rows": results}


def main() -> int:
    kind, name, raw = sys.argv[1], sys.argv[2], sys.argv[3]
    fn = CASES[kind, name]
    result = fn(json.loads(raw))
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
