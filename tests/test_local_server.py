"""The local Puter server (puter_magic.testing) against the exchanges recorded from a real Puter backend
(shared/puter-recorded.md, numbered as there), and its test features: faults, control API, observability.

Raw httpx over the real socket: connect to 127.0.0.1:PORT and set the Host header explicitly.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest

import puter_magic.testing
from puter_magic.testing import Fault, LocalPuter, serve
from puter_magic.testing.models import ABUSE_TEXT

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"
CHAT = "puter-chat-completion"
ADMIN = "<admin token>"
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
JWT_RE = re.compile(r"eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+")


# -- recorded bodies (placeholders as in the recording; long texts shortened) ------------------------------


def _app(name: str, title: str, godmode: bool, url: str, description: str, icon: bool) -> dict[str, Any]:
    app: dict[str, Any] = {"uid": "app-<UUID>", "uuid": "app-<UUID>", "name": name, "title": title}
    if icon:
        app["icon"] = "http://api.puter.localhost:4100/app-icon/app-<UUID>/256"
    app |= {"godmode": godmode, "maximize_on_start": godmode, "index_url": url, "description": description}
    return app


def recorded_taskbar(icon: bool) -> list[dict[str, Any]]:
    recorder = (
        "Online voice recorder in the browser with cloud storage. Take voice memos by recording through your"
        " mic directly in your web browser on any device."
    )
    dev_center = "https://builtins.namespaces.puter.com/dev-center"
    return [
        _app("dev-center", "Dev Center", True, dev_center, "This is the app that makes apps", icon),
        _app("camera", "Camera", False, "https://online-camera.com", "Camera in the browser.", icon),
        _app("recorder", "Recorder", False, "https://voice-recorder.com", recorder, icon),
    ]


def recorded_login(**user: Any) -> dict[str, Any]:
    """Recording 01 (admin); 42 and 44 differ only in the user fields passed here."""
    fields = {
        "username": "admin",
        "uuid": "<UUID>",
        "email": None,
        "email_confirmed": False,
        "requires_email_confirmation": False,
        "phone": None,
        "requires_phone_verification": False,
        "requires_card_verification": False,
        "is_temp": False,
        "taskbar_items": recorded_taskbar(icon=True),
    }
    return {"proceed": True, "next_step": "complete", "token": "<TOKEN>", "user": fields | user}


def recorded_whoami(username: str, email: str | None, **fields: Any) -> dict[str, Any]:
    """Recordings 75, 76, 78 of puter-recorded-2.md, and 02 with its own times (their placeholders; the timestamps
    and age are compared by type only)."""
    body = {
        "username": username,
        "uuid": "<UUID>",
        "email": email,
        "unconfirmed_email": email,
        "email_confirmed": True,
        "requires_email_confirmation": False,
        "requires_phone_verification": False,
        "requires_card_verification": False,
        "desktop_bg_url": None,
        "desktop_bg_color": None,
        "desktop_bg_fit": None,
        "is_temp": False,
        "is_user_token": True,
        "referral_code": None,
        "oidc_only": False,
        "taskbar_items": recorded_taskbar(icon=False),
        "otp": False,
        "feature_flags": {},
        "created_ts": 1795954650,
        "human_readable_age": "7 minutes ago",
        "metadata": {},
        "hasDevAccountAccess": False,
        "directories": {
            f"/{username}/{name}": "<UUID>"
            for name in ("Desktop", "AppData", "Documents", "Pictures", "Videos", "Trash")
        },
        "last_activity_ts": 1795954845,
    }
    return body | fields


RECORDED_02_WHOAMI = recorded_whoami(
    "admin",
    None,
    created_ts=1795251861,
    human_readable_age="3 minutes ago",
    last_activity_ts=1795251861,  # cut from recording 02; present in 75, 76, 78 of puter-recorded-2.md
)


def recorded_chat(model: str = "fake", input_tokens: int = 0, output_tokens: int = 1) -> dict[str, Any]:
    """Recording 03 (also 21, 24, 26-29, 39, 45, 46 with their model and token counts)."""
    usage = {"input_tokens": input_tokens, "output_tokens": output_tokens, "usd_cents": None}
    message = {
        "id": "00000000-0000-0000-0000-000000000000",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": "Ad est occaecat culpa commodo tempor reprehenderit cillum no…"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    result = {"message": message, "usage": usage, "finish_reason": "stop", "via_ai_chat_service": True}
    metadata = {"service_used": "fake-chat", "providerUsed": model}
    return {"success": True, "result": result, "service": {"name": "ai-chat"}, "metadata": metadata}


def recorded_fake_model(model_id: str, input_cost: int, output_cost: int) -> dict[str, Any]:
    """An entry of recording 07."""
    return {
        "id": model_id,
        "aliases": [],
        "costs_currency": "usd-cents",
        "costs": {"input-tokens": input_cost, "output-tokens": output_cost},
        "max_tokens": 8192,
        "provider": "fake-chat",
    }


def _drivers(default: str, *others: str) -> dict[str, Any]:
    return {"drivers": [default, *others], "default": default}


RECORDED_09_INTERFACES = {
    "puter-kvstore": _drivers("puter-kvstore"),
    "puter-chat-completion": _drivers("ai-chat"),
    "puter-image-generation": _drivers(
        "ai-image",
        "openai-image-generation",
        "gemini-image-generation",
        "together-image-generation",
        "cloudflare-image-generation",
        "xai-image-generation",
        "replicate-image-generation",
        "byteplus-image-generation",
    ),
    "puter-tts": _drivers(
        "ai-tts", "aws-polly", "openai-tts", "elevenlabs-tts", "gemini-tts", "xai-tts", "speechify-tts"
    ),
    "puter-video-generation": _drivers(
        "ai-video",
        "openai-video-generation",
        "together-video-generation",
        "gemini-video-generation",
        "byteplus-video-generation",
    ),
    "puter-speech2speech": _drivers("ai-speech2speech", "elevenlabs-voice-changer"),
    "puter-speech2txt": _drivers("ai-speech2txt", "openai-speech2txt", "xai-speech2txt"),
    "puter-ocr": _drivers("ai-ocr", "aws-textract", "mistral"),
    "puter-apps": _drivers("es:app"),
    "puter-subdomains": _drivers("es:subdomain"),
    "puter-notifications": _drivers("es:notification"),
    "workers": _drivers("worker-service"),
    "app-telemetry": _drivers("app-telemetry"),
}


# -- helpers ------------------------------------------------------------------------------------------------


def compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def err(message: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"error": message, "message": message, "code": code, **extra}


def chat(model: str = "fake", *, stream: bool | None = None, **args: Any) -> dict[str, Any]:
    args = {"messages": [{"role": "user", "content": "hi"}], "model": model, **args}
    if stream is not None:
        args["stream"] = stream
    return {"interface": CHAT, "driver": "ai-chat", "method": "complete", "args": args}


def slow(chunks: int, rate: float = 0, **args: Any) -> dict[str, Any]:
    return chat("slow", stream=True, fake_chunks=chunks, fake_rate=rate, **args)


def assert_matches(actual: Any, recorded: Any, ignore: frozenset[str] = frozenset(), path: str = "$") -> None:
    """Same keys in the same order, same value types, same values (except for keys named in ``ignore``)."""
    assert type(actual) is type(recorded), f"{path}: {type(actual).__name__} != {type(recorded).__name__}"
    if isinstance(recorded, dict):
        assert list(actual) == list(recorded), f"{path}: keys {list(actual)} != {list(recorded)}"
        for key, value in recorded.items():
            if key in ignore:
                assert type(actual[key]) is type(value), f"{path}.{key}: type"
            else:
                assert_matches(actual[key], value, ignore, f"{path}.{key}")
    elif isinstance(recorded, list):
        assert len(actual) == len(recorded), f"{path}: length {len(actual)} != {len(recorded)}"
        for index, (item, expected) in enumerate(zip(actual, recorded, strict=True)):
            assert_matches(item, expected, ignore, f"{path}[{index}]")
    else:
        assert actual == recorded, f"{path}: {actual!r} != {recorded!r}"


class Http:
    """Raw HTTP to the server under test, with the Host header of the API or the GUI host."""

    def __init__(self, server: LocalPuter, client: httpx.Client) -> None:
        self.server = server
        self.client = client

    def headers(self, host: str, token: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Host": host}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.server.token if token == ADMIN else token}"
        return headers | (extra or {})

    def api(
        self,
        method: str,
        path: str,
        *,
        token: str | None = ADMIN,
        host: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        all_headers = self.headers(host or self.server.api_host, token, headers)
        return self.client.request(method, path, headers=all_headers, **kwargs)

    def gui(self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, headers={"Host": self.server.gui_host, **(headers or {})}, **kwargs)

    def call(self, body: Any, **kwargs: Any) -> httpx.Response:
        return self.api("POST", "/drivers/call", json=body, **kwargs)

    def login(self, username: str = "admin", password: str | None = None) -> httpx.Response:
        password = self.server.admin_password if password is None else password
        return self.gui("POST", "/login", json={"username": username, "password": password})

    def normalized(self, response: httpx.Response) -> Any:
        """The JSON body with UUIDs, tokens and our port replaced by the recording's placeholders."""
        text = UUID_RE.sub("<UUID>", JWT_RE.sub("<TOKEN>", response.text))
        return json.loads(text.replace(f"localhost:{self.server.port}", "localhost:4100"))

    def open_stream(self, body: Any, **kwargs: Any) -> AbstractContextManager[httpx.Response]:
        """``POST /drivers/call`` as admin, for reading the answer as it arrives."""
        headers = self.headers(self.server.api_host, ADMIN, None)
        return self.client.stream("POST", "/drivers/call", json=body, headers=headers, **kwargs)

    def stream(self, body: Any, **kwargs: Any) -> tuple[httpx.Response, bytes]:
        with self.open_stream(body, **kwargs) as response:
            return response, response.read()


