"""Each step of the send chain (wire/sending.py) on its own, with httpx.MockTransport: the retry decision, the
attempts it reports, the limiter slot, the timeouts, redirects and error statuses."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from mock_transport import FAST, scripted

from puter_magic.errors import (
    BadRequest,
    ConnectionFailed,
    InputError,
    RateLimited,
    Redirected,
    ServerError,
    StreamTruncated,
    Timeout,
)
from puter_magic.wire.limits import Backoff, RateLimiter
from puter_magic.wire.sending import attempts_of, open_response, retry_delay
from puter_magic.wire.statuses import status_error
from puter_magic.wire.transport import Policy, make_client

pytestmark = pytest.mark.anyio

SLOW = Backoff(base=30.0, cap=30.0, max_wait=60.0)


def error_for(status, body, retry_after):
    message = body.get("message", "") if isinstance(body, dict) else body
    return status_error(status, message, body=body, retry_after=retry_after)


def client_for(handler, policy):
    return make_client(policy, transport=httpx.MockTransport(handler))


def opened(client, policy, mapper=error_for, **options):
    return open_response(client, "POST", "https://api.example.com/x", policy=policy, error_for=mapper, **options)


# --- retry_delay: the one decision about sending again ---------------------------------------------


@pytest.mark.parametrize(
    ("error", "attempt", "expected"),
    [
        (RateLimited("slow down", retry_after=7), 0, 7),
        (RateLimited("slow down", retry_after=7), 3, None),  # max_retries reached
        (RateLimited("slow down", retry_after=3600), 0, None),  # beyond max_wait: not waited for
        (ConnectionFailed("closed", stale=True), 0, 0.0),  # a stale kept-alive connection: at once
        (ConnectionFailed("refused"), 0, "backoff"),
        (ConnectionFailed("closed", stale=True), 1, "backoff"),  # at once only the first time
        (Timeout("connect", phase="connect"), 1, "backoff"),
        (Timeout("no first byte", phase="first_byte"), 0, None),  # the request may have reached the model
        (ServerError("boom", status_code=500), 0, None),
        (BadRequest("no", status_code=400), 0, None),
        (Redirected("moved", location="x"), 0, None),
        (InputError("nan"), 0, None),
    ],
)
def test_retry_delay_sends_again_only_what_cannot_have_reached_the_model(error, attempt, expected):
    policy = Policy(backoff=Backoff(base=0.5, cap=4.0, max_wait=600.0), max_retries=3)
    delay = retry_delay(error, attempt, policy)
    if expected == "backoff":
        assert delay is not None and 0.5 * 2**attempt / 2 <= delay <= 0.5 * 2**attempt
    else:
        assert delay == expected


# --- retrying: attempts on the response and on the error -------------------------------------------


def too_many(retry_after="0"):
    return httpx.Response(429, headers={"Retry-After": retry_after}, json={"message": "Too many requests."})


async def test_the_response_says_how_many_attempts_it_took():
    handler, seen = scripted(too_many(), too_many(), httpx.Response(200, text="ok"))
    policy = Policy(backoff=FAST)
    async with client_for(handler, policy) as client, opened(client, policy) as response:
        assert attempts_of(response) == 3
    assert len(seen) == 3


async def test_the_error_that_ends_the_retries_says_how_many_attempts_were_made():
    handler, seen = scripted(httpx.ConnectError("refused"))
    policy = Policy(backoff=FAST, max_retries=2)
    async with client_for(handler, policy) as client:
        with pytest.raises(ConnectionFailed) as caught:
            async with opened(client, policy):
                pass
    assert caught.value.attempts == 3 == len(seen)


async def test_an_error_raised_while_the_answer_is_read_carries_the_attempts_and_is_not_retried():
    handler, seen = scripted(too_many(), httpx.Response(200, text="partial"))
    policy = Policy(backoff=FAST)
    async with client_for(handler, policy) as client:
        with pytest.raises(StreamTruncated) as caught:
            async with opened(client, policy):
                raise StreamTruncated("cut", partial="partial")
    assert caught.value.attempts == 2 == len(seen)


async def test_the_mapper_gets_the_status_the_parsed_body_and_retry_after():
    calls = []

    def mapper(status, body, retry_after):
        calls.append((status, body, retry_after))
        return error_for(status, body, retry_after)

    handler, _ = scripted(too_many("0.01"), httpx.Response(418, text="a teapot"))
    policy = Policy(backoff=FAST)
    async with client_for(handler, policy) as client:
        with pytest.raises(BadRequest):
            async with opened(client, policy, mapper):
                pass
    assert calls == [(429, {"message": "Too many requests."}, 0.01), (418, "a teapot", None)]


# --- in_a_slot: the limiter slot spans the attempt and the body's reads -----------------------------


async def test_the_slot_is_held_until_the_response_closes_and_released_between_attempts():
    handler, seen = scripted(too_many(), httpx.Response(200, text="ok"))
    policy = Policy(backoff=FAST, limiter=RateLimiter(None, 1.0, 1))
    async with client_for(handler, policy) as client:
        # one slot, and a 429 first: a slot kept across the retry would never be free again
        first = opened(client, policy)
        await asyncio.wait_for(first.__aenter__(), 5)
        assert len(seen) == 2
        second = asyncio.create_task(_open_and_close(client, policy))
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(seen) == 2, "a second request waits while the first response is open"
        await first.__aexit__(None, None, None)
        await asyncio.wait_for(second, 5)
    assert len(seen) == 3


async def _open_and_close(client, policy):
    async with opened(client, policy):
        pass


# --- once and idle_between_chunks: the first byte's timeout, then the idle one -----------------------


async def test_sent_with_the_first_byte_timeout_and_read_with_the_idle_one():
    sent_with = []

    def handler(request):
        sent_with.append(dict(request.extensions["timeout"]))
        return httpx.Response(200, text="ok")

    policy = Policy(connect_timeout=1.0, first_byte_timeout=7.0, idle_timeout=3.0)
    async with client_for(handler, policy) as client, opened(client, policy) as response:
        assert response.request.extensions["timeout"]["read"] == 3.0
    assert sent_with[0]["read"] == 7.0 and sent_with[0]["connect"] == 1.0


async def test_an_error_status_is_read_with_the_first_byte_timeout():
    handler, _ = scripted(httpx.Response(500, json={"message": "boom"}))
    policy = Policy(first_byte_timeout=7.0, idle_timeout=3.0)
    async with client_for(handler, policy) as client:
        with pytest.raises(ServerError) as caught:
            async with opened(client, policy):
                pass
    assert caught.value.message == "boom"


async def test_the_request_body_is_json_with_its_content_type():
    handler, seen = scripted(httpx.Response(200, text="ok"))
    policy = Policy()
    async with client_for(handler, policy) as client, opened(client, policy, json_body={"a": "é"}):
        pass
    assert seen[0].headers["content-type"] == "application/json"
    assert seen[0].content == '{"a":"é"}'.encode()


# --- refusing_redirects and raising_for_status ------------------------------------------------------


async def test_a_redirect_is_an_error_and_never_followed():
    handler, seen = scripted(httpx.Response(302, headers={"Location": "https://elsewhere.example/login"}))
    policy = Policy(backoff=FAST)
    async with client_for(handler, policy) as client:
        with pytest.raises(Redirected) as caught:
            async with opened(client, policy):
                pass
    assert caught.value.location == "https://elsewhere.example/login"
    assert len(seen) == 1 and caught.value.attempts == 1


class BrokenBody(httpx.AsyncByteStream):
    """An error body whose connection breaks after the status line arrived."""

    async def __aiter__(self):
        raise httpx.ReadError("connection reset")
        yield b""  # pragma: no cover


async def test_an_error_body_that_breaks_is_not_sent_again():
    handler, seen = scripted(httpx.Response(429, headers={"Retry-After": "0"}, stream=BrokenBody()))
    policy = Policy(backoff=FAST)
    async with client_for(handler, policy) as client:
        with pytest.raises(ConnectionFailed) as caught:
            async with opened(client, policy):
                pass
    assert len(seen) == 1, "the server had begun to answer: nothing is retried"
    assert caught.value.attempts == 1
