"""The wire: one httpx.AsyncClient per provider, retries, pacing, logging, and errors translated once.

`open_response()` is the only way a provider talks to a server. It waits for a rate-limiter slot, sends,
retries only where it is safe (429, and connection failures before any byte of an answer), turns every
httpx exception and every error status into a PuterError, and hands back a streaming response whose body
reads use the between-chunks timeout rather than the first-byte one.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from contextlib import AsyncExitStack, aclosing, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx

from .. import __version__
from ..errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    ConnectionFailed,
    InputError,
    InsufficientFunds,
    LoginFailed,
    ModelNotFound,
    NotFound,
    NotLoggedIn,
    PermissionDenied,
    PuterError,
    RateLimited,
    ReauthRequired,
    Redirected,
    ServerError,
    StreamError,
    StreamTimeout,
    StreamTruncated,
    Timeout,
    TokenRejected,
    TransportError,
    VerificationRequired,
)
from ..redact import logger, redact, redact_headers
from . import jsontext
from .limits import Backoff, RateLimiter, parse_retry_after

USER_AGENT = f"puter-magic/{__version__}"


@dataclass(frozen=True)
class Policy:
    """How one provider's requests are paced, timed and retried."""

    connect_timeout: float = 10.0
    first_byte_timeout: float = 180.0
    idle_timeout: float = 60.0
    max_retries: int = 3
    backoff: Backoff = field(default_factory=Backoff)
    limiter: RateLimiter | None = None

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout,
            read=self.first_byte_timeout,
            write=max(self.connect_timeout, 30.0),
            pool=self.first_byte_timeout,
        )


class LoopbackTransport(httpx.AsyncBaseTransport):
    """Connects names under `.localhost` to 127.0.0.1 (RFC 6761) and keeps their Host header.

    Self-hosted Puter routes by subdomain (`api.puter.localhost`), which many system resolvers do not
    resolve; browsers and curl map such names to loopback themselves, and so do we.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if is_localhost_subdomain(request.url.host):
            # A copy goes to the socket, so the caller's request (and every message naming it) keeps its name;
            # the copy shares the extensions, so the timeout set after the headers still applies.
            request = httpx.Request(
                request.method,
                request.url.copy_with(host="127.0.0.1"),
                headers=request.headers,
                stream=request.stream,
                extensions=request.extensions,
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def is_localhost_subdomain(host: str) -> bool:
    return host.lower().endswith(".localhost")


def make_client(
    policy: Policy,
    *,
    origins: tuple[str, ...] = (),
    transport: httpx.AsyncBaseTransport | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.AsyncClient:
    """An AsyncClient for one provider. Environment proxies apply unless a transport is given."""
    if transport is None and any(is_localhost_subdomain(httpx.URL(o).host) for o in origins):
        transport = httpx.AsyncHTTPTransport()
    if transport is not None:
        transport = LoopbackTransport(transport)
    return httpx.AsyncClient(
        transport=transport,
        timeout=policy.timeout(),
        headers={"User-Agent": USER_AGENT, **(headers or {})},
        follow_redirects=False,
        event_hooks={"request": [_log_request], "response": [_log_response]},
    )


async def _log_request(request: httpx.Request) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("→ %s %s %s", request.method, request.url, redact_headers(request.headers))


async def _log_response(response: httpx.Response) -> None:
    if logger.isEnabledFor(logging.DEBUG):
        request = response.request
        headers = redact_headers(response.headers)
        logger.debug("← %s %s %s %s", response.status_code, request.method, request.url, headers)


@contextmanager
def transport_errors(request: httpx.Request, policy: Policy) -> Iterator[None]:
    """Translate httpx's transport exceptions into PuterErrors, once."""
    origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
    try:
        yield
    except httpx.ConnectTimeout:
        raise Timeout(f"connecting to {origin} timed out after {policy.connect_timeout:g} s", phase="connect") from None
    except httpx.ReadTimeout:
        raise Timeout(f"{origin} sent nothing for {policy.first_byte_timeout:g} s", phase="first_byte") from None
    except httpx.TimeoutException as exc:
        raise Timeout(f"request to {origin} timed out ({type(exc).__name__})", phase="other") from None
    except httpx.ConnectError as exc:
        reason = redact(str(exc)) or "connection refused"
        raise ConnectionFailed(f"cannot connect to {origin}: {reason}") from None
    except httpx.TransportError as exc:
        reason = redact(str(exc)) or type(exc).__name__
        # A kept-alive connection the server had already closed (llama-server and transformers serve close
        # without saying so): nothing was answered, and a fresh connection is worth trying at once.
        stale = isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError))
        raise ConnectionFailed(f"the connection to {origin} failed: {reason}", stale=stale) from None