def json_of(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON_TYPE
    return response.json()


def ndjson_lines(response: httpx.Response, raw: bytes) -> list[dict[str, Any]]:
    """Check the NDJSON framing (200, content type, every line ends with \\n) and parse the lines."""
    assert response.status_code == 200
    assert response.headers["content-type"] == NDJSON_TYPE
    assert response.headers["transfer-encoding"] == "chunked"
    assert raw.endswith(b"\n")
    return [json.loads(line) for line in raw.split(b"\n")[:-1]]


def texts(lines: list[dict[str, Any]]) -> str:
    return "".join(line["text"] for line in lines if line["type"] == "text")


# -- recorded exchanges: accounts ---------------------------------------------------------------------------


def test_01_login_answers_the_recorded_body_and_cookie(http: Http) -> None:
    response = http.login()
    body = json_of(response)
    assert_matches(http.normalized(response), recorded_login())
    cookie = re.fullmatch(r"puter_auth_token=([^;]+); Path=/; HttpOnly; SameSite=Lax", response.headers["set-cookie"])
    assert cookie is not None and JWT_RE.fullmatch(cookie[1])
    assert cookie[1] != body["token"], "the cookie is another token of the same session (recording 48)"
    assert JWT_RE.fullmatch(body["token"])
    assert body["user"]["taskbar_items"][0]["icon"].startswith(f"{http.server.api_origin}/app-icon/app-")


def test_47_login_on_the_ip_host_is_the_gui_host(http: Http) -> None:
    response = http.client.post(
        "/login",
        headers={"Host": f"127.0.0.1:{http.server.port}"},
        json={"username": "admin", "password": http.server.admin_password},
    )
    json_of(response)
    assert_matches(http.normalized(response), recorded_login())


def test_02_whoami_answers_the_recorded_shape(http: Http) -> None:
    token = http.login().json()["token"]
    response = http.api("GET", "/whoami", token=token)
    json_of(response)
    ignore = frozenset({"created_ts", "human_readable_age", "last_activity_ts"})
    assert_matches(http.normalized(response), RECORDED_02_WHOAMI, ignore)
    assert response.json()["human_readable_age"] == "a few seconds ago"


def test_42_43_signup_needs_email_confirmation_before_chatting(http: Http) -> None:
    fields = {"username": "pytester", "email": "pytester@example.com", "password": "pytester-pass-123"}
    response = http.gui("POST", "/signup", json=fields)
    token = json_of(response)["token"]
    user = {"username": "pytester", "email": "pytester@example.com", "requires_email_confirmation": True}
    assert_matches(http.normalized(response), recorded_login(**user))
    assert response.headers["set-cookie"].startswith("puter_auth_token=eyJ")
    chat_response = http.call(chat(), token=token)
    message = "Please confirm your email to continue"
    assert json_of(chat_response, 403) == err(message, "email_confirmation_required")
    assert chat_response.content == compact(err(message, "email_confirmation_required"))


def test_44_45_temp_signup_can_chat(http: Http) -> None:
    response = http.gui("POST", "/signup", json={"is_temp": True})
    body = json_of(response)
    assert re.fullmatch(r"[a-z]+_[a-z]+_\d{6}", body["user"]["username"])
    assert_matches(http.normalized(response), recorded_login(is_temp=True), frozenset({"username"}))
    chat_response = http.call(chat(), token=body["token"])
    assert_matches(json_of(chat_response), recorded_chat(), frozenset({"text"}))


def test_signup_rejects_a_taken_username(http: Http) -> None:
    fields = {"username": "pytester", "email": "pytester@example.com", "password": "pytester-pass-123"}
    json_of(http.gui("POST", "/signup", json=fields))
    again = http.gui("POST", "/signup", json=fields | {"email": "other@example.com"})
    message = "This username already exists in our database. Please use another one."
    assert again.content == compact(err(message, "bad_request"))


def test_login_by_email_and_logout_revokes_the_token(http: Http) -> None:
    http.server.state.add_user("bob", "bob-password", email="bob@example.com", email_confirmed=True)
    token = json_of(http.gui("POST", "/login", json={"email": "bob@example.com", "password": "bob-password"}))["token"]
    assert json_of(http.api("GET", "/whoami", token=token))["username"] == "bob"
    bearer = {"Authorization": f"Bearer {token}"}
    anti_csrf = json_of(http.gui("GET", "/get-anticsrf-token", headers=bearer))["token"]
    logout = http.gui("POST", "/logout", headers=bearer, json={"anti_csrf": anti_csrf})
    assert logout.status_code == 200 and logout.text == "logged out"
    after = http.api("GET", "/whoami", token=token)
    assert json_of(after, 401)["reason"] == "session_revoked"


def test_login_with_two_factor_authentication(http: Http) -> None:
    http.server.state.add_user("otto", "otto-password", otp_code="123456")
    first = http.login("otto", "otto-password")
    body = json_of(first, 202)
    assert list(body) == ["proceed", "next_step", "otp_jwt_token"]
    assert body["proceed"] is True and body["next_step"] == "otp"
    assert JWT_RE.fullmatch(body["otp_jwt_token"])
    wrong = http.gui("POST", "/login/otp", json={"token": body["otp_jwt_token"], "code": "000000"})
    assert wrong.status_code == 200 and wrong.content == b'{"proceed":false}'
    right = http.gui("POST", "/login/otp", json={"token": body["otp_jwt_token"], "code": "123456"})
    assert_matches(http.normalized(right), recorded_login(username="otto"))
    assert json_of(http.api("GET", "/whoami", token=right.json()["token"]))["otp"] is True
    bad = http.gui("POST", "/login/otp", json={"token": "a.b.c", "code": "123456"})
    assert bad.status_code == 400 and bad.content == compact(err("Invalid token.", "bad_request"))


def test_an_expired_otp_token_is_refused(http: Http) -> None:
    http.server.state.add_user("otto", "otto-password", otp_code="123456")
    http.server.state.settings.otp_ttl = 0
    otp_token = json_of(http.login("otto", "otto-password"), 202)["otp_jwt_token"]
    response = http.gui("POST", "/login/otp", json={"token": otp_token, "code": "123456"})
    assert json_of(response, 400) == err("Invalid token.", "bad_request")


# -- recorded exchanges: errors -----------------------------------------------------------------------------

Case = Callable[[Http], httpx.Response]
ERROR_CASES: list[Any] = [
    pytest.param(
        lambda p: p.call(chat(stream=False), token=None),
        401,
        err("Missing authentication token", "token_missing"),
        id="10-no-token",
    ),
    pytest.param(
        lambda p: p.call(chat(stream=False), token="not-a-real-token"),
        401,
        err("Re-authentication required", "reauth_required", reason="token_v1"),
        id="11-bad-token",
    ),
    pytest.param(
        lambda p: p.call(chat(stream=False), token="eyJhbGciOiJIUzI1NiJ9.eyJ4IjoxfQ.c2lnbmF0dXJl"),
        401,
        err("Authentication failed", "token_auth_failed"),
        id="12-bad-signature",
    ),
    pytest.param(
        lambda p: p.call(chat("no-such-model-xyz", stream=False)),
        400,
        err("Model not found: no-such-model-xyz", "bad_request"),
        id="13-unknown-model",
    ),
    pytest.param(
        lambda p: p.call(chat("no-such-model-xyz", stream=True)),
        400,
        err("Model not found: no-such-model-xyz", "bad_request"),
        id="14-unknown-model-stream",
    ),
    pytest.param(
        lambda p: p.api(
            "POST",
            "/drivers/call",
            content=b'{"interface":"puter-chat-completion", "method":',
            headers={"Content-Type": "application/json"},
        ),
        400,
        err("Malformed JSON in request body", "client_bad_json"),
        id="15-malformed-json",
    ),
    pytest.param(
        lambda p: p.call({"method": "complete", "args": {}}),
        400,
        err("Missing or invalid `interface`", "bad_request"),
        id="16-missing-interface",
    ),
    pytest.param(
        lambda p: p.call(chat() | {"driver": "openai-completion"}),
        404,
        err("Driver not found: puter-chat-completion:openai-completion", "not_found"),
        id="17-unknown-driver",
    ),
    pytest.param(
        lambda p: p.call({"interface": CHAT, "driver": "ai-chat", "method": "nope", "args": {}}),
        404,
        err("Method 'nope' not found on driver 'puter-chat-completion'", "not_found"),
        id="18-unknown-method",
    ),
    pytest.param(
        lambda p: p.call({"interface": "no-such-iface", "method": "complete", "args": {}}),
        404,
        err("Driver not found: no-such-iface:(no default)", "not_found"),
        id="19-unknown-interface",
    ),
    pytest.param(
        lambda p: p.call({"interface": CHAT, "driver": "ai-chat", "method": "complete", "args": {"messages": []}}),
        400,
        err("Model not found: undefined", "bad_request"),
        id="20-no-model-arg",
    ),
    pytest.param(
        lambda p: p.call(chat(stream=False), host=p.server.gui_host),
        404,
        err("Not Found", "not_found"),
        id="22-wrong-host",
    ),
    pytest.param(
        lambda p: p.call(chat(stream=False), host=f"127.0.0.1:{p.server.port}"),
        404,
        err("Not Found", "not_found"),
        id="23-ip-host",
    ),
    pytest.param(
        lambda p: p.login("admin", "wrongpassword"),
        401,
        err("Incorrect password.", "password_mismatch"),
        id="30-login-wrong-password",
    ),
    pytest.param(
        lambda p: p.login("nobody", "whatever123"),
        404,
        err("Username not found.", "not_found"),
        id="31-login-unknown-user",
    ),
    pytest.param(
        lambda p: p.gui(
            "POST",
            "/login",
            headers={"Origin": "http://evil.example"},
            json={"username": "admin", "password": p.server.admin_password},
        ),
        403,
        err("This endpoint cannot be called cross-origin.", "forbidden"),
        id="32-login-foreign-origin",
    ),
    pytest.param(
        lambda p: p.api("POST", "/login", token=None, json={"username": "admin", "password": "x" * 8}),
        404,
        err("Not Found", "not_found"),
        id="33-login-via-api-host",
    ),
    pytest.param(lambda p: p.api("GET", "/drivers/call"), 404, err("Not Found", "not_found"), id="35-get-drivers-call"),
    pytest.param(
        lambda p: p.gui("POST", "/login", json={"password": "secret-password"}),
        400,
        err("Username or email is required.", "bad_request"),
        id="login-missing-username",
    ),
    pytest.param(
        lambda p: p.gui("POST", "/login", json={"username": "admin"}),
        400,
        err("Password is required.", "password_required"),
        id="login-missing-password",
    ),
]


@pytest.mark.parametrize(("send", "status", "expected"), ERROR_CASES)
def test_error_answers_match_the_recordings_byte_for_byte(
    http: Http, send: Case, status: int, expected: dict[str, Any]
) -> None:
    response = send(http)
    assert response.status_code == status
    assert response.headers["content-type"] == JSON_TYPE
    assert response.content == compact(expected)


def test_login_from_the_gui_origin_is_allowed(http: Http) -> None:
    fields = {"username": "admin", "password": http.server.admin_password}
    response = http.gui("POST", "/login", headers={"Origin": http.server.gui_origin}, json=fields)
    assert json_of(response)["next_step"] == "complete"


# -- recorded exchanges: chat -------------------------------------------------------------------------------


def test_03_fake_model_non_stream(http: Http) -> None:
    assert_matches(json_of(http.call(chat(stream=False))), recorded_chat(), frozenset({"text"}))


def test_04_fake_model_stream(http: Http) -> None:
    response, raw = http.stream(chat(stream=True))
    lines = ndjson_lines(response, raw)
    assert [line["type"] for line in lines] == ["text", "usage"]
    assert list(lines[0]) == ["type", "text"] and len(lines[0]["text"]) > 50
    assert raw.split(b"\n")[-2] == b'{"type":"usage","usage":{"usd_cents":null}}'


def test_04b_each_ndjson_line_is_one_http_chunk(puter_server: LocalPuter) -> None:
    body = compact(chat(stream=True))
    head = (
        f"POST /drivers/call HTTP/1.1\r\nHost: {puter_server.api_host}\r\n"
        f"Authorization: Bearer {puter_server.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    received = b""
    with socket.create_connection(("127.0.0.1", puter_server.port), timeout=5) as sock:
        sock.sendall(head.encode() + body)
        while data := sock.recv(65536):
            received += data
    headers, _, payload = received.partition(b"\r\n\r\n")
    assert headers.startswith(b"HTTP/1.1 200 OK")
    assert b"\r\ncontent-type: application/x-ndjson\r\n" in headers.lower() + b"\r\n"
    assert b"\r\ntransfer-encoding: chunked" in headers.lower()
    chunks = []
    while True:
        size_line, _, payload = payload.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert payload == b"\r\n"
            break
        chunks.append(payload[:size])
        assert payload[size : size + 2] == b"\r\n"
        payload = payload[size + 2 :]
    assert len(chunks) == 2
    assert all(chunk.count(b"\n") == 1 and chunk.endswith(b"\n") for chunk in chunks)
    assert chunks[1] == b'{"type":"usage","usage":{"usd_cents":null}}\n'  # the recorded "2c" chunk


def test_05_06_self_hosted_model_lists_are_empty(http: Http) -> None:
    http.server.state.settings.self_hosted = True
    for path in ("/puterai/chat/models", "/puterai/chat/models/details"):
        response = http.api("GET", path, token=None)
        assert json_of(response) == {"models": []} and response.content == b'{"models":[]}'


def test_public_model_lists_hide_the_fake_models(http: Http) -> None:
    ids = json_of(http.api("GET", "/puterai/chat/models", token=None))["models"]
    assert ids == ["deterministic", "echo", "slow"]
    details = json_of(http.api("GET", "/puterai/chat/models/details", token=None))["models"]
    assert [model["id"] for model in details] == ids
    keys = ["id", "name", "aliases", "costs_currency", "input_cost_key", "output_cost_key", "costs", "context"]
    assert all(list(model) == [*keys, "max_tokens", "provider"] for model in details)
    assert {model["provider"] for model in details} == {"local"}


def test_07_models_method_lists_the_fake_models_as_recorded(http: Http) -> None:
    body = json_of(http.call({"interface": CHAT, "driver": "ai-chat", "method": "models", "args": {}}))
    assert list(body) == ["success", "result", "service"] and body["service"] == {"name": "ai-chat"}
    by_id = {model["id"]: model for model in body["result"]}
    recorded = [recorded_fake_model("abuse", 0, 0), recorded_fake_model("costly", 1000, 2000)]
    recorded.append(recorded_fake_model("fake", 0, 0))
    assert [compact(by_id[model["id"]]) for model in recorded] == [compact(model) for model in recorded]
    assert [model["id"] for model in body["result"]] == sorted(by_id)


def test_08_25_list_method_with_the_token_in_the_body(http: Http) -> None:
    body = {"auth_token": http.server.token, "interface": CHAT, "driver": "ai-chat", "method": "list", "args": {}}
    result = json_of(http.call(body, token=None))
    assert list(result) == ["success", "result", "service"]
    assert result["result"] == ["abuse", "costly", "deterministic", "echo", "fake", "slow"]


def test_09_list_interfaces(http: Http) -> None:
    response = http.api("GET", "/drivers/list-interfaces")
    json_of(response)
    assert response.content == compact(RECORDED_09_INTERFACES)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"interface": CHAT, "method": "complete", "args": chat()["args"]}, id="21-no-driver-field"),
        pytest.param(chat() | {"args": {"model": "fake"}}, id="28-missing-messages"),
        pytest.param(
            chat(
                messages=[
                    {"role": "system", "content": "be brief"},
                    {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                ],
                max_tokens=50,
                temperature=0,
            ),
            id="29-content-parts-and-system",
        ),
        pytest.param(chat("FAKE"), id="case-insensitive-model"),
    ],
)
def test_fake_model_variants(http: Http, body: dict[str, Any]) -> None:
    assert_matches(json_of(http.call(body)), recorded_chat(), frozenset({"text"}))


