"""The proxy's ASGI plumbing, beneath the endpoints of `app`: error answers (counted, logged, redacted), the
bearer-key middleware, the response that cancels its work when the client leaves, and the raw ASGI sends."""

from __future__ import annotations

import hmac
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..core.loop import Stop
from ..datatypes import StreamEvent
from ..redact import logger, redact
from ..wire import jsontext
from ..wire.watching import unless_client_leaves
from . import openai_format as fmt

SHUTTING_DOWN = "the proxy is shutting down; send the request again once it is back"


@dataclass
class ProxyStats:
    """What the proxy has served; changed only on uvicorn's loop, read from anywhere."""

    requests: int = 0
    completions: int = 0
    streams_open: int = 0
    cancelled: int = 0
    errors: int = 0


def error_reply(exc: BaseException, stats: ProxyStats | None = None) -> fmt.ErrorReply:
    """The OpenAI-shaped answer for `exc`, counted and logged (secrets scrubbed)."""
    reply = fmt.error_reply(exc, redact)
    if stats is not None:
        stats.errors += 1
    if reply.status >= 500 and reply.body["error"]["code"] != "server_shutting_down":  # that one is expected
        logger.warning("proxy answered %s: %s", reply.status, reply.body["error"]["message"])
    return reply


class JSONAnswer(JSONResponse):
    """Starlette's JSONResponse, encoded so that nothing can make it fail (lone surrogates become U+FFFD)."""

    def render(self, content: Any) -> bytes:
        return jsontext.dumps(content)


def error_response(exc: BaseException, stats: ProxyStats | None = None) -> JSONResponse:
    reply = error_reply(exc, stats)
    return JSONAnswer(reply.body, reply.status, headers=reply.headers)


def key_matches(scope: Scope, key: bytes) -> bool:
    """Constant-time check of `Authorization: Bearer <key>`."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), key)
    return False


class RequireKey:
    """ASGI middleware: /v1 requests without the right bearer key get a 401, before any routing."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app, self.key = app, key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == "/v1" or path.startswith("/v1/")) and not key_matches(scope, self.key):
            refused = fmt.InvalidRequest(
                "missing or incorrect API key for this proxy", code="invalid_api_key", status=401
            )
            await error_response(refused)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class Watched(Response):
    """Runs `produce(send)` while watching the client; a client that leaves cancels it (and its upstream)."""

    def __init__(self, produce: Callable[[Send], Awaitable[None]], stats: ProxyStats) -> None:
        self.produce, self.stats = produce, stats
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        work = await unless_client_leaves(self.produce(send), receive)
        if work.cancelled():
            self.stats.cancelled += 1
        elif work.exception() is not None:  # produce() answers its own errors; this is a bug, not a crash
            logger.error("proxy: unexpected %s while answering", type(work.exception()).__name__)


async def send_json(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    response = JSONAnswer(body, status, headers=headers)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


async def send_event(send: Send, data: Any) -> None:
    payload = data if isinstance(data, bytes) else jsontext.dumps(data)
    await send({"type": "http.response.body", "body": b"data: " + payload + b"\n\n", "more_body": True})


SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]


def shutting_down() -> fmt.InvalidRequest:
    return fmt.InvalidRequest(SHUTTING_DOWN, code="server_shutting_down", status=503, kind="server_error")


async def stream_answer(
    send: Send,
    source: AsyncGenerator[StreamEvent, None],
    stop: Stop,
    stats: ProxyStats,
    pump: Callable[[StreamEvent | None, AsyncIterator[StreamEvent]], Awaitable[None]],
) -> None:
    """An answer as server-sent events, for both endpoints: an error before the first event keeps its HTTP status;
    after it, `pump(first, events)` writes the endpoint's events. Closing `source` cancels its producer on the loop
    thread."""
    async with aclosing(source) as events:
        try:
            first: StreamEvent | None = await anext(events, None)
            if stop.requested:
                raise shutting_down()
        except Exception as exc:
            failed = error_reply(exc, stats)
            await send_json(send, failed.status, failed.body, failed.headers)
            return
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        stats.streams_open += 1
        try:
            await pump(first, events)
        finally:
            stats.streams_open -= 1
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "no such route", 405: "method not allowed"}.get(status, "the request failed")
    response = error_response(fmt.InvalidRequest(message, status=status))
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)
    return response


async def crash(request: Request, exc: Exception) -> Response:
    return error_response(exc)