def body_error(exc: httpx.HTTPError, request: httpx.Request, policy: Policy, partial: str) -> PuterError:
    """Translate an httpx exception raised while reading a streamed body; `partial` is what arrived."""
    origin = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
    if isinstance(exc, httpx.ReadTimeout):
        return StreamTimeout(
            f"{origin} went silent for {policy.idle_timeout:g} s in the middle of the answer", partial=partial
        )
    reason = redact(str(exc)) or type(exc).__name__
    return StreamTruncated(
        f"the connection to {origin} broke before the answer was complete ({reason})", partial=partial
    )


async def decoded(
    response: httpx.Response, decoder: Any, policy: Policy, texts: list[str]
) -> AsyncGenerator[list[Any], None]:
    """What `decoder` makes of a streamed body, one network read at a time, then its flush at the end.

    `texts` is the answer received so far (the caller appends to it): a broken connection, silence or an
    undecodable line becomes a StreamError that keeps it as `partial`.
    """
    try:
        # Closed with this generator: left to the garbage collector, httpx's generator could be finalized as the
        # loop shuts down ("Task was destroyed but it is pending!" on stderr at exit).
        async with aclosing(cast(AsyncGenerator[bytes, None], response.aiter_bytes())) as chunks:
            async for chunk in chunks:
                items = decoder.decode(chunk)
                if items:
                    yield items
        tail = decoder.flush()
    except httpx.HTTPError as exc:
        raise body_error(exc, response.request, policy, "".join(texts)) from None
    except StreamError as exc:
        exc.partial = "".join(texts)
        raise
    if tail:
        yield tail


def _retryable(error: PuterError) -> bool:
    """Connection failures and connect timeouts happen before any byte of an answer: safe to retry."""
    if isinstance(error, Timeout):
        return error.phase == "connect"
    return isinstance(error, TransportError)


ErrorBuilder = Callable[[httpx.Response, bytes], PuterError]

_attempts: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("puter_magic_attempts", default=None)


@contextmanager
def counting_attempts() -> Iterator[list[int]]:
    """Count the attempts (the first and each retry) of the requests sent inside, in this context only."""
    counter = [0]
    token = _attempts.set(counter)
    try:
        yield counter
    finally:
        _attempts.reset(token)


def request_body(value: Any) -> bytes:
    """The JSON bytes of a request: UTF-8 with lone surrogates replaced (`jsontext`); NaN or an infinity is
    refused here, before anything is sent, as an InputError."""
    try:
        return jsontext.dumps(value)
    except jsontext.NotJSON as exc:
        raise InputError(str(exc), hint="use finite numbers") from None