def test_24_text_plain_actually_json(http: Http) -> None:
    content = compact(chat())
    headers = {"Content-Type": "text/plain;actually=json"}
    response = http.api("POST", "/drivers/call", content=content, headers=headers)
    assert_matches(json_of(response), recorded_chat(), frozenset({"text"}))


def test_26_costly_model_counts_tokens(http: Http) -> None:
    body = chat("costly", messages=[{"role": "user", "content": "hello there, how are you today?"}])
    result = json_of(http.call(body))
    assert_matches(result, recorded_chat("costly", 8, 89), frozenset({"text", "output_tokens"}))
    assert 50 <= result["result"]["usage"]["output_tokens"] < 200


def test_27_abuse_model_sends_the_promo_text(http: Http) -> None:
    result = json_of(http.call(chat("abuse")))
    assert_matches(result, recorded_chat("abuse"), frozenset({"text"}))
    text = result["result"]["message"]["content"][0]["text"]
    assert text == ABUSE_TEXT and text.startswith("<h2>Free AI and Cloud for everyone!</h2><br />\nCome on down")


def test_41_costly_stream(http: Http) -> None:
    body = chat("costly", stream=True, messages=[{"role": "user", "content": "hello there, how are you today?"}])
    response, raw = http.stream(body)
    lines = ndjson_lines(response, raw)
    assert [line["type"] for line in lines] == ["text", "usage"]
    assert lines[-1] == {"type": "usage", "usage": {"usd_cents": None}}


