"""The proxy end to end: the local Puter server behind it, the real openai SDK (and raw httpx) in front of it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

import httpx
import openai
import pytest
from cli_runs import reaped
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from puter_magic.config import Settings, state_dir
from puter_magic.core.sessions import Session
from puter_magic.errors import InputError
from puter_magic.redact import redact
from puter_magic.server import commands as serve_commands
from puter_magic.server.serve import RemoteBindWarning, check_host, start
from puter_magic.testing import Fault

HELLO = [{"role": "user", "content": "hello"}]


@pytest.fixture
def session(puter_settings, loop):
    session = Session(puter_settings, loop=loop)
    yield session
    session.close()


@pytest.fixture
def proxy(session):
    with start(session) as running:
        yield running


@pytest.fixture
def client(proxy):
    with openai.OpenAI(base_url=proxy.url + "/v1", api_key=proxy.key, max_retries=0, timeout=10) as client:
        yield client


@pytest.fixture
def http(proxy):
    headers = {"Authorization": f"Bearer {proxy.key}"}
    with httpx.Client(base_url=proxy.url, headers=headers, timeout=10) as http:
        yield http


# --- models -----------------------------------------------------------------------------------------


def test_models_are_listed(client):
    models = list(client.models.list())
    assert {"deterministic", "echo", "slow"} <= {m.id for m in models}
    assert all(m.object == "model" and m.owned_by == "local" for m in models)


def test_one_model_by_id_or_alias_and_an_unknown_one(client):
    assert client.models.retrieve("echo").id == "echo"
    assert client.models.retrieve("local/echo").id == "echo"  # ids may contain "/"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no/such:model")
    assert caught.value.code == "model_not_found"


# --- answers ----------------------------------------------------------------------------------------


def test_a_whole_answer(client):
    answer = client.chat.completions.create(model="deterministic", messages=HELLO)
    assert answer.object == "chat.completion" and answer.id.startswith("chatcmpl-")
    assert answer.choices[0].message.content.startswith("Turn 1. You said: hello.")
    assert answer.choices[0].finish_reason == "stop"
    assert answer.usage.prompt_tokens > 0 and answer.usage.completion_tokens > 0
    assert "estimated" not in (answer.usage.model_extra or {})


def test_a_stream_without_usage(client):
    chunks = list(
        client.chat.completions.create(model="echo", messages=[{"role": "user", "content": "a b c"}], stream=True)
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "a b c"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert all(c.usage is None for c in chunks) and len({c.id for c in chunks}) == 1


def test_a_stream_with_usage(client):
    stream = client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": "x y"}], stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert "estimated" not in (chunks[-1].usage.model_extra or {})
    assert chunks[-2].choices[0].finish_reason == "stop"


def test_usage_the_provider_did_not_report_is_estimated_and_says_so(client):
    # Puter's `fake` model (hidden from the list, still accepted) reports no token counts in its stream.
    stream = client.chat.completions.create(
        model="fake", messages=HELLO, stream=True, stream_options={"include_usage": True}
    )
    usage = list(stream)[-1].usage
    assert usage.model_extra["estimated"] is True and usage.prompt_tokens == 2


def test_the_sse_framing(http):
    body = {"model": "echo", "messages": HELLO, "stream": True}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = response.text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(event.startswith("data: {") for event in events[:-2])
    assert json.loads(events[0][6:])["object"] == "chat.completion.chunk"


# --- errors -----------------------------------------------------------------------------------------


def test_a_wrong_or_missing_key_is_refused(proxy, http):
    bad = openai.OpenAI(base_url=proxy.url + "/v1", api_key="wrong-key-123", max_retries=0)
    with bad, pytest.raises(openai.AuthenticationError) as caught:
        bad.models.list()
    assert caught.value.status_code == 401 and caught.value.code == "invalid_api_key"
    bare = httpx.post(proxy.url + "/v1/chat/completions", json={}, timeout=5)
    assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("stream", [False, True])
def test_an_unknown_model_is_a_404(client, stream):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=HELLO, stream=stream)
    assert caught.value.code == "model_not_found"


@pytest.mark.parametrize(
    ("options", "param"), [({"n": 2}, "n"), ({"temperature": 5}, "temperature"), ({"messages": []}, "messages")]
)
def test_a_bad_body_is_a_400(client, options, param):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**({"model": "echo", "messages": HELLO} | options))
    assert caught.value.param == param


def test_no_credit_upstream_is_a_402(client, puter_server):
    puter_server.state.set_remaining("admin", 0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="deterministic", messages=HELLO)
    assert caught.value.status_code == 402 and caught.value.code == "insufficient_quota"


def test_an_upstream_rate_limit_is_a_429_with_retry_after(client, puter_server):
    puter_server.state.inject(Fault.http(429, retry_after=120, path="/drivers/call"), persistent=True)
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="echo", messages=HELLO, stream=True)
    assert caught.value.status_code == 429 and caught.value.response.headers["retry-after"] == "120"
    # 120 s is past the provider's retry ceiling: it gave up at once instead of waiting
    assert [r.path for r in puter_server.state.requests].count("/drivers/call") == 1


def test_an_upstream_login_problem_is_a_502_that_never_shows_the_token(puter_server, puter_settings, loop):
    bad_token = "upstream-token-that-must-not-leak"
    session = Session(Settings(**{**_fields(puter_settings), "token": bad_token}), loop=loop)
    with start(session) as proxy, openai.OpenAI(base_url=proxy.url + "/v1", api_key=proxy.key, max_retries=0) as c:
        with pytest.raises(openai.InternalServerError) as caught:
            c.chat.completions.create(model="echo", messages=HELLO)
        health = httpx.get(proxy.url + "/health", headers={"Authorization": f"Bearer {proxy.key}"}, timeout=5).json()
    session.close()
    assert caught.value.status_code == 502 and caught.value.code == "upstream_auth_failed"
    assert bad_token not in caught.value.response.text
    assert health["status"] == "degraded" and health["user"] is None and bad_token not in json.dumps(health)


def test_a_stream_failing_after_it_started_raises_in_the_client(client, puter_server):
    puter_server.state.inject(Fault.error_line(after=2, message="the model fell over"))
    seen = []
    with pytest.raises(openai.APIError, match="the model fell over"):
        for chunk in client.chat.completions.create(
            model="echo", messages=[{"role": "user", "content": "a b c d"}], stream=True
        ):
            seen.append(chunk)
    assert seen and seen[0].choices[0].delta.role == "assistant"


def test_size_limits_routes_and_methods_answer_openai_shaped_errors(http):
    too_big = http.post("/v1/chat/completions", content=b" " * (4 * 1024 * 1024 + 1))
    not_json = http.post("/v1/chat/completions", content=b"{nope")
    no_route = http.get("/v1/nothing/here")
    wrong_method = http.get("/v1/chat/completions")
    assert [r.status_code for r in (too_big, not_json, no_route, wrong_method)] == [413, 400, 404, 405]
    assert all(set(r.json()["error"]) == {"message", "type", "param", "code"} for r in (too_big, not_json, no_route))
    assert too_big.json()["error"]["code"] == "request_too_large"


def test_health_is_open_but_looks_upstream_only_for_key_holders(proxy, http, puter_server):
    without = httpx.get(proxy.url + "/health", timeout=5).json()
    assert without == {"status": "ok", "provider": "puter", "streams_open": 0}
    assert puter_server.state.requests == []  # a keyless look costs the upstream nothing
    with_key = http.get("/health").json()
    assert with_key["status"] == "ok" and with_key["reachable"] is True and with_key["user"] == "admin"


# --- concurrency and cancellation ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_fifty_simultaneous_streams(proxy, puter_server):
    puter_server.state.settings.slow_chunks = 3
    puter_server.state.settings.slow_rate = 20

    async def one(client: openai.AsyncOpenAI) -> str:
        stream = await client.chat.completions.create(model="slow", messages=HELLO, stream=True)
        return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=proxy.key, max_retries=0, timeout=20) as c:
        texts = await asyncio.gather(*(one(c) for _ in range(50)))
    assert texts == [texts[0]] * 50 and len(texts[0].split()) == 3
    assert puter_server.state.wait_for(lambda s: s.stats()["streams_completed"] == 50), puter_server.state.stats()
    assert puter_server.state.stats()["max_in_flight"] > 10  # served side by side, not in turn


def test_a_client_leaving_mid_stream_cancels_the_upstream_within_a_second(client, proxy, puter_server):
    puter_server.state.settings.slow_chunks = 1000  # 50 s at 20 chunks a second
    stream = client.chat.completions.create(model="slow", messages=HELLO, stream=True)
    assert next(iter(stream)).choices[0].delta.role == "assistant"
    stream.close()
    left = time.monotonic()
    assert puter_server.state.wait_for(lambda s: s.stats()["streams_cancelled"] == 1, timeout=1.0)
    assert time.monotonic() - left < 1.0
    assert puter_server.state.stats()["streams_completed"] == 0


def test_a_client_giving_up_on_a_whole_answer_cancels_the_upstream(proxy, puter_server):
    puter_server.state.inject(Fault.stall(30))  # the upstream would not answer for 30 s
    impatient = openai.OpenAI(base_url=proxy.url + "/v1", api_key=proxy.key, max_retries=0, timeout=0.3)
    with impatient, pytest.raises(openai.APITimeoutError):
        impatient.chat.completions.create(model="echo", messages=HELLO)
    assert puter_server.state.wait_for(lambda s: s.in_flight == 0, timeout=1.0)


# --- fuzzing ----------------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
random_message = st.fixed_dictionaries(
    {},
    optional={
        "role": st.sampled_from(["user", "system", "assistant", "tool", "developer", "robot"]) | values,
        "content": st.text(max_size=20) | st.lists(st.fixed_dictionaries({"type": values, "text": values})) | values,
    },
)
valid_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "developer"]), "content": st.text(max_size=20)}
)
right = {
    "temperature": st.floats(0, 2),
    "top_p": st.floats(0, 1),
    "max_tokens": st.integers(1, 100),
    "stop": st.text(max_size=3) | st.lists(st.text(max_size=3), max_size=2),
    "n": st.just(1),
    "seed": st.integers(0, 2**32),
    "stream": st.booleans(),
    "stream_options": st.fixed_dictionaries({"include_usage": st.booleans()}),
    "tools": st.just([]),
    "unknown_field": values,
}
requests = st.fixed_dictionaries(
    {
        "model": st.sampled_from(["echo", "local/echo", "nope"]),
        "messages": st.lists(valid_message, min_size=1, max_size=3),
    },
    optional=right,
)
bodies = (
    values
    | requests
    | st.fixed_dictionaries(  # right, wrong, and mostly right with a wrong field or two
        {
            "model": st.sampled_from(["echo", "nope"]) | values,
            "messages": st.lists(valid_message | random_message, min_size=1, max_size=3) | values,
        },
        optional={name: strategy | values for name, strategy in right.items()},
    )
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_body_gets_an_answer_or_an_openai_shaped_error(http, body):
    response = http.post("/v1/chat/completions", content=json.dumps(body).encode())
    event(f"HTTP {response.status_code}")
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert (
            isinstance(error["message"], str) and error["type"] and set(error) == {"message", "type", "param", "code"}
        )
    elif response.headers["content-type"].startswith("text/event-stream"):
        assert response.text.endswith("data: [DONE]\n\n")
    else:
        assert response.json()["object"] == "chat.completion"


# --- serving ----------------------------------------------------------------------------------------


def test_only_loopback_unless_allowed_and_then_with_a_warning():
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        check_host(host, allow_remote=False)
    with pytest.raises(InputError, match="refusing"):
        check_host("0.0.0.0", allow_remote=False)
    with pytest.warns(RemoteBindWarning, match="0.0.0.0"):
        check_host("0.0.0.0", allow_remote=True)


def test_the_key_is_generated_secret_and_checked(session, proxy):
    assert len(proxy.key) >= 32 and proxy.key not in repr(proxy) and proxy.key not in json.dumps(proxy.status())
    assert redact(f"key={proxy.key}") == "key=[redacted]"
    with pytest.raises(InputError, match="at least 8"):
        start(session, key="short")


def test_cors_is_off_unless_origins_are_allowed(session, proxy):
    preflight = {"Origin": "http://app.test", "Access-Control-Request-Method": "POST"}
    closed = httpx.options(proxy.url + "/v1/chat/completions", headers=preflight, timeout=5)
    assert "access-control-allow-origin" not in closed.headers
    with start(session, allow_origins=["http://app.test"]) as open_proxy:
        opened = httpx.options(open_proxy.url + "/v1/chat/completions", headers=preflight, timeout=5)
    assert opened.status_code == 200 and opened.headers["access-control-allow-origin"] == "http://app.test"


def test_the_serve_command_starts_reports_and_stops(session):
    started = serve_commands.serve_command(session, "--port 0")
    proxy = serve_commands.running(session)
    assert proxy is not None and proxy.url in started
    assert proxy.key not in started, "a notebook output is saved: the generated key goes to a private file"
    key_file = state_dir() / serve_commands.KEY_FILE
    assert str(key_file) in started and key_file.read_text().strip() == proxy.key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    try:
        with pytest.raises(InputError, match="already serving"):
            serve_commands.serve_command(session, "")
        with openai.OpenAI(base_url=proxy.url + "/v1", api_key=proxy.key, max_retries=0) as c:
            c.chat.completions.create(model="echo", messages=HELLO)
        status = serve_commands.serve_command(session, "status")
        assert "1 answers" in status and proxy.key not in status
    finally:
        stopped = serve_commands.serve_command(session, "stop")
    assert "Stopped" in stopped and not proxy.running and serve_commands.running(session) is None
    assert "not running" in serve_commands.serve_command(session, "status")
    with pytest.raises(InputError, match="cannot read"):
        serve_commands.serve_command(session, "--port nine")


@pytest.mark.skipif(sys.platform == "win32", reason="sends SIGINT")
def test_serve_forever_says_where_and_stops_on_ctrl_c(puter_server, ctrl_c_raises):
    env = os.environ | {
        "PUTER_API_ORIGIN": puter_server.api_origin,
        "PUTER_GUI_ORIGIN": puter_server.gui_origin,
        "PUTER_TOKEN": puter_server.token,
    }
    code = "from puter_magic.server import serve_forever; serve_forever(port=0)"
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
    with reaped(process):
        where, key_line = process.stdout.readline(), process.stdout.readline()  # "" if it died: then the asserts say
        base = re.search(r"http://127\.0\.0\.1:\d+/v1", where).group(0)
        key = key_line.split("API key: ")[1].split()[0]
        models = httpx.get(base + "/models", headers={"Authorization": f"Bearer {key}"}, timeout=5)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    assert models.status_code == 200 and "echo" in {m["id"] for m in models.json()["data"]}


def _fields(settings: Settings) -> dict:
    names = ("api_origin", "gui_origin", "rate_limit", "max_concurrent", "backoff_base", "backoff_cap")
    return {name: getattr(settings, name) for name in names}
