"""NDJSON completion streams: pacing, injected stream faults, and noticing when the client goes away."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.faults import Fault, StreamDropped
from puter_magic.testing.records import StreamOutcome, StreamRecord
from puter_magic.wire.jsontext import dumps
from puter_magic.wire.watching import disconnected, unless_client_leaves

NDJSON_CONTENT_TYPE = "application/x-ndjson"
MALFORMED_LINE = b'{"type":"text","text":"this line is not valid JSON\n'
DEFAULT_STREAM_ERROR = "The AI provider failed mid-stream (injected fault)."


def ndjson_line(obj: Any) -> bytes:
    """One line of the stream; a lone surrogate is escaped, as Node's JSON.stringify writes it."""
    return dumps(obj, escape_surrogates=True) + b"\n"


@dataclass(frozen=True)
class StreamPlan:
    """What one stream sends: a text line per chunk, then the ``tail`` lines (the usage line).

    Paced streams (``rate > 0``) write each line as its own HTTP chunk; unpaced ones write text lines in
    batches of up to ``batch`` lines (the ``stream_batch`` setting: a firehose of 50 000 lines would otherwise
    cost 50 000 writes). The tail always gets chunks of its own, so a fake-chat stream is two chunks, as recorded.
    """

    chunks: Sequence[str]
    tail: Sequence[dict[str, Any]]
    rate: float = 0.0  # text lines per second; 0 = as fast as possible
    batch: int = 64  # text lines per HTTP chunk when unpaced
    fault: Fault | None = None
    model: str = ""
    path: str = "/drivers/call"


async def stream_body(state: FakePuter, plan: StreamPlan) -> AsyncIterator[bytes]:
    """The NDJSON lines of ``plan``, recording how the stream ended in ``state``."""
    epoch = state.stream_started()
    loop = asyncio.get_running_loop()
    start = loop.time()
    fault = plan.fault
    fire_at = min(fault.after, len(plan.chunks)) if fault is not None else -1
    sent = 0
    pending: list[bytes] = []  # unpaced text lines not written yet
    outcome: StreamOutcome = "error"
    try:
        for index in range(len(plan.chunks) + 1):
            at_fault = fault is not None and index == fire_at
            if pending and (at_fault or index == len(plan.chunks) or len(pending) >= plan.batch):
                yield b"".join(pending)
                sent += len(pending)
                pending.clear()
                await asyncio.sleep(0)  # a firehose still lets the loop breathe (disconnects, other clients)
            if fault is not None and at_fault:
                if fault.kind == "drop":
                    raise StreamDropped(f"connection dropped after {sent} lines (injected fault)")
                if fault.kind == "error_line":
                    yield ndjson_line({"type": "error", "message": fault.message or DEFAULT_STREAM_ERROR})
                    sent += 1
                if fault.kind in ("error_line", "truncate"):
                    outcome = "completed"
                    return
                if fault.kind == "malformed":
                    yield fault.message.encode() + b"\n" if fault.message else MALFORMED_LINE
                    sent += 1
                if fault.kind == "stall":
                    await asyncio.sleep(fault.seconds)
                    start += fault.seconds
            if index == len(plan.chunks):
                break
            line = ndjson_line({"type": "text", "text": plan.chunks[index]})
            if plan.rate <= 0:
                pending.append(line)
                continue
            delay = start + index / plan.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            yield line
            sent += 1
        for obj in plan.tail:
            yield ndjson_line(obj)
            sent += 1
        outcome = "completed"
    except (asyncio.CancelledError, GeneratorExit):
        outcome = "cancelled"
        raise
    except StreamDropped:
        outcome = "dropped"
        raise
    finally:
        state.stream_ended(epoch, StreamRecord(time.monotonic(), plan.path, plan.model, outcome, sent))


class NDJSONStreamResponse(StreamingResponse):
    """A streaming response that always watches for the client leaving, cancels the body when it does, and
    closes the body generator at once (so its ``finally`` runs now, not when garbage-collected).

    Exceptions from the body (the ``drop`` fault) propagate, so uvicorn aborts the connection."""

    media_type = NDJSON_CONTENT_TYPE

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            streaming = await unless_client_leaves(self.stream_response(send), receive)
        finally:
            aclose = getattr(self.body_iterator, "aclose", None)
            if aclose is not None:
                await aclose()
        if not streaming.cancelled() and (error := streaming.exception()) is not None:
            raise error


async def pause(request: Request, seconds: float) -> bool:
    """Wait ``seconds``, or less if the client disconnects first (then return True)."""
    if seconds <= 0:
        return False
    try:
        await asyncio.wait_for(disconnected(request.receive), seconds)
    except asyncio.TimeoutError:
        return False
    return True