def test_46_a_burst_of_calls_is_not_rate_limited(http: Http) -> None:
    statuses = [http.call(chat()).status_code for _ in range(15)]
    assert statuses == [200] * 15


# -- local models -------------------------------------------------------------------------------------------


def test_deterministic_model_is_deterministic(http: Http) -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "second"},
    ]
    first, second = (json_of(http.call(chat("deterministic", messages=messages))) for _ in range(2))
    assert first == second
    text = first["result"]["message"]["content"]
    assert text.startswith("Turn 2. You said: second. Before that you said: first. ")
    other = json_of(http.call(chat("deterministic", messages=[*messages[:2], {"role": "user", "content": "x"}])))
    assert other["result"]["message"]["content"].split(". ")[-1] != text.split(". ")[-1]


def test_deterministic_model_streams_word_sized_lines_with_openai_usage(http: Http) -> None:
    response, raw = http.stream(chat("deterministic", stream=True))
    lines = ndjson_lines(response, raw)
    assert len(lines) > 5 and all(line["type"] == "text" for line in lines[:-1])
    assert texts(lines).startswith("Turn 1. You said: hi. ") and lines[0]["text"] == "Turn "
    usage = lines[-1]
    assert list(usage["usage"]) == ["prompt_tokens", "completion_tokens", "usd_cents"]
    non_stream = json_of(http.call(chat("deterministic")))["result"]
    assert non_stream["message"]["content"] == texts(lines)
    assert non_stream["usage"] == usage["usage"]


