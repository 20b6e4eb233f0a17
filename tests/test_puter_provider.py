"""The Puter provider against the local Puter server over a real socket: login, models, chat, every fault."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import stat

import pytest

from puter_magic.config import CredentialStore, Settings, state_dir
from puter_magic.datatypes import ChatRequest, Finished, Message, TextDelta
from puter_magic.errors import (
    ConnectionFailed,
    InsufficientFunds,
    LoginFailed,
    MalformedStream,
    ModelNotFound,
    NotLoggedIn,
    RateLimited,
    ReauthRequired,
    ServerError,
    StreamFailed,
    StreamTimeout,
    StreamTruncated,
    Timeout,
    TokenRejected,
    TwoFactorRequired,
    VerificationRequired,
)
from puter_magic.providers.puter import PuterProvider
from puter_magic.testing import Fault

pytestmark = pytest.mark.anyio


def settings_for(server, **overrides) -> Settings:
    """Settings for the local server: the admin's token, no client-side pacing, quick retries."""
    options = {
        "api_origin": server.api_origin,
        "gui_origin": server.gui_origin,
        "token": server.token,
        "rate_limit": None,
        "max_concurrent": None,
        "backoff_base": 0.01,
        "backoff_cap": 0.02,
    }
    return Settings(**{**options, **overrides})


@pytest.fixture
async def provider(puter_settings):
    client = PuterProvider(puter_settings)
    yield client
    await client.aclose()


@pytest.fixture
async def anonymous(puter_server):
    client = PuterProvider(settings_for(puter_server, token=None))
    yield client
    await client.aclose()


def ask(text: str, model: str = "deterministic", **options) -> ChatRequest:
    return ChatRequest((Message("user", text),), model, **options)


async def collect(stream):
    texts, finished = [], None
    async for event in stream:
        if isinstance(event, TextDelta):
            texts.append(event.text)
        elif isinstance(event, Finished):
            finished = event
    return "".join(texts), finished


# --- account --------------------------------------------------------------------------------------


async def test_login_stores_a_private_token_for_that_origin_only(anonymous, puter_server):
    user = await anonymous.login("admin", puter_server.admin_password)
    assert user.username == "admin"
    assert anonymous.logged_in
    store = CredentialStore(state_dir())
    assert store.get(puter_server.api_origin) == anonymous.settings.token
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    login = next(r for r in puter_server.state.requests if r.path == "/login")
    assert login.host == puter_server.gui_host, "login goes to the GUI origin"
    assert (await anonymous.whoami()).username == "admin"
    whoami = [r for r in puter_server.state.requests if r.path == "/whoami"][-1]
    assert whoami.host == puter_server.api_host


@pytest.mark.parametrize(("username", "password"), [("admin", "wrong-password"), ("nobody", "whatever123")])
async def test_bad_credentials_are_login_failed(anonymous, username, password):
    with pytest.raises(LoginFailed) as info:
        await anonymous.login(username, password)
    assert info.value.message in ("Incorrect password.", "Username not found.")
    assert not anonymous.logged_in


async def test_two_factor_login(anonymous, puter_server):
    puter_server.state.add_user("otto", "otto-password-1", otp_code="123456", email_confirmed=True)
    with pytest.raises(TwoFactorRequired):
        await anonymous.login("otto", "otto-password-1")
    with pytest.raises(LoginFailed, match="one-time code"):
        await anonymous.login("otto", "otto-password-1", otp="000000")
    asked = []

    async def ask_code():
        asked.append(True)
        return "123456"

    user = await anonymous.login("otto", "otto-password-1", otp=ask_code)
    assert user.username == "otto" and asked == [True]
    assert any(r.path == "/login/otp" for r in puter_server.state.requests)


async def test_logout_forgets_and_revokes(provider, puter_server):
    token = provider.settings.token
    CredentialStore(state_dir()).put(puter_server.api_origin, token)
    await provider.logout()
    assert not provider.logged_in
    assert CredentialStore(state_dir()).get(puter_server.api_origin) is None
    with pytest.raises(NotLoggedIn):
        await provider.whoami()
    again = PuterProvider(settings_for(puter_server, token=token))
    try:
        with pytest.raises(TokenRejected):
            await again.whoami()
    finally:
        await again.aclose()


@pytest.mark.parametrize(("token", "error"), [("not-a-real-token", ReauthRequired), ("aaa.bbb.ccc", TokenRejected)])
async def test_rejected_tokens(puter_server, token, error):
    client = PuterProvider(settings_for(puter_server, token=token))
    try:
        with pytest.raises(error) as info:
            await client.complete(ask("hi"))
        assert "log in" in info.value.one_line()
        with pytest.raises(error):
            await client.use_token(token)
        assert client.settings.token == token
    finally:
        await client.aclose()


async def test_use_token_checks_the_token_first(anonymous, puter_server):
    user = await anonymous.use_token(puter_server.token, remember=False)
    assert user.username == "admin"


async def test_unverified_account(anonymous, puter_server):
    puter_server.state.add_user("newbie", "newbie-pass-1", email="n@example.com", requires_email_confirmation=True)
    await anonymous.login("newbie", "newbie-pass-1", remember=False)
    with pytest.raises(VerificationRequired) as info:
        await anonymous.complete(ask("hi", "fake"))
    assert info.value.status_code == 403


