"""The proxy's ASGI app: a Session served as an OpenAI-compatible endpoint.

    POST /v1/chat/completions   JSON, or SSE (`data: {...}` lines, then `data: [DONE]`) when `stream` is true
    POST /v1/responses          OpenAI's Responses API, stateless (`responses_endpoint`)
    GET  /v1/models             every model of the session's provider
    GET  /v1/models/{id}        one of them (ids may contain `/` and `:`), 404 `model_not_found` otherwise
    GET  /health                liveness and provider; with the key also upstream reachability and the signed-in user

The `/v1` may be left out, and doubled or trailing slashes do not matter (`TolerantPaths`). What is carried,
accepted or refused of a chat request is listed in `openai_request`.

Every /v1 request needs `Authorization: Bearer <key>`. Request bodies are size-limited. Provider work runs on the
session's loop thread (`LoopThread.run_async` / `aiterate`), never on uvicorn's loop; while it runs, the client's
connection is watched, and a client that leaves cancels the upstream request at once. Every failure, expected or
not, is answered with an OpenAI-shaped error; before a stream's first event it keeps its HTTP status, after it the
error goes out as a `data: {"error": ...}` line (what the openai SDK raises from). `ProxyApp.shut_down()` (Ctrl-C or
SIGTERM to `puter-magic serve`) ends every open answer that way too (`server_shutting_down`), never as a cut body.
Everything sent is encoded by `jsontext`: a lone UTF-16 surrogate cannot make an answer fail.

Structured output (`response_format` json_schema or json_object; `/v1/responses`' `text.format`) goes upstream as
it is where the provider honours it (an OpenAI-compatible server). Puter's models mostly ignore it, so there the
proxy enforces it (core/structured.py): the instruction joins the prompt, the answer is checked, a misfit is asked
again once with what was wrong, and the client gets the JSON that fits as the message content — streamed too, but
only once it has been checked (the answer is held until then) — or a 502 naming `response_format`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Send

from ..core.loop import Stop
from ..core.reply import Reply
from ..core.sessions import Session
from ..core.structured import enforcing
from ..datatypes import ChatRequest, Completion, StreamEvent
from ..providers.base import Provider
from ..redact import redact
from . import openai_format as fmt
from .asgi import (
    JSONAnswer,
    ProxyStats,
    RequireKey,
    Watched,
    crash,
    error_reply,
    error_response,
    http_error,
    key_matches,
    send_event,
    send_json,
    shutting_down,
    stream_answer,
)
from .paths import TolerantPaths
from .responses_endpoint import ResponsesEndpoint

MAX_BODY = 4 * 1024 * 1024
HEALTH_TIMEOUT = 5.0
Endpoint = Callable[[Request], Awaitable[Response]]


class ProxyApp:
    """The endpoints, bound to one Session."""

    def __init__(self, session: Session, *, key: str, max_body: int = MAX_BODY) -> None:
        self.session, self.key, self.max_body = session, key.encode(), max_body
        self.stats = ProxyStats()
        self.closing = False
        self._answering: set[Stop] = set()

    def shut_down(self) -> None:
        """From any thread: every answer in flight ends now with an in-band error (a whole answer: a 503), and
        new requests are refused the same way. The server can then close without cutting a body off."""
        self.closing = True
        for stop in list(self._answering):
            stop.request()

    def _answer_stop(self, stop: Stop | None = None) -> Stop:
        stop = stop if stop is not None else Stop()
        self._answering.add(stop)
        if self.closing:
            stop.request()
        return stop

    def guarded(self, endpoint: Endpoint) -> Endpoint:
        """Whatever `endpoint` raises becomes an OpenAI-shaped error answer."""

        async def run(request: Request) -> Response:
            self.stats.requests += 1
            try:
                return await endpoint(request)
            except Exception as exc:
                return error_response(exc, self.stats)

        return run

    async def _body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        too_large = fmt.InvalidRequest(
            f"the request body is larger than {self.max_body} bytes", code="request_too_large", status=413
        )
        if declared.isdigit() and int(declared) > self.max_body:
            raise too_large
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_body:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    # --- endpoints --------------------------------------------------------------------------------

    async def chat_completions(self, request: Request) -> Response:
        try:
            body = await self._body(request)
        except ClientDisconnect:
            return Response(status_code=499)  # nobody is listening any more
        call = fmt.parse_chat_request(fmt.parse_body(body))
        if self.closing:
            raise shutting_down()
        provider = self.session.provider  # resolved here, where a failure is still answered as JSON
        produce = self._stream(provider, call) if call.stream else self._complete(provider, call)
        return Watched(produce, self.stats)

    def _reply(self, provider: Provider, request: ChatRequest, *, streamed: bool) -> Reply:
        """The Reply to a proxied request (every event, no conversation), its Stop ended by shut_down()."""
        reply = enforcing(request, provider, self.session.loop, streamed=streamed)
        self._answer_stop(reply.stop)
        return reply

    def streamed(
        self, provider: Provider, request: ChatRequest, pump: Callable[..., Awaitable[None]]
    ) -> Callable[[Send], Awaitable[None]]:
        """An answer streamed by either endpoint (asgi.stream_answer), its Stop ended by shut_down():
        `pump(send, first, events, stop=stop)` writes the endpoint's own events."""

        async def produce(send: Send) -> None:
            reply = self._reply(provider, request, streamed=True)
            stop = reply.stop
            try:
                await stream_answer(send, reply.__aiter__(), stop, self.stats, functools.partial(pump, send, stop=stop))
            finally:
                self._answering.discard(stop)

        return produce

    def _complete(self, provider: Provider, call: fmt.ChatCall) -> Callable[[Send], Awaitable[None]]:
        async def produce(send: Send) -> None:
            reply = self._reply(provider, call.request, streamed=False)
            try:  # a client that leaves cancels this (CancelledError goes up, as it must)
                await reply
                if reply.interrupted:  # ended by shut_down()
                    raise shutting_down()
                completion = Completion(
                    reply.text(), reply.model, reply.usage, reply.finish_reason, reply.reasoning, reply.tool_calls
                )
                answer = fmt.completion_object(completion, call.request, created=int(time.time()))
            except Exception as exc:
                failed = error_reply(exc, self.stats)
                await send_json(send, failed.status, failed.body, failed.headers)
                return
            finally:
                self._answering.discard(reply.stop)
            self.stats.completions += 1
            await send_json(send, 200, answer)

        return produce

    def _stream(self, provider: Provider, call: fmt.ChatCall) -> Callable[[Send], Awaitable[None]]:
        return self.streamed(provider, call.request, functools.partial(self._pump, call))

    async def _pump(
        self,
        call: fmt.ChatCall,
        send: Send,
        first: StreamEvent | None,
        events: AsyncIterator[StreamEvent],
        stop: Stop,
    ) -> None:
        writer = fmt.ChunkWriter(call.request, int(time.time()), call.include_usage)
        await send_event(send, writer.start())
        try:
            event = first
            while event is not None:
                for chunk in writer.feed(event):
                    await send_event(send, chunk)
                event = await anext(events, None)
            if stop.requested and not writer.finished:  # ended by shut_down(), not by the answer
                raise shutting_down()
            for chunk in writer.finish():  # nothing when a Finished event came
                await send_event(send, chunk)
        except Exception as exc:  # after the first event: an in-band error line, the way OpenAI sends them
            await send_event(send, error_reply(exc, self.stats).body)
            return
        self.stats.completions += 1
        await send_event(send, b"[DONE]")

    async def models(self, request: Request) -> Response:
        return JSONAnswer(fmt.model_list(await self._models(), self.session.provider.name))

    async def model(self, request: Request) -> Response:
        wanted = request.path_params["model_id"]
        for info in await self._models():
            if info.matches(wanted):
                return JSONAnswer(fmt.model_object(info, self.session.provider.name))
        missing = fmt.InvalidRequest(
            f"the model {wanted!r} does not exist", param="model", code="model_not_found", status=404
        )
        return error_response(missing, self.stats)

    async def _models(self) -> list[Any]:
        known = self.session.known_models()
        if known is not None:
            return known
        provider = self.session.provider
        return list(await self.session.loop.run_async(provider.models()))

    async def health(self, request: Request) -> Response:
        """Liveness for anyone; with the key, also a look upstream (reachable, signed in, who)."""
        provider = self.session.provider
        data: dict[str, Any] = {"status": "ok", "provider": provider.name, "streams_open": self.stats.streams_open}
        if not key_matches(request.scope, self.key):
            return JSONAnswer(data)
        data["origin"] = provider.origin
        try:
            status = await asyncio.wait_for(self.session.loop.run_async(provider.status()), HEALTH_TIMEOUT)
        except Exception as exc:
            slow = isinstance(exc, asyncio.TimeoutError)
            error = "the provider did not answer in time" if slow else error_reply(exc).body["error"]["message"]
            return JSONAnswer(data | {"status": "degraded", "reachable": False, "error": error})
        data |= {"reachable": status.reachable, "user": status.user.username if status.user else None}
        if not status.reachable or status.user is None:
            data["status"] = "degraded"
        if status.error:
            data["error"] = redact(status.error)
        return JSONAnswer(data)


def build_app(session: Session, *, key: str, allow_origins: Sequence[str] = (), max_body: int = MAX_BODY) -> Starlette:
    """The proxy for `session`; `app.state.proxy` holds the ProxyApp (and its stats)."""
    if not key:
        raise ValueError("the proxy needs a key")
    proxy = ProxyApp(session, key=key, max_body=max_body)
    routes = [
        Route("/v1/chat/completions", proxy.guarded(proxy.chat_completions), methods=["POST"]),
        Route("/v1/responses", proxy.guarded(ResponsesEndpoint(proxy)), methods=["POST"]),
        Route("/v1/models", proxy.guarded(proxy.models), methods=["GET"]),
        Route("/v1/models/{model_id:path}", proxy.guarded(proxy.model), methods=["GET"]),
        Route("/health", proxy.guarded(proxy.health), methods=["GET"]),
    ]
    middleware = []
    if allow_origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(allow_origins),
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                max_age=600,
            )
        )
    middleware.append(Middleware(RequireKey, key=key))
    middleware.insert(0, Middleware(TolerantPaths))  # outermost: the key check sees the path the routes will
    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers={HTTPException: http_error, Exception: crash}
    )
    app.state.proxy = proxy
    return app