@asynccontextmanager
async def open_response(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    policy: Policy,
    error_for: ErrorBuilder,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[httpx.Response]:
    """Send with pacing and safe retries; yield a successful streaming response, closed on exit."""
    content = request_body(json_body) if json_body is not None else None
    send_headers = {"Content-Type": "application/json", **(headers or {})} if content else dict(headers or {})
    attempt = 0
    while True:
        async with AsyncExitStack() as stack:
            if policy.limiter is not None:
                await stack.enter_async_context(policy.limiter.slot())
            request = client.build_request(method, url, content=content, headers=send_headers, timeout=policy.timeout())
            counter = _attempts.get()
            if counter is not None:
                counter[0] += 1
            try:
                with transport_errors(request, policy):
                    response = await client.send(request, stream=True)
            except PuterError as error:
                delay = policy.backoff.delay(attempt) if _retryable(error) else None
                if delay is not None and attempt == 0 and isinstance(error, ConnectionFailed) and error.stale:
                    delay = 0.0
                if delay is None or attempt >= policy.max_retries:
                    raise
                logger.info("retrying %s %s in %.2f s: %s", method, url, delay, error.message)
            else:
                stack.push_async_callback(response.aclose)
                if 300 <= response.status_code < 400:
                    # Never followed: credentials must not travel to wherever the redirect points.
                    target = redact(response.headers.get("location", "another address"))
                    raise Redirected(f"{request.url} redirects to {target}", location=target)
                if response.status_code < 400:
                    # The body's reads wait at most idle_timeout between chunks (httpcore reads this
                    # extension when body iteration starts).
                    response.request.extensions["timeout"]["read"] = policy.idle_timeout
                    yield response
                    return
                body = await _read_error_body(response, policy)
                failure = error_for(response, body)
                delay = None
                if isinstance(failure, RateLimited):
                    delay = policy.backoff.delay(attempt, failure.retry_after)
                if delay is None or attempt >= policy.max_retries:
                    raise failure
                logger.info("rate limited on %s %s; retrying in %.2f s", method, url, delay)
        attempt += 1
        await asyncio.sleep(delay)


async def _read_error_body(response: httpx.Response, policy: Policy) -> bytes:
    with transport_errors(response.request, policy):
        return await response.aread()


# --- status → error, once ------------------------------------------------------------------------

_BY_CODE: dict[str, type[APIError]] = {
    "token_missing": NotLoggedIn,
    "token_auth_failed": TokenRejected,
    "reauth_required": ReauthRequired,
    "password_mismatch": LoginFailed,
    "password_required": LoginFailed,
    "insufficient_funds": InsufficientFunds,
    "usage_limited": InsufficientFunds,
    "subscription_required": InsufficientFunds,
    "insufficient_quota": InsufficientFunds,
    "too_many_requests": RateLimited,
    "rate_limit_exceeded": RateLimited,
    "upstream_rate_limited": RateLimited,
    "email_confirmation_required": VerificationRequired,
    "email_must_be_confirmed": VerificationRequired,
    "phone_verification_required": VerificationRequired,
    "card_verification_required": VerificationRequired,
    "model_not_found": ModelNotFound,
    "forbidden": PermissionDenied,
    "permission_denied": PermissionDenied,
    "account_suspended": PermissionDenied,
    "app_or_api_token_required": PermissionDenied,
    "internal_error": ServerError,
    "upstream_auth_failed": ServerError,
    "upstream_provider_unavailable": ServerError,
    "upstream_failed": ServerError,
    "ai_chat_all_providers_failed": ServerError,
    "no_implementation_available": ServerError,
}


def _class_for_status(status: int) -> type[APIError]:
    if status == 401:
        return AuthenticationError
    if status == 402:
        return InsufficientFunds
    if status == 403:
        return PermissionDenied
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return BadRequest if status >= 400 else APIError


def status_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    body: Mapping[str, Any] | str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """The one place where an HTTP status and an error code become an exception class."""
    cls = _BY_CODE.get(code or "") or _class_for_status(status)
    message = redact(message) or f"HTTP {status}"
    if cls is RateLimited:
        return RateLimited(message, retry_after=retry_after, status_code=status, code=code, body=body)
    return cls(message, status_code=status, code=code, body=body)


def retry_after_of(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("retry-after"))


def json_or_text(body: bytes) -> Mapping[str, Any] | str:
    """An error body: parsed JSON when it is a JSON object, else the text (redacted, then trimmed)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return redact(body.decode("utf-8", "replace").strip())[:500]
    return data if isinstance(data, dict) else redact(str(data))[:500]