async def test_usage_reports_dollars_and_no_credit_is_insufficient_funds(provider, puter_server):
    credits = await provider.usage()
    assert credits.remaining_usd is not None and credits.remaining_usd > 0
    puter_server.state.set_remaining("admin", 0)
    assert (await provider.usage()).remaining_usd == 0
    with pytest.raises(InsufficientFunds) as info:
        await provider.complete(ask("hi", "fake"))
    assert info.value.status_code == 402
    assert "top up" in info.value.one_line()


async def test_status(provider, anonymous, puter_server):
    status = await provider.status()
    assert status.reachable and status.user.username == "admin" and status.credits is not None
    status = await anonymous.status()
    assert status.reachable and status.user is None and status.error == "not logged in"


# --- models ---------------------------------------------------------------------------------------


async def test_public_model_list(anonymous):
    models = await anonymous.models()
    ids = {m.id for m in models}
    assert {"deterministic", "echo", "slow"} <= ids
    assert not ids & {"fake", "costly", "abuse"}, "hidden models stay hidden"


async def test_self_hosted_falls_back_to_the_driver_listing(provider, anonymous, puter_server):
    puter_server.state.settings.self_hosted = True
    models = {m.id: m for m in await provider.models()}
    assert {"fake", "costly", "abuse"} <= set(models)
    assert models["costly"].input_cost == 10.0 and models["costly"].output_cost == 20.0
    assert models["fake"].max_tokens == 8192
    with pytest.raises(NotLoggedIn, match="signed-in"):
        await anonymous.models()


# --- chat -----------------------------------------------------------------------------------------


async def test_complete_both_result_shapes(provider):
    fake = await provider.complete(ask("hi", "fake"))
    assert fake.text and fake.model == "fake" and fake.usage.output_tokens == 1
    first = await provider.complete(ask("hello there"))
    second = await provider.complete(ask("hello there"))
    assert first.text == second.text
    assert first.text.startswith("Turn 1. You said: hello there.")
    assert first.usage.input_tokens is not None


async def test_stream_matches_complete_and_reports_usage(provider, puter_server):
    whole = await provider.complete(ask("stream me"))
    text, finished = await collect(provider.stream(ask("stream me")))
    assert text == whole.text
    assert finished is not None and finished.usage.output_tokens
    chunks = [e async for e in provider.stream(ask("one two three four", "echo")) if isinstance(e, TextDelta)]
    assert len(chunks) > 1
    assert "".join(c.text for c in chunks) == "one two three four"
    # the server records a stream as completed just after its last byte: wait for that, bounded
    assert puter_server.state.wait_for(lambda s: s.stats()["streams_completed"] == 2), puter_server.state.stats()


async def test_fake_model_stream_as_recorded(provider):
    text, finished = await collect(provider.stream(ask("hi", "fake")))
    assert text
    assert finished.usage.cost_usd is None


@pytest.mark.parametrize("stream", [False, True])
async def test_unknown_model(provider, stream):
    with pytest.raises(ModelNotFound, match="no-such-model") as info:
        if stream:
            await collect(provider.stream(ask("hi", "no-such-model")))
        else:
            await provider.complete(ask("hi", "no-such-model"))
    assert "%puter models" in info.value.one_line()


async def test_not_logged_in_never_reaches_the_server(anonymous, puter_server):
    with pytest.raises(NotLoggedIn):
        await anonymous.complete(ask("hi"))
    assert not [r for r in puter_server.state.requests if r.path == "/drivers/call"]


# --- faults ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, TokenRejected), (402, InsufficientFunds), (500, ServerError), (503, ServerError)],
)
async def test_status_faults_are_mapped_and_not_retried(provider, puter_server, status, error):
    puter_server.state.inject(Fault.http(status))
    with pytest.raises(error):
        await provider.complete(ask("hi"))
    assert len([r for r in puter_server.state.requests if r.path == "/drivers/call"]) == 1


async def test_429_is_retried_honouring_retry_after(provider, puter_server):
    puter_server.state.inject(Fault.http(429, retry_after=0.2, count=2))
    text, _ = await collect(provider.stream(ask("after the storm")))
    assert text.startswith("Turn 1.")
    calls = [r for r in puter_server.state.requests if r.path == "/drivers/call"]
    assert len(calls) == 3
    gaps = [b.time - a.time for a, b in itertools.pairwise(calls)]
    assert all(gap >= 0.2 for gap in gaps), gaps


