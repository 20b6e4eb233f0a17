"""Sending one request: a chain of steps, each doing one job and calling the next.

    open_response()              the request's JSON bytes and headers, then
      Send.retrying()            sends again while `retry_delay()` allows, and says how many attempts it took
      Send.in_a_slot()           holds a limiter slot for the attempt and the body's reads
      Send.idle_between_chunks() once the headers are in, the body's reads wait `idle_timeout`, not the first byte's
      Send.refusing_redirects()  a redirect is an error, never followed: credentials must not travel
      Send.raising_for_status()  an error status's body is read and the provider's ErrorMapper names the error
      Send.once()                one request: sent with the first-byte timeout, httpx's exceptions translated

Each step is an async context manager around the open streaming response, which closes when the caller's
`async with` ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import httpx

from ..errors import ConnectionFailed, InputError, PuterError, RateLimited, Redirected, Timeout, TransportError
from ..redact import logger, redact
from . import jsontext
from .limits import parse_retry_after
from .statuses import ErrorMapper, json_or_text
from .transport import Policy, transport_errors

_ATTEMPTS = "puter_magic.attempts"  # the response extension `retrying` writes


@asynccontextmanager
async def open_response(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    policy: Policy,
    error_for: ErrorMapper,
    json_body: Any = None,
    headers: Mapping[str, str] | None = None,
) -> AsyncIterator[httpx.Response]:
    """Send with pacing and safe retries; yield a successful streaming response, closed on exit.

    `attempts_of(response)` says how many times the request was sent; a PuterError raised by the sending, or
    inside the `async with`, carries that number as `attempts`.
    """
    content = request_body(json_body) if json_body is not None else None
    send_headers = {"Content-Type": "application/json", **(headers or {})} if content else dict(headers or {})
    async with Send(client, method, url, content, send_headers, policy, error_for).retrying() as response:
        yield response


def attempts_of(response: httpx.Response) -> int:
    """How many times the request behind `response` was sent (the first time and each retry)."""
    return int(response.extensions.get(_ATTEMPTS, 1))


def request_body(value: Any) -> bytes:
    """The JSON bytes of a request: UTF-8 with lone surrogates replaced (`jsontext`); NaN or an infinity is
    refused here, before anything is sent, as an InputError."""
    try:
        return jsontext.dumps(value)
    except jsontext.NotJSON as exc:
        raise InputError(str(exc), hint="use finite numbers") from None


def retry_delay(error: PuterError, attempt: int, policy: Policy) -> float | None:
    """Seconds to wait before sending again after `error` ended attempt `attempt` (0: the first), or None.

    Sent again only when it cannot have reached the model: a 429 (after its Retry-After, or backoff), a connection
    failure or a connect timeout. A kept-alive connection the server had already closed is retried at once.
    """
    if attempt >= policy.max_retries:
        return None
    if isinstance(error, RateLimited):
        return policy.backoff.delay(attempt, error.retry_after)
    if isinstance(error, ConnectionFailed) and error.stale and attempt == 0:
        return 0.0
    if isinstance(error, Timeout):
        return policy.backoff.delay(attempt) if error.phase == "connect" else None
    return policy.backoff.delay(attempt) if isinstance(error, TransportError) else None


def retry_after_of(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("retry-after"))


class _Answered(Exception):
    """An error met after the server began to answer: never a reason to send again."""

    def __init__(self, error: PuterError) -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True, slots=True)
class Send:
    """One request and how to send it; each method below is one step of the chain and calls the next."""

    client: httpx.AsyncClient
    method: str
    url: str
    content: bytes | None
    headers: Mapping[str, str]
    policy: Policy
    error_for: ErrorMapper

    @asynccontextmanager
    async def retrying(self) -> AsyncIterator[httpx.Response]:
        """Sends again while `retry_delay` allows; the number of attempts goes on the response, or the error."""
        attempt = 0
        while True:
            async with AsyncExitStack() as stack:
                try:
                    response = await stack.enter_async_context(self.in_a_slot())
                except _Answered as answered:
                    answered.error.attempts = attempt + 1
                    raise answered.error from None
                except PuterError as error:
                    delay = retry_delay(error, attempt, self.policy)
                    if delay is None:
                        error.attempts = attempt + 1
                        raise
                    logger.info("retrying %s %s in %.2f s: %s", self.method, self.url, delay, error.message)
                else:
                    response.extensions[_ATTEMPTS] = attempt + 1
                    try:
                        yield response
                    except PuterError as error:
                        if error.attempts is None:
                            error.attempts = attempt + 1
                        raise
                    return
            attempt += 1
            await asyncio.sleep(delay)

    @asynccontextmanager
    async def in_a_slot(self) -> AsyncIterator[httpx.Response]:
        """Held until the response closes, so a stream counts as a request in flight."""
        limiter = self.policy.limiter
        async with limiter.slot() if limiter is not None else nullcontext(), self.idle_between_chunks() as response:
            yield response

    @asynccontextmanager
    async def idle_between_chunks(self) -> AsyncIterator[httpx.Response]:
        async with self.refusing_redirects() as response:
            # httpcore reads this extension when body iteration starts
            response.request.extensions["timeout"]["read"] = self.policy.idle_timeout
            yield response

    @asynccontextmanager
    async def refusing_redirects(self) -> AsyncIterator[httpx.Response]:
        async with self.raising_for_status() as response:
            if 300 <= response.status_code < 400:
                target = redact(response.headers.get("location", "another address"))
                raise Redirected(f"{response.request.url} redirects to {target}", location=target)
            yield response

    @asynccontextmanager
    async def raising_for_status(self) -> AsyncIterator[httpx.Response]:
        async with self.once() as response:
            if response.status_code >= 400:
                try:
                    with transport_errors(response.request, self.policy):
                        body = await response.aread()
                except PuterError as error:
                    raise _Answered(error) from None
                raise self.error_for(response.status_code, json_or_text(body), retry_after_of(response))
            yield response

    @asynccontextmanager
    async def once(self) -> AsyncIterator[httpx.Response]:
        request = self.client.build_request(
            self.method, self.url, content=self.content, headers=self.headers, timeout=self.policy.timeout()
        )
        with transport_errors(request, self.policy):
            response = await self.client.send(request, stream=True)
        try:
            yield response
        finally:
            await response.aclose()
