"""The wire layer on its own, with httpx.MockTransport: each step of the send chain, retries, error mapping,
loopback names, redaction. Real sockets (timeouts, broken streams) are in test_puter_provider and test_faults."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
from mock_transport import FAST, scripted

from puter_magic.errors import (
    APIError,
    BadRequest,
    ConnectionFailed,
    NotLoggedIn,
    RateLimited,
    ServerError,
    TokenRejected,
)
from puter_magic.redact import configure_logging, redact, register_secret
from puter_magic.wire.limits import Backoff, RateLimiter, parse_retry_after
from puter_magic.wire.sending import open_response
from puter_magic.wire.statuses import status_error
from puter_magic.wire.transport import Policy, make_client

pytestmark = pytest.mark.anyio


CODES: dict[str, type[APIError]] = {"token_missing": NotLoggedIn, "token_auth_failed": TokenRejected}


def error_for(status: int, body, retry_after: float | None):
    """An ErrorMapper, as a provider writes one."""
    message = body.get("message", "") if isinstance(body, dict) else body
    code = body.get("code") if isinstance(body, dict) else None
    return status_error(status, message, code=code, body=body, retry_after=retry_after, by_code=CODES)


async def fetch(handler, policy=None, url="https://api.puter.com/x"):
    policy = policy or Policy(backoff=FAST)
    async with (
        make_client(policy, transport=httpx.MockTransport(handler)) as client,
        open_response(client, "POST", url, policy=policy, error_for=error_for, json_body={"a": 1}) as response,
    ):
        return response.status_code, await response.aread()


def too_many(retry_after="0"):
    return httpx.Response(
        429,
        headers={"Retry-After": retry_after},
        json={"message": "Too many requests.", "code": "too_many_requests"},
    )


async def test_429_is_retried_then_succeeds():
    handler, seen = scripted(too_many(), too_many(), httpx.Response(200, json={"ok": True}))
    status, _ = await fetch(handler)
    assert status == 200
    assert len(seen) == 3
    assert seen[0].headers["content-type"] == "application/json"
    assert seen[0].content == b'{"a":1}'


async def test_429_gives_up_after_max_retries_with_retry_after():
    handler, seen = scripted(too_many("0.01"))
    with pytest.raises(RateLimited) as info:
        await fetch(handler, Policy(backoff=FAST, max_retries=2))
    assert len(seen) == 3
    assert info.value.retry_after == pytest.approx(0.01)
    assert info.value.status_code == 429


async def test_retry_after_beyond_the_ceiling_is_not_waited_for():
    handler, seen = scripted(too_many("3600"))
    with pytest.raises(RateLimited) as info:
        await fetch(handler)
    assert len(seen) == 1
    assert "wait about 60 min" in info.value.one_line()


@pytest.mark.parametrize(("status", "cls"), [(400, BadRequest), (500, ServerError), (401, NotLoggedIn)])
async def test_other_errors_are_never_retried(status, cls):
    code = "token_missing" if status == 401 else None
    handler, seen = scripted(httpx.Response(status, json={"message": "nope", "code": code}))
    with pytest.raises(cls):
        await fetch(handler)
    assert len(seen) == 1


async def test_connection_failures_are_retried_and_then_reported_with_the_origin():
    handler, seen = scripted(httpx.ConnectError("refused"), httpx.Response(200, text="ok"))
    assert (await fetch(handler))[0] == 200
    assert len(seen) == 2
    handler, seen = scripted(httpx.ConnectError("refused"))
    with pytest.raises(ConnectionFailed, match=r"https://api\.puter\.com"):
        await fetch(handler, Policy(backoff=FAST, max_retries=1))
    assert len(seen) == 2


async def test_localhost_subdomains_connect_to_loopback_and_keep_their_host():
    handler, seen = scripted(httpx.Response(200, text="ok"))
    await fetch(handler, url="http://api.puter.localhost:4100/whoami")
    assert seen[0].url.host == "127.0.0.1"
    assert seen[0].url.port == 4100
    assert seen[0].headers["host"] == "api.puter.localhost:4100"


async def test_plain_names_are_left_alone():
    handler, seen = scripted(httpx.Response(200, text="ok"))
    await fetch(handler, url="http://localhost:4100/x")
    assert seen[0].url.host == "localhost"


async def test_debug_log_never_shows_the_token(caplog):
    configure_logging(None)
    token = "tok.secretpart.signature-xyz"
    register_secret(token)
    handler, _ = scripted(httpx.Response(401, json={"message": f"bad token {token}", "code": "token_auth_failed"}))
    policy = Policy(backoff=FAST)
    with caplog.at_level(logging.DEBUG, logger="puter_magic"):
        async with make_client(policy, transport=httpx.MockTransport(handler)) as client:
            with pytest.raises(TokenRejected) as info:
                async with open_response(
                    client,
                    "GET",
                    "https://api.puter.com/whoami",
                    policy=policy,
                    error_for=error_for,
                    headers={"Authorization": f"Bearer {token}"},
                ):
                    pass
    assert token not in caplog.text
    assert "'authorization': '[redacted]'" in caplog.text, "the request line is logged, its header redacted"
    assert str(info.value) == "bad token [redacted]"
    assert token not in repr(info.value)


def test_redact_covers_bearer_headers_in_free_text():
    assert redact("Authorization: Bearer abc.def.ghi") == "Authorization: Bearer [redacted]"


def test_backoff_is_capped_with_jitter_and_honours_retry_after():
    backoff = Backoff(base=0.5, cap=4.0, max_wait=10.0)
    for attempt in range(10):
        delay = backoff.delay(attempt)
        ceiling = min(4.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert backoff.delay(0, retry_after=7) == 7
    assert backoff.delay(0, retry_after=11) is None


def test_retry_after_forms():
    assert parse_retry_after("2") == 2.0
    assert parse_retry_after("0.25") == 0.25
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None
    future = parse_retry_after("Wed, 21 Oct 2099 07:28:00 GMT")
    assert future is not None and future > 1000
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


async def test_limiter_bounds_concurrency():
    limiter = RateLimiter(None, 1.0, 3)
    running = 0
    peak = 0
    release = asyncio.Event()

    async def worker():
        nonlocal running, peak
        async with limiter.slot():
            running += 1
            peak = max(peak, running)
            await release.wait()
            running -= 1

    tasks = [asyncio.create_task(worker()) for _ in range(8)]
    while running < 3:
        await asyncio.sleep(0)
    for _ in range(20):
        await asyncio.sleep(0)
    assert running == 3
    release.set()
    await asyncio.gather(*tasks)
    assert peak == 3


async def test_limiter_spaces_requests_over_its_window():
    limiter = RateLimiter(2, 0.2, None)
    starts = []
    for _ in range(5):
        async with limiter.slot():
            starts.append(time.monotonic())
    assert starts[2] - starts[0] >= 0.2 - 0.01
    assert starts[4] - starts[2] >= 0.2 - 0.01


async def test_a_closed_kept_alive_connection_is_retried_at_once():
    handler, seen = scripted(httpx.RemoteProtocolError("Server disconnected"), httpx.Response(200, text="ok"))
    slow = Policy(backoff=Backoff(base=30.0, cap=30.0, max_wait=60.0))
    started = time.monotonic()
    assert (await fetch(handler, slow))[0] == 200
    assert len(seen) == 2
    assert time.monotonic() - started < 30, "no backoff before the first retry of a stale connection"


def test_backoff_leaves_the_global_random_state_alone():
    import random

    state = random.getstate()
    Backoff().delay(3)
    assert random.getstate() == state