async def test_429_gives_up_with_the_wait_in_the_message(puter_server):
    client = PuterProvider(settings_for(puter_server, max_retries=1))
    puter_server.state.inject(Fault.http(429, retry_after=0.05), persistent=True)
    try:
        with pytest.raises(RateLimited) as info:
            await client.complete(ask("hi"))
    finally:
        await client.aclose()
    assert info.value.retry_after == pytest.approx(0.05)
    assert len([r for r in puter_server.state.requests if r.path == "/drivers/call"]) == 2


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.drop(after=2), StreamTruncated),
        (Fault.error_line(after=2, message="upstream exploded"), StreamFailed),
        (Fault.truncate(after=2), StreamTruncated),
        (Fault.malformed(after=2), MalformedStream),
    ],
)
async def test_stream_faults_keep_the_partial_answer(provider, puter_server, fault, error):
    puter_server.state.inject(fault)
    received = []
    with pytest.raises(error) as info:
        async for event in provider.stream(ask("alpha beta gamma delta epsilon", "echo")):
            if isinstance(event, TextDelta):
                received.append(event.text)
    assert info.value.partial == "".join(received)
    assert info.value.partial.startswith("alpha")
    if error is StreamFailed:
        assert "upstream exploded" in info.value.message
    assert len([r for r in puter_server.state.requests if r.path == "/drivers/call"]) == 1, "never retried"


async def test_first_byte_and_idle_timeouts_are_separate(puter_server):
    quick_first_byte = PuterProvider(settings_for(puter_server, first_byte_timeout=0.3, idle_timeout=5, max_retries=0))
    try:
        puter_server.state.inject(Fault.stall(1.0, after=0))
        with pytest.raises(Timeout) as info:
            await collect(quick_first_byte.stream(ask("hi")))
        assert info.value.phase == "first_byte"
        puter_server.state.inject(Fault.stall(0.6, after=1))
        text, _ = await collect(quick_first_byte.stream(ask("a b c d", "echo")))
        assert text == "a b c d", "a pause mid-stream shorter than idle_timeout is fine"
    finally:
        await quick_first_byte.aclose()
    quick_idle = PuterProvider(settings_for(puter_server, first_byte_timeout=5, idle_timeout=0.3))
    try:
        puter_server.state.inject(Fault.stall(1.0, after=1))
        with pytest.raises(StreamTimeout) as info:
            await collect(quick_idle.stream(ask("a b c d", "echo")))
        assert info.value.partial.startswith("a")
    finally:
        await quick_idle.aclose()


async def test_a_server_that_is_down(puter_server):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = PuterProvider(
        Settings.load(
            {},
            api_origin=f"http://127.0.0.1:{port}",
            token="some-token-1234",
            backoff_base=0.01,
            backoff_cap=0.01,
        )
    )
    try:
        with pytest.raises(ConnectionFailed) as info:
            await client.complete(ask("hi"))
    finally:
        await client.aclose()
    assert f"127.0.0.1:{port}" in info.value.message
    assert "server" in info.value.hint


async def test_closing_a_stream_early_cancels_it_on_the_server(provider, puter_server):
    puter_server.state.settings.slow_rate = 50
    stream = provider.stream(ask("hi", "slow", extra={"fake_chunks": 500}))
    async for event in stream:
        if isinstance(event, TextDelta):
            break
    await stream.aclose()
    assert await asyncio.to_thread(puter_server.state.wait_for, lambda s: s.stats()["streams_cancelled"] == 1)


async def test_the_limiter_bounds_requests_in_flight_on_the_server(puter_server):
    client = PuterProvider(settings_for(puter_server, max_concurrent=2))
    puter_server.state.settings.slow_rate = 100
    try:
        results = await asyncio.gather(
            *(collect(client.stream(ask("hi", "slow", extra={"fake_chunks": 10}))) for _ in range(6))
        )
    finally:
        await client.aclose()
    assert all(finished is not None for _, finished in results)
    assert puter_server.state.stats()["max_in_flight"] == 2


# --- the v1-era backend ---------------------------------------------------------------------------


async def test_v1_envelopes(provider, puter_server):
    puter_server.state.settings.v1_mode = True
    with pytest.raises(ModelNotFound):
        await provider.complete(ask("hi", "no-such-model"))
    with pytest.raises(StreamTruncated):
        await collect(provider.stream(ask("hi")))
    lenient = PuterProvider(provider.settings, strict_stream_end=False)
    try:
        text, finished = await collect(lenient.stream(ask("hi")))
        assert text.startswith("Turn 1.") and finished is not None
        puter_server.state.set_remaining("admin", 0)
        with pytest.raises(InsufficientFunds):
            await lenient.complete(ask("hi", "fake"))
    finally:
        await lenient.aclose()


# --- secrets --------------------------------------------------------------------------------------


async def test_the_token_never_reaches_logs_reprs_or_errors(anonymous, puter_server, caplog):
    from puter_magic.redact import configure_logging

    configure_logging(None)
    with caplog.at_level(logging.DEBUG, logger="puter_magic"):
        await anonymous.login("admin", puter_server.admin_password, remember=False)
        token = anonymous.settings.token
        await anonymous.complete(ask("hi"))
        await collect(anonymous.stream(ask("hi")))
        puter_server.state.inject(Fault.http(401))
        with pytest.raises(TokenRejected) as info:
            await anonymous.complete(ask("hi"))
    assert token and token not in caplog.text
    assert "/drivers/call" in caplog.text, "debug logging shows the requests"
    assert token not in repr(anonymous) and token not in repr(anonymous.settings)
    assert token not in str(info.value) and token not in info.value.one_line()