def test_echo_model_answers_in_the_openai_shape(http: Http) -> None:
    said = "  Hello,  wörld!\nsecond line "
    body = json_of(http.call(chat("Local/Echo", messages=[{"role": "user", "content": said}])))
    assert body["metadata"] == {"service_used": "local", "providerUsed": "echo"}
    result = body["result"]
    keys = ["index", "message", "logprobs", "finish_reason", "usage", "via_ai_chat_service"]
    assert list(result) == keys
    assert result["message"] == {"role": "assistant", "content": said, "refusal": None, "annotations": []}
    assert result["usage"]["prompt_tokens"] == 8 and result["usage"]["completion_tokens"] == 8
    assert isinstance(result["usage"]["usd_cents"], float)


def test_echo_model_streams_word_by_word(http: Http) -> None:
    response, raw = http.stream(chat("echo", stream=True, messages=[{"role": "user", "content": "one two three"}]))
    lines = ndjson_lines(response, raw)
    assert [line.get("text") for line in lines[:-1]] == ["one ", "two ", "three"]
    assert lines[-1]["type"] == "usage"


def test_slow_model_respects_fake_chunks_and_fake_rate(http: Http) -> None:
    response, raw = http.stream(slow(7))
    lines = ndjson_lines(response, raw)
    assert [line["type"] for line in lines] == ["text"] * 7 + ["usage"]
    started = time.monotonic()
    response, raw = http.stream(slow(6, rate=25))
    assert time.monotonic() - started >= 5 / 25
    assert len(ndjson_lines(response, raw)) == 7


