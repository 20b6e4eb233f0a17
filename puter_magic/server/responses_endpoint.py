"""`POST /v1/responses`: OpenAI's Responses API over the session, stateless (see `responses_request` for what is
carried, accepted or refused, and `responses_format` for the answers and the streamed events).

The plumbing is the chat endpoint's (`app.ProxyApp`): work on the session's loop thread, the client watched (one
that leaves cancels the upstream request), errors before the first event keep their HTTP status, and Ctrl-C on
`puter-magic serve` ends an open answer as a failed response. Events are sent as `event: <type>` / `data: {...}`.
Each answer is a Reply (core/structured.py's `enforcing`): `text.format` json_schema / json_object is enforced
locally where the provider does not honour it, as on the chat endpoint.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Send

from ..core.loop import Stop
from ..core.sessions import Session
from ..core.structured import enforcing
from ..datatypes import ChatRequest, Completion, StreamEvent
from ..providers.base import Provider
from ..wire import jsontext
from . import openai_format as fmt
from .asgi import ProxyStats, Watched, error_reply, send_json, shutting_down
from .responses_format import ResponseEventWriter, response_object
from .responses_request import ResponsesCall, parse_responses_request


class Host(Protocol):
    """What the endpoint needs of the ProxyApp it is mounted on."""

    session: Session
    stats: ProxyStats
    closing: bool
    _answering: set[Stop]

    def _answer_stop(self) -> Stop: ...

    def streamed(
        self, provider: Provider, request: ChatRequest, pump: Callable[..., Awaitable[None]]
    ) -> Callable[[Send], Awaitable[None]]: ...

    async def _body(self, request: Request) -> bytes: ...


class ResponsesEndpoint:
    def __init__(self, host: Host) -> None:
        self.host = host

    async def __call__(self, request: Request) -> Response:
        try:
            body = await self.host._body(request)
        except ClientDisconnect:
            return Response(status_code=499)  # nobody is listening any more
        call = parse_responses_request(fmt.parse_body(body))
        if self.host.closing:
            raise shutting_down()
        provider = self.host.session.provider  # resolved here, where a failure is still answered as JSON
        produce = self._stream(provider, call) if call.stream else self._complete(provider, call)
        return Watched(produce, self.host.stats)

    def _complete(self, provider: Provider, call: ResponsesCall) -> Callable[[Send], Awaitable[None]]:
        host = self.host

        async def produce(send: Send) -> None:
            stop = host._answer_stop()
            answering = enforcing(call.request, provider, host.session.loop, streamed=False)
            stop.on_request(answering.stop.request)
            try:
                done = await answering
                if stop.requested:
                    raise shutting_down()
                completion = Completion(
                    done.text(), done.model, done.usage, done.finish_reason, done.reasoning, done.tool_calls
                )
                answer = response_object(completion, call, created_at=int(time.time()))
            except (Exception, asyncio.CancelledError) as exc:
                if isinstance(exc, asyncio.CancelledError) and not stop.requested:
                    raise  # the client left
                reply = error_reply(shutting_down() if stop.requested else exc, host.stats)
                await send_json(send, reply.status, reply.body, reply.headers)
                return
            finally:
                host._answering.discard(stop)
            host.stats.completions += 1
            await send_json(send, 200, answer)

        return produce

    def _stream(self, provider: Provider, call: ResponsesCall) -> Callable[[Send], Awaitable[None]]:
        return self.host.streamed(provider, call.request, functools.partial(self._pump, call))

    async def _pump(
        self, call: ResponsesCall, send: Send, first: StreamEvent | None, events: AsyncIterator[StreamEvent], stop: Stop
    ) -> None:
        writer = ResponseEventWriter(call, int(time.time()))
        await send_events(send, writer.start())
        try:
            event = first
            while event is not None:
                await send_events(send, writer.feed(event))
                event = await anext(events, None)
            if stop.requested and not writer.finished:  # ended by shut_down(), not by the answer
                raise shutting_down()
            await send_events(send, writer.finish())  # nothing when a Finished event came
        except Exception as exc:  # after the first event: an error event, then response.failed
            await send_events(send, writer.fail(error_reply(exc, self.host.stats).body["error"]))
            return
        self.host.stats.completions += 1


async def send_events(send: Send, events: list[dict[str, Any]]) -> None:
    for event in events:
        frame = b"event: " + event["type"].encode() + b"\ndata: " + jsontext.dumps(event) + b"\n\n"
        await send({"type": "http.response.body", "body": frame, "more_body": True})
