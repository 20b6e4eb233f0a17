"""The wire's client: one httpx.AsyncClient per provider, its timeouts and logging, and httpx's exceptions
translated once.

`sending.open_response()` is the only way a provider talks to a server (pacing, retries, error statuses);
`decoded()` reads a streamed body through a decoder, with the between-chunks timeout rather than the first-byte one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
from contextlib import aclosing, contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, cast

import httpx

from .. import __version__
from ..config import Settings
from ..errors import ConnectionFailed, PuterError, StreamError, StreamTimeout, StreamTruncated, Timeout
from ..redact import logger, redact, redact_headers
from .limits import Backoff, RateLimiter

USER_AGENT = f"puter-magic/{__version__}"
END_GRACE = 1.0  # seconds a server gets to end a body after the answer's last message


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


def policy_from(settings: Settings) -> Policy:
    """The timeouts, retries and pacing the settings ask for."""
    limiter = None
    if settings.rate_limit or settings.max_concurrent:
        requests, window = settings.rate_limit or (0, 1.0)
        limiter = RateLimiter(requests or None, window, settings.max_concurrent)
    return Policy(
        connect_timeout=settings.connect_timeout,
        first_byte_timeout=settings.first_byte_timeout,
        idle_timeout=settings.idle_timeout,
        max_retries=settings.max_retries,
        backoff=Backoff(settings.backoff_base, settings.backoff_cap, settings.max_retry_wait),
        limiter=limiter,
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


async def read_to_end(reads: AsyncIterator[Any]) -> None:
    """Read on past an answer's last message to the end of its body (as a rule only the chunked encoding's empty
    last chunk), so that its connection goes back to the pool instead of being closed: without this each streamed
    answer opened a new connection. A server that keeps the body open or sends more is cut off after
    END_GRACE, and what it sends after the end is ignored."""

    async def rest() -> None:
        async for _ in reads:
            pass

    with suppress(asyncio.TimeoutError, PuterError):
        await asyncio.wait_for(rest(), END_GRACE)