def test_slow_model_firehose(http: Http) -> None:
    response, raw = http.stream(slow(5000))
    lines = ndjson_lines(response, raw)
    assert len(lines) == 5001 and lines[-1]["type"] == "usage"


def test_latency_delays_each_completion(http: Http) -> None:
    http.server.state.settings.latency = 0.25
    started = time.monotonic()
    json_of(http.call(chat()))
    assert time.monotonic() - started >= 0.25


# -- credit -------------------------------------------------------------------------------------------------


def test_metering_reflects_the_calls_of_local_models(http: Http) -> None:
    before = json_of(http.api("GET", "/metering/usage"))
    assert list(before) == ["usage", "appTotals", "allowanceInfo"]
    assert before == {
        "usage": {"total": 0},
        "appTotals": {},
        "allowanceInfo": {"remaining": 10_000_000_000, "monthUsageAllowance": 10_000_000_000, "addons": {}},
    }
    body = chat("deterministic", messages=[{"role": "user", "content": "hello there, how are you today?"}])
    usage = json_of(http.call(body))["result"]["usage"]
    input_cost, output_cost = usage["prompt_tokens"] * 100, usage["completion_tokens"] * 200
    cost = input_cost + output_cost
    after = json_of(http.api("GET", "/metering/usage"))
    assert list(after["usage"])[-2:] == ["total", "allowanceUsed"]
    assert after["usage"]["total"] == after["usage"]["allowanceUsed"] == cost
    entry = {"units": usage["prompt_tokens"], "cost": input_cost, "count": 1}
    assert after["usage"]["local:deterministic:prompt_tokens"] == entry
    assert after["appTotals"] == {"os-global": {"total": cost, "count": 2}}
    assert after["allowanceInfo"]["remaining"] == 10_000_000_000 - cost


def test_new_users_get_the_free_allowances(http: Http) -> None:
    temp = json_of(http.gui("POST", "/signup", json={"is_temp": True}))["token"]
    allowance = json_of(http.api("GET", "/metering/usage", token=temp))["allowanceInfo"]
    assert allowance == {"remaining": 25_000_000, "monthUsageAllowance": 25_000_000, "addons": {}}
    http.server.state.add_user("carol", "carol-password", email_confirmed=True)
    token = http.server.state.issue_token("carol")
    assert json_of(http.api("GET", "/metering/usage", token=token))["allowanceInfo"]["remaining"] == 50_000_000


@pytest.mark.parametrize("stream", [False, True])
def test_no_credit_left_is_402_with_the_upgrade_header(http: Http, stream: bool) -> None:
    http.server.state.set_remaining("admin", 0)
    response = http.call(chat(stream=stream))
    assert response.status_code == 402 and response.headers["x-needs-upgrade"] == "true"
    assert response.content == compact(err("No usage left for request.", "insufficient_funds"))


# -- modes --------------------------------------------------------------------------------------------------


def test_v1_mode_driver_errors_are_200_envelopes(http: Http) -> None:
    http.server.state.settings.v1_mode = True
    body = json_of(http.call(chat("no-such-model")))
    assert list(body) == ["success", "error"] and body["success"] is False
    error = body["error"]
    assert list(error)[:4] == ["message", "code", "$", "status"]
    assert (error["code"], error["$"], error["status"], error["got"]) == (
        "field_invalid",
        "heyputer:api/APIError",
        400,
        "no-such-model",
    )
    unknown_driver = json_of(http.call(chat() | {"driver": "nope"}))["error"]
    assert (unknown_driver["code"], unknown_driver["status"]) == ("no_implementation_available", 502)
    assert json_of(http.call(chat() | {"driver": "claude"}))["success"] is True
    assert http.call(chat(), token=None).status_code == 401  # auth gates still answer with HTTP errors


def test_v1_mode_streams_have_no_usage_line(http: Http) -> None:
    http.server.state.settings.v1_mode = True
    response, raw = http.stream(slow(3))
    assert [line["type"] for line in ndjson_lines(response, raw)] == ["text"] * 3


def test_v1_mode_without_credit_answers_usage_limited(http: Http) -> None:
    http.server.state.settings.v1_mode = True
    http.server.state.set_remaining("admin", 0)
    body = json_of(http.call(chat()))
    assert list(body) == ["success", "service", "result", "metadata"]
    assert body["success"] is True and body["metadata"]["usage_limited"] is True
    assert body["result"]["message"]["content"][0]["text"] == "You have reached your AI usage limit for this account."
    response, raw = http.stream(chat(stream=True))
    lines = ndjson_lines(response, raw)
    assert [line["type"] for line in lines] == [
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_stop",
    ]
    assert lines[1]["delta"]["text"] == "You have reached your AI usage limit for this account."


