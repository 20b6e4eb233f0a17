"""The Starlette application of the local Puter server: routes by host, faults first, traffic observed."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from puter_magic.testing import ai_drivers, auth_routes, driver_routes, gui_host
from puter_magic.testing.control_routes import CONTROL_PREFIX, CONTROL_ROUTES, check_control_caller, is_control_path
from puter_magic.testing.encoding import Compression
from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.faults import STATUS_FAULT_KINDS
from puter_magic.testing.gates import AUTHENTICATED_USER, HostKind, host_kind
from puter_magic.testing.records import RecordedRequest
from puter_magic.testing.responses import ApiError

Handler = Callable[[Request, FakePuter], Awaitable[Response]]
API_ROUTE = "puter_magic.api_route"  # the scope key marking a request an API-host route answered

API_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("/whoami", "GET", auth_routes.whoami),
    ("/metering/usage", "GET", auth_routes.metering_usage),
    ("/metering/allCosts", "GET", auth_routes.metering_all_costs),
    ("/drivers/call", "POST", driver_routes.drivers_call),
    ("/drivers/list-interfaces", "GET", driver_routes.list_interfaces),
    ("/puterai/chat/models", "GET", driver_routes.chat_models),
    ("/puterai/chat/models/details", "GET", driver_routes.chat_models_details),
    ("/puterai/image/models", "GET", ai_drivers.image_models),
    ("/puterai/image/models/details", "GET", ai_drivers.image_models_details),
    ("/puterai/video/models", "GET", ai_drivers.video_models),
    ("/puterai/video/models/details", "GET", ai_drivers.video_models_details),
)
GUI_ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("/login", "POST", auth_routes.login),
    ("/login/otp", "POST", auth_routes.login_otp),
    ("/signup", "POST", auth_routes.signup),
    ("/get-anticsrf-token", "GET", auth_routes.get_anticsrf_token),
    ("/logout", "POST", auth_routes.logout),
    ("/", "GET", gui_host.page),
)


def _endpoint(state: FakePuter, handler: Handler, host: HostKind | None) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler: wrong host → 404 (when routing by host), then injected status faults, then the handler."""

    async def endpoint(request: Request) -> Response:
        if host is not None:
            if state.settings.host_routing and host_kind(request) != host:
                return gui_host.unmatched(state, request)
            fault = state.faults.take(request.url.path, STATUS_FAULT_KINDS)
            if fault is not None:
                message, code = fault.error_text()
                return ApiError(fault.status, message, code, headers=fault.headers()).response()
        if host == "api":
            request.scope[API_ROUTE] = True
        try:
            if host is None:
                check_control_caller(state, request)
            return await handler(request, state)
        except ApiError as error:
            return error.response()

    return endpoint


async def _not_found(request: Request, exc: Exception) -> Response:
    # also for 405: Express answers an unknown method on a known path with 404
    return gui_host.unmatched(request.app.state.puter, request)


async def _internal_error(request: Request, exc: Exception) -> Response:
    return ApiError(500, "Internal Server Error", "internal_error").response()


def build_app(state: FakePuter | None = None) -> Starlette:
    """The ASGI app for ``state`` (a fresh :class:`FakePuter` if omitted), reachable as ``app.state.puter``."""
    state = FakePuter() if state is None else state
    routes = [Route(path, _endpoint(state, handler, "api"), methods=[method]) for path, method, handler in API_ROUTES]
    routes += [Route(path, _endpoint(state, handler, "gui"), methods=[method]) for path, method, handler in GUI_ROUTES]
    routes += [
        Route(CONTROL_PREFIX + path, _endpoint(state, handler, None), methods=[method])
        for path, method, handler in CONTROL_ROUTES
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(TrafficObserver, state=state),
            Middleware(Compression),
            Middleware(EgressMeter, state=state),
        ],
        exception_handlers={404: _not_found, 405: _not_found, Exception: _internal_error},
    )
    app.state.puter = state
    return app


class _HttpMiddleware:
    """An ASGI middleware that sees the server's state; anything but an HTTP request passes straight through."""

    def __init__(self, app: ASGIApp, state: FakePuter) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class TrafficObserver(_HttpMiddleware):
    """ASGI middleware: logs each request (but not control requests), counts requests in flight until their
    response ends (streams included), and answers CORS the way Puter's API does for browsers (but not on
    control requests)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if is_control_path(scope["path"]):
            await self.app(scope, receive, send)  # no CORS: web pages are no clients of the control API
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is not None:
            send = _with_cors(send, origin)
            if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                await _preflight(headers)(scope, receive, send)
                return
        body = await _read_body(receive)
        if body is None:
            return  # the client left before sending its body
        self.state.request_started(_record(scope, headers, body))
        try:
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.state.request_finished()


class EgressMeter(_HttpMiddleware):
    """ASGI middleware: the body bytes of an authenticated API-host response (as the handler wrote them, before
    compression, streams included) go to its user's egress buffer when the response ends (metering.py)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        size, metered = 0, False

        def meter() -> None:  # once: before the last body message, so a client never sees an answer unmetered
            nonlocal metered
            user = scope.get(AUTHENTICATED_USER)
            if not metered and user is not None and scope.get(API_ROUTE):
                self.state.add_egress(user, size)
            metered = True

        async def counting_send(message: Message) -> None:
            nonlocal size
            if message["type"] == "http.response.body":
                size += len(message.get("body", b""))
                if not message.get("more_body", False):
                    meter()
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            meter()  # a response cut short is metered for what it sent


def _record(scope: Scope, headers: Headers, body: bytes) -> RecordedRequest:
    try:
        parsed: Any = json.loads(body) if body.strip() else None
    except ValueError:
        parsed = None
    return RecordedRequest(
        time=time.monotonic(),
        method=scope["method"],
        path=scope["path"],
        query=scope["query_string"].decode("latin-1"),
        host=headers.get("host"),
        authorization=headers.get("authorization"),
        body=parsed,
        body_text=body.decode("utf-8", "replace"),
    )


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out the already-read body once, then defers to the real one (disconnects)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _with_cors(send: Send, origin: str) -> Send:
    async def send_with_cors(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            headers["access-control-allow-origin"] = origin
            headers["access-control-allow-credentials"] = "true"
            headers.add_vary_header("Origin")
        await send(message)

    return send_with_cors


def _preflight(headers: Headers) -> Response:
    allow = {
        "access-control-allow-methods": "GET, HEAD, POST, PUT, PATCH, DELETE",
        "access-control-allow-headers": headers.get("access-control-request-headers", "*"),
        "access-control-max-age": "600",
    }
    return Response(status_code=204, headers=allow)
