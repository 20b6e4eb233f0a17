"""A streamed Puter answer read into events: NDJSON lines, or one JSON body from backends that do not stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, aclosing

import httpx

from ..datatypes import ChatRequest, Finished, ReasoningDelta, StreamEvent, TextDelta, Usage
from ..errors import StreamTruncated
from ..wire.decoders import NDJSONDecoder
from ..wire.sending import attempts_of
from ..wire.transport import Policy, decoded, read_to_end
from . import puter_wire as wire


async def events(
    opened: AbstractAsyncContextManager[httpx.Response], request: ChatRequest, policy: Policy, *, strict_end: bool
) -> AsyncIterator[StreamEvent]:
    """The events of the answer `opened` streams; EOF before the `usage` line is a truncation when `strict_end`."""
    async with opened as response:
        attempts = attempts_of(response)
        if "ndjson" not in response.headers.get("content-type", ""):
            # Some backends answer a stream request with one JSON body (or a v1 error envelope).
            completion = wire.parse_completion(wire.checked(json.loads(await response.aread())), request.model)
            if completion.text:
                yield TextDelta(completion.text)
            for call in completion.tool_calls:
                yield call
            yield Finished(completion.usage, completion.finish_reason, completion.model, attempts)
            return
        texts: list[str] = []
        finished: Finished | None = None
        async with aclosing(decoded(response, NDJSONDecoder(), policy, texts)) as reads:
            async for objects in reads:
                for obj in objects:  # no generator layer inside: this loop runs once per token
                    kind = obj.get("type") if isinstance(obj, dict) else None
                    if kind == "text":
                        text = obj.get("text") or ""
                        texts.append(text)
                        yield TextDelta(text)
                    elif kind == "usage":
                        finished = Finished(wire.parse_usage(obj.get("usage")), "stop", request.model, attempts)
                        break
                    elif kind == "error":
                        raise wire.stream_error(obj, "".join(texts))
                    elif kind == "reasoning":
                        yield ReasoningDelta(str(obj.get("reasoning") or ""))
                    elif kind == "tool_use":
                        yield wire.tool_use(obj)
                    elif kind == "content_block_delta":  # the v1 usage-limited stream's Anthropic-like lines
                        text = str((obj.get("delta") or {}).get("text") or "")
                        texts.append(text)
                        yield TextDelta(text)
                if finished is not None:
                    await read_to_end(reads)
                    yield finished
                    return
        if strict_end:
            raise StreamTruncated("the answer stopped before Puter said it was complete", partial="".join(texts))
        yield Finished(Usage(), None, request.model, attempts)