@pytest.mark.parametrize("driver", ["openai-completion", "claude", "together-ai", "gemini"])
def test_permissive_mode_accepts_legacy_driver_names(http: Http, driver: str) -> None:
    assert http.call(chat() | {"driver": driver}).status_code == 404
    http.server.state.settings.permissive = True
    assert_matches(json_of(http.call(chat() | {"driver": driver})), recorded_chat(), frozenset({"text"}))
    assert http.call(chat() | {"driver": "no-such-driver"}).status_code == 404


def test_without_host_routing_every_route_answers_on_any_host(http: Http) -> None:
    server = http.server
    assert (server.api_origin, server.gui_origin) == (
        f"http://api.puter.localhost:{server.port}",
        f"http://puter.localhost:{server.port}",
    )
    server.state.settings.host_routing = False
    assert server.api_origin == server.gui_origin == server.origin == f"http://127.0.0.1:{server.port}"
    ip_host = f"127.0.0.1:{server.port}"
    assert json_of(http.call(chat(), host=ip_host))["success"] is True
    fields = {"username": "admin", "password": server.admin_password}
    assert json_of(http.api("POST", "/login", token=None, json=fields))["next_step"] == "complete"


@pytest.mark.parametrize(
    "place",
    [
        pytest.param(lambda token: {"headers": {"x-api-key": token}}, id="x-api-key"),
        pytest.param(lambda token: {"params": {"auth_token": token}}, id="query"),
    ],
)
def test_other_token_places(http: Http, place: Callable[[str], dict[str, Any]]) -> None:
    response = http.api("GET", "/whoami", token=None, **place(http.server.token))
    assert json_of(response)["username"] == "admin"


def test_the_body_token_wins_over_the_header(http: Http) -> None:
    body = chat() | {"auth_token": http.server.token}
    assert json_of(http.call(body, token="eyJ.eyJ.garbage"))["success"] is True


# -- faults -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after", "expected", "headers"),
    [
        (401, None, err("Authentication failed", "token_auth_failed"), {}),
        (402, None, err("No usage left for request.", "insufficient_funds"), {"x-needs-upgrade": "true"}),
        (429, 0.2, err("Too many requests.", "too_many_requests"), {"retry-after": "0.2"}),
        (429, 3, err("Too many requests.", "too_many_requests"), {"retry-after": "3"}),
        (500, None, err("Internal Server Error", "internal_error"), {}),
        (503, None, err("Service Unavailable", "service_unavailable"), {}),
    ],
)
def test_status_faults(
    http: Http, status: int, retry_after: float | None, expected: dict[str, Any], headers: dict[str, str]
) -> None:
    http.server.state.inject(Fault.http(status, retry_after=retry_after))
    response = http.call(chat())
    assert response.status_code == status and response.content == compact(expected)
    assert response.headers["content-type"] == JSON_TYPE
    assert {key: response.headers.get(key) for key in headers} == headers
    assert http.call(chat()).status_code == 200  # a queued fault is used up


def test_queued_faults_honour_count_and_path(http: Http) -> None:
    http.server.state.inject(Fault.http(503, count=2, path="/drivers/call"))
    assert http.api("GET", "/whoami").status_code == 200
    assert [http.call(chat()).status_code for _ in range(3)] == [503, 503, 200]


def test_persistent_faults_last_until_cleared(http: Http) -> None:
    http.server.state.inject(Fault.http(500), persistent=True)
    assert [http.call(chat()).status_code for _ in range(3)] == [500, 500, 500]
    http.server.state.clear_faults()
    assert http.call(chat()).status_code == 200


def test_drop_fault_aborts_the_connection(http: Http) -> None:
    http.server.state.inject(Fault.drop(after=2))
    received: list[str] = []
    with pytest.raises(httpx.RemoteProtocolError), http.open_stream(slow(10)) as response:
        received.extend(response.iter_lines())
    assert len(received) == 2 and all(json.loads(line)["type"] == "text" for line in received)
    assert http.server.state.wait_for(lambda s: s.stats()["streams_dropped"] == 1), http.server.state.stats()


def test_error_line_fault_ends_the_stream_with_an_error(http: Http) -> None:
    http.server.state.inject(Fault.error_line(after=2, message="boom"))
    response, raw = http.stream(slow(10))
    lines = ndjson_lines(response, raw)
    assert [line["type"] for line in lines] == ["text", "text", "error"]
    assert lines[-1] == {"type": "error", "message": "boom"}


def test_truncate_fault_ends_cleanly_without_usage(http: Http) -> None:
    http.server.state.inject(Fault.truncate(after=3))
    response, raw = http.stream(slow(10))
    assert [line["type"] for line in ndjson_lines(response, raw)] == ["text"] * 3


def test_malformed_fault_sends_a_line_that_is_not_json(http: Http) -> None:
    http.server.state.inject(Fault.malformed(after=1))
    response, raw = http.stream(slow(3))
    assert response.status_code == 200 and raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    assert len(lines) == 5
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[1])
    assert [json.loads(line)["type"] for line in [lines[0], *lines[2:]]] == ["text", "text", "text", "usage"]


def test_stall_fault_mid_stream(http: Http) -> None:
    http.server.state.inject(Fault.stall(seconds=3, after=1))
    received: list[str] = []
    timeout = httpx.Timeout(5, read=0.3)
    with pytest.raises(httpx.ReadTimeout), http.open_stream(slow(5), timeout=timeout) as response:
        received.extend(response.iter_lines())
    assert len(received) == 1
    assert http.server.state.wait_for(lambda state: len(state.cancelled_streams) == 1, timeout=5)


@pytest.mark.parametrize("stream", [True, False])
def test_stall_fault_before_the_response_headers(http: Http, stream: bool) -> None:
    http.server.state.inject(Fault.stall(seconds=3))
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        http.call(chat(stream=stream), timeout=httpx.Timeout(5, read=0.3))
    assert time.monotonic() - started < 2
    assert http.server.state.wait_for(lambda state: state.in_flight == 0, timeout=5)


# -- control API --------------------------------------------------------------------------------------------


def test_control_api_answers_on_every_loopback_host(http: Http) -> None:
    for host in (f"127.0.0.1:{http.server.port}", http.server.api_host, http.server.gui_host):
        info = json_of(http.client.get("/__fake__/", headers={"Host": host}))
        assert info["admin_token"] == http.server.token
        assert info["api_origin"] == http.server.api_origin and info["gui_origin"] == http.server.gui_origin


def test_control_api_faults(http: Http) -> None:
    fault = {"kind": "status", "status": 429, "retry_after": 0.5, "path": "/drivers/call"}
    added = json_of(http.client.post("/__fake__/faults", json=fault))
    assert added["queued"][0]["status"] == 429 and added["persistent"] == []
    response = http.call(chat())
    assert response.status_code == 429 and response.headers["retry-after"] == "0.5"
    persistent = [{"kind": "drop", "after": 1, "persistent": True}, {"kind": "truncate", "count": 2}]
    listed = json_of(http.client.post("/__fake__/faults", json={"faults": persistent}))
    assert [f["kind"] for f in listed["persistent"]] == ["drop"] and listed["queued"][0]["count"] == 2
    assert json_of(http.client.delete("/__fake__/faults")) == {"queued": [], "persistent": []}
    bad = http.client.post("/__fake__/faults", json={"kind": "explode"})
    assert json_of(bad, 400)["code"] == "bad_request"


def test_control_api_settings_users_and_reset(http: Http) -> None:
    settings = json_of(http.client.post("/__fake__/settings", json={"permissive": True, "slow_rate": 0}))
    assert settings["permissive"] is True and settings["slow_rate"] == 0
    assert json_of(http.client.post("/__fake__/settings", json={"latency": "soon"}), 400)["code"] == "bad_request"
    user = json_of(
        http.client.post("/__fake__/users", json={"username": "dora", "password": "dora-pass", "remaining": 0})
    )
    assert user["user"]["remaining"] == 0
    assert http.call(chat(), token=user["token"]).status_code == 402
    assert json_of(http.client.post("/__fake__/reset")) == {"ok": True}
    assert json_of(http.client.get("/__fake__/settings"))["permissive"] is False
    assert http.login("dora", "dora-pass").status_code == 404
    assert http.api("GET", "/whoami").status_code == 200  # the admin token survives a reset


def test_request_log_in_process_and_over_http(http: Http) -> None:
    started = time.monotonic()
    http.call(chat())
    http.client.get("/__fake__/stats")
    [record] = http.server.state.requests
    assert (record.method, record.path, record.host) == ("POST", "/drivers/call", http.server.api_host)
    assert record.authorization == f"Bearer {http.server.token}" and record.body == chat()
    assert started <= record.time <= time.monotonic()
    logged = json_of(http.client.get("/__fake__/requests"))["requests"]
    assert [entry["path"] for entry in logged] == ["/drivers/call"]
    assert json_of(http.client.delete("/__fake__/requests")) == {"requests": []}
    assert http.server.state.requests == []


# -- observability ------------------------------------------------------------------------------------------


def test_max_in_flight_counts_concurrent_streams(http: Http) -> None:
    server = http.server
    headers = http.headers(server.api_host, ADMIN, None)

    async def one(client: httpx.AsyncClient) -> list[str]:
        async with client.stream("POST", "/drivers/call", json=slow(12, rate=40), headers=headers) as response:
            return [line async for line in response.aiter_lines()]

    async def three() -> list[list[str]]:
        async with httpx.AsyncClient(base_url=server.origin, timeout=10) as client:
            return list(await asyncio.gather(one(client), one(client), one(client)))

    assert [len(lines) for lines in asyncio.run(three())] == [13, 13, 13]
    assert server.state.wait_for(lambda state: state.stats()["streams_completed"] == 3), server.state.stats()
    assert server.state.stats()["max_in_flight"] == 3
    assert server.state.wait_for(lambda state: state.in_flight == 0, timeout=5)


def test_a_stream_the_client_abandons_is_recorded_as_cancelled(http: Http) -> None:
    with http.open_stream(slow(1000, rate=50)) as response:
        first = next(response.iter_lines())
    assert json.loads(first)["type"] == "text"
    state = http.server.state
    assert state.wait_for(lambda s: len(s.cancelled_streams) == 1, timeout=5)
    [cancelled] = state.cancelled_streams
    assert cancelled.model == "slow" and cancelled.lines_sent < 1000
    assert state.stats()["streams_cancelled"] == 1
    assert json_of(http.client.get("/__fake__/stats"))["streams"][0]["outcome"] == "cancelled"


def test_cors_preflight(http: Http) -> None:
    headers = {"Host": http.server.api_host, "Origin": "http://localhost:8888"}
    headers |= {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    response = http.client.options("/drivers/call", headers=headers)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:8888"
    assert response.headers["access-control-allow-headers"] == "authorization"


# -- the package --------------------------------------------------------------------------------------------


def test_public_names_are_importable() -> None:
    assert all(getattr(puter_magic.testing, name) is not None for name in puter_magic.testing.__all__)


def test_the_pytest_plugin_imports_no_web_framework() -> None:
    code = (
        "import sys, puter_magic.testing.pytest_plugin;"
        "assert not {'starlette', 'uvicorn'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_serve_runs_and_stops_an_asgi_app(puter_server: LocalPuter) -> None:
    with serve(puter_server.app) as server:
        assert server.port != puter_server.port
        response = httpx.get(f"{server.origin}/__fake__/stats", timeout=5)
        assert response.status_code == 200
    assert server.wait(timeout=0)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.origin}/__fake__/stats", timeout=5)
