"""The local Puter server against the exchanges of shared/puter-recorded-2.md §1-5b and §10 (numbered as there):
logout with anti-CSRF tokens, the login rate limit, /whoami by account kind, the GUI host used as API origin,
the session cookie on the API host, gzip and ETags, and what is metered.

Raw httpx over the real socket, as in test_local_server.py (whose helpers this file reuses).
"""

from __future__ import annotations

import gzip
import re
from typing import Any

import httpx
import pytest
from test_local_server import (
    JSON_TYPE,
    JWT_RE,
    Http,
    assert_matches,
    chat,
    compact,
    err,
    json_of,
    ndjson_lines,
    recorded_whoami,
)

ANTI_CSRF_RE = re.compile(r"[0-9a-f]{64}")
EXPIRED = "Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
BAD_ANTI_CSRF = err("Incorrect anti-CSRF token.", "bad_request")
NOT_FOUND = err("Not Found", "not_found")
CONFIRM_FIRST = err("Please confirm your email to continue", "email_confirmation_required")
TOO_MANY = err("Too many requests.", "too_many_requests")
NOT_FOUND_ETAG = 'W/"3e-Wmr/oPgGEnNUYn+/idpDF6s16dc"'  # recordings 51, 55, 86-88: the body is always the same


TIMES = frozenset({"created_ts", "human_readable_age", "last_activity_ts"})


class Account:
    """One login of a user, with both of its tokens: the JSON token and the session cookie."""

    def __init__(self, http: Http, response: httpx.Response) -> None:
        self.http = http
        self.body = json_of(response)
        self.token: str = self.body["token"]
        match = re.fullmatch(
            r"puter_auth_token=([^;]+); Path=/; HttpOnly; SameSite=Lax", response.headers["set-cookie"]
        )
        assert match is not None, response.headers["set-cookie"]
        self.cookie = match[1]
        http.client.cookies.clear()  # every request below names its credentials itself

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def cookie_header(self, value: str | None = None) -> dict[str, str]:
        return {"Cookie": f"puter_auth_token={value or self.cookie}"}

    def anti_csrf(self, headers: dict[str, str] | None = None) -> str:
        response = self.http.gui("GET", "/get-anticsrf-token", headers=headers or self.bearer())
        token = json_of(response)["token"]
        assert list(response.json()) == ["token"] and ANTI_CSRF_RE.fullmatch(token)
        return token

    def logout(self, anti_csrf: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        body = {} if anti_csrf is None else {"anti_csrf": anti_csrf}
        return self.http.gui("POST", "/logout", headers=headers or self.bearer(), json=body)


@pytest.fixture
def alice(http: Http) -> Account:
    http.server.state.add_user("rp_alice", "alice-password", email="rp_alice@example.com", email_confirmed=True)
    return Account(http, http.login("rp_alice", "alice-password"))


@pytest.fixture
def bob(http: Http) -> Account:
    state = http.server.state
    state.add_user("rp_bob", "bob-password", email="rp_bob@example.com", requires_email_confirmation=True)
    return Account(http, http.login("rp_bob", "bob-password"))


def test_the_test_client_keeps_no_cookies(http: Http, alice: Account) -> None:
    assert not http.client.cookies


def temp_account(http: Http) -> Account:
    return Account(http, http.gui("POST", "/signup", json={"is_temp": True}))


def assert_logged_out(response: httpx.Response, domain: str = "puter.localhost") -> None:
    """Recording 56: 200 text/html "logged out" and three cleared cookies."""
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == b"logged out"
    assert response.headers["etag"] == 'W/"a-Tulnr8I5a7ilRNX7HnW4Gbpf/9I"'
    assert response.headers.get_list("set-cookie") == [
        f"puter_auth_token=; {EXPIRED}",
        f"puter_token_v2=; {EXPIRED}",
        f"puter_elevated=; Domain={domain}; {EXPIRED}",
    ]


def assert_revoked(response: httpx.Response, user_uuid: str) -> None:
    """Recordings 57-60, 63: 401 reauth_required, reason session_revoked, the user's UUID and a reauth token."""
    body = json_of(response, 401)
    assert list(body) == ["error", "message", "code", "reason", "auth_id", "reauth_token"]
    assert body["code"] == "reauth_required" and body["reason"] == "session_revoked"
    assert body["auth_id"] == user_uuid and JWT_RE.fullmatch(body["reauth_token"])


# -- 1. logout ----------------------------------------------------------------------------------------------


def test_48_login_sets_a_cookie_that_is_another_token_of_the_session(http: Http, alice: Account) -> None:
    assert alice.cookie != alice.token and JWT_RE.fullmatch(alice.cookie)
    user = {"username": "rp_alice", "email": "rp_alice@example.com", "email_confirmed": True}
    assert alice.body["user"] | user == alice.body["user"]
    same = http.api("GET", "/whoami", token=None, headers=alice.cookie_header())
    assert json_of(same)["username"] == "rp_alice"


def test_49_50_anti_csrf_tokens_from_the_gui_host_by_cookie_or_bearer(alice: Account) -> None:
    from_cookie = alice.anti_csrf(alice.cookie_header())
    from_bearer = alice.anti_csrf(alice.bearer())
    assert from_cookie != from_bearer


def test_51_52_anti_csrf_tokens_are_not_on_the_api_host_nor_anonymous(http: Http, alice: Account) -> None:
    on_api = http.api("GET", "/get-anticsrf-token", token=alice.token)
    assert on_api.content == compact(NOT_FOUND) and on_api.status_code == 404
    assert on_api.headers["etag"] == NOT_FOUND_ETAG
    anonymous = http.gui("GET", "/get-anticsrf-token")
    assert json_of(anonymous, 401) == err("Missing authentication token", "token_missing")
    assert anonymous.headers["etag"] == 'W/"68-6zONz8chtpfMgs77oV57Ne2SXFg"'


@pytest.mark.parametrize("anti_csrf", [None, "not-a-valid-token"], ids=["53-without", "54-wrong"])
def test_53_54_logout_needs_a_valid_anti_csrf_token(http: Http, alice: Account, anti_csrf: str | None) -> None:
    response = alice.logout(anti_csrf)
    assert response.status_code == 400 and response.content == compact(BAD_ANTI_CSRF)
    assert response.headers["etag"] == 'W/"62-6kmf3itIGxMZT3NqDLop2Hu2oZM"'
    assert json_of(http.api("GET", "/whoami", token=alice.token))["username"] == "rp_alice", "still logged in"


def test_55_logout_on_the_api_host_is_404_and_keeps_the_anti_csrf_token(http: Http, alice: Account) -> None:
    anti_csrf = alice.anti_csrf()
    response = http.api("POST", "/logout", token=alice.token, json={"anti_csrf": anti_csrf})
    assert response.status_code == 404 and response.content == compact(NOT_FOUND)
    assert_logged_out(alice.logout(anti_csrf))


def test_56_to_60_logout_revokes_both_tokens_of_the_session(http: Http, alice: Account) -> None:
    anti_csrf = alice.anti_csrf(alice.cookie_header())
    assert_logged_out(alice.logout(anti_csrf, alice.bearer() | alice.cookie_header()))
    uuid = alice.body["user"]["uuid"]
    assert_revoked(http.api("GET", "/whoami", token=alice.token), uuid)
    assert_revoked(http.call(chat(), token=alice.token), uuid)
    assert_revoked(http.api("GET", "/whoami", token=None, headers=alice.cookie_header()), uuid)


def test_61_to_63_anti_csrf_tokens_are_single_use_and_belong_to_the_user(http: Http, alice: Account) -> None:
    spare = alice.anti_csrf(alice.bearer())  # minted through the first session, used by the second (62)
    used = alice.anti_csrf(alice.cookie_header())
    assert_logged_out(alice.logout(used))
    second = Account(http, http.login("rp_alice", "alice-password"))
    reused = second.logout(used)
    assert reused.status_code == 400 and reused.content == compact(BAD_ANTI_CSRF)
    assert_logged_out(second.logout(spare))
    assert_revoked(http.api("GET", "/whoami", token=second.token), second.body["user"]["uuid"])


def test_64_to_68_logging_out_a_temp_user_deletes_it(http: Http) -> None:
    temp = temp_account(http)
    assert temp.body["user"]["is_temp"] is True and temp.body["user"]["email"] is None
    assert_logged_out(temp.logout(temp.anti_csrf()))
    failed = err("Authentication failed", "token_auth_failed")
    whoami = http.api("GET", "/whoami", token=temp.token)
    assert json_of(whoami, 401) == failed and whoami.headers["etag"] == 'W/"5e-YzEwBZBIBa5XSiAmTZzDGGOGaFk"'
    assert json_of(http.call(chat(), token=temp.token), 401) == failed
    assert http.server.state.user(temp.body["user"]["username"]) is None


# -- 2. login rate limiting ---------------------------------------------------------------------------------


def login_as(http: Http, username: str, password: str, user_agent: str) -> httpx.Response:
    headers = {"User-Agent": user_agent}
    return http.gui("POST", "/login", headers=headers, json={"username": username, "password": password})


def test_69_to_72_the_eleventh_login_from_one_fingerprint_is_refused(http: Http) -> None:
    state = http.server.state
    state.add_user("rp_alice", "alice-password", email_confirmed=True)
    state.add_user("rp_bob", "bob-password")
    agent = "rec2-ratelimit/1.0"
    assert [login_as(http, "rp_alice", "alice-password", agent).status_code for _ in range(10)] == [200] * 10
    for username, password in [("rp_alice", "alice-password"), ("rp_bob", "bob-password"), ("rp_alice", "nope!!")]:
        response = login_as(http, username, password, agent)
        assert response.status_code == 429 and response.content == compact(TOO_MANY), username
        assert response.headers["etag"] == 'W/"58-Y+DdtEmigK4VTkv5NUTFOzqeK2k"'
        assert "retry-after" not in response.headers and not any(h.startswith("x-ratelimit") for h in response.headers)
    assert login_as(http, "rp_alice", "alice-password", "rec2-ratelimit-other-ua/1.0").status_code == 200


def test_73_a_restart_forgets_the_rate_limit(http: Http) -> None:
    http.server.state.settings.login_limit = 1
    agent = "rec2-ratelimit/1.0"
    assert login_as(http, "admin", http.server.admin_password, agent).status_code == 200
    assert login_as(http, "admin", http.server.admin_password, agent).status_code == 429
    http.server.reset()  # what a restart does to the in-memory limiter
    assert login_as(http, "admin", http.server.admin_password, agent).status_code == 200


def test_signup_has_its_own_limit_per_ip(http: Http) -> None:
    http.server.state.settings.login_ip_limit = 2
    for agent in ("a/1", "b/1"):
        assert json_of(http.gui("POST", "/signup", headers={"User-Agent": agent}, json={"is_temp": True}))
    third = http.gui("POST", "/signup", headers={"User-Agent": "c/1"}, json={"is_temp": True})
    assert third.status_code == 429 and third.content == compact(TOO_MANY)
    assert http.login().status_code == 200, "logins are counted apart from signups"


# -- 3. /whoami by account kind -----------------------------------------------------------------------------


def test_74_75_whoami_of_a_temp_user(http: Http) -> None:
    temp = temp_account(http)
    username = temp.body["user"]["username"]
    recorded = recorded_whoami(username, None, email_confirmed=False, is_temp=True, oidc_only=True)
    response = http.api("GET", "/whoami", token=temp.token)
    json_of(response)
    assert_matches(http.normalized(response), recorded, TIMES)
    assert response.json()["human_readable_age"] == "a few seconds ago"


def test_76_whoami_of_a_confirmed_user(http: Http, alice: Account) -> None:
    response = http.api("GET", "/whoami", token=alice.token)
    json_of(response)
    assert_matches(http.normalized(response), recorded_whoami("rp_alice", "rp_alice@example.com"), TIMES)


def test_77_78_an_unconfirmed_user_logs_in_and_reads_whoami(http: Http, bob: Account) -> None:
    user = bob.body["user"]
    assert (user["email_confirmed"], user["requires_email_confirmation"]) == (False, True)
    response = http.api("GET", "/whoami", token=bob.token)
    json_of(response)
    fields = {"email_confirmed": False, "requires_email_confirmation": True}
    assert_matches(http.normalized(response), recorded_whoami("rp_bob", "rp_bob@example.com", **fields), TIMES)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/drivers/call", chat()),
        ("POST", "/drivers/call", chat(stream=True)),
        ("POST", "/drivers/call", {"interface": "puter-chat-completion", "driver": "ai-chat", "method": "list"}),
        ("GET", "/metering/usage", None),
    ],
    ids=["79-chat", "80-chat-stream", "81-list", "82-metering"],
)
def test_79_to_82_an_unconfirmed_user_gets_403_elsewhere(
    http: Http, bob: Account, method: str, path: str, body: Any
) -> None:
    response = http.api(method, path, token=bob.token, json=body)
    assert json_of(response, 403) == CONFIRM_FIRST
    assert response.content == compact(CONFIRM_FIRST)
    assert response.headers["etag"] == 'W/"88-2AGFTKm3SIJZIO7aFAQPkfG7thM"'


# -- 4. the GUI host used as API origin ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/whoami", "/puterai/chat/models"], ids=["83-whoami", "84-chat-models"])
def test_83_84_gets_on_the_gui_host_redirect_to_the_home_page(http: Http, path: str) -> None:
    for method in ("GET", "HEAD"):
        response = http.api(method, path, host=http.server.gui_host)
        assert response.status_code == 302 and response.headers["location"] == "/"
        assert response.headers["content-type"] == "text/plain; charset=utf-8" and "etag" not in response.headers
        assert response.content == (b"Found. Redirecting to /" if method == "GET" else b"")


def test_85_the_redirect_lands_on_an_html_page(http: Http) -> None:
    response = http.api("GET", "/", host=http.server.gui_host)
    assert response.status_code == 200 and response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text.startswith("<!DOCTYPE html>") and "<title>Puter</title>" in response.text
    followed = http.client.get("/whoami", headers={"Host": http.server.gui_host}, follow_redirects=True)
    assert followed.status_code == 200 and followed.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path", "host"),
    [
        ("POST", "/drivers/call", "gui"),
        ("GET", "/whoami", "127.0.0.1"),
        ("GET", "/whoami", "localhost"),
    ],
    ids=["86-post-on-gui-host", "87-ip-host", "88-localhost-host"],
)
def test_86_to_88_other_methods_and_hosts_get_404_json(http: Http, method: str, path: str, host: str) -> None:
    name = http.server.gui_host if host == "gui" else f"{host}:{http.server.port}"
    response = http.api(method, path, host=name, json=chat() if method == "POST" else None)
    assert response.status_code == 404 and response.content == compact(NOT_FOUND)
    assert response.headers["etag"] == NOT_FOUND_ETAG


# -- 5. the session cookie on the API host ------------------------------------------------------------------


def test_89_90_the_cookie_alone_works_on_the_api_host(http: Http, alice: Account) -> None:
    assert json_of(http.api("GET", "/whoami", token=None, headers=alice.cookie_header()))["username"] == "rp_alice"
    answer = json_of(http.call(chat(), token=None, headers=alice.cookie_header()))
    assert answer["metadata"] == {"service_used": "fake-chat", "providerUsed": "fake"}


@pytest.mark.parametrize(
    ("origin", "credential", "status"),
    [
        ("api", "cookie", 200),
        ("gui", "cookie", 401),
        ("http://localhost:8888", "cookie", 401),
        ("http://localhost:8888", "bearer", 200),
    ],
    ids=["91-same-origin", "92-gui-origin", "93-foreign-origin", "94-bearer-foreign-origin"],
)
def test_91_to_94_the_cookie_counts_only_without_a_foreign_origin(
    http: Http, alice: Account, origin: str, credential: str, status: int
) -> None:
    origin = {"api": http.server.api_origin, "gui": http.server.gui_origin}.get(origin, origin)
    headers = {"Origin": origin} | (alice.cookie_header() if credential == "cookie" else alice.bearer())
    response = http.api("GET", "/whoami", token=None, headers=headers)
    body = json_of(response, status)
    if status == 401:
        assert body == err("Missing authentication token", "token_missing")
    assert response.headers["access-control-allow-origin"] == origin
    assert response.headers["access-control-allow-credentials"] == "true"


def test_95_the_cookie_may_carry_the_json_token(http: Http, alice: Account) -> None:
    response = http.api("GET", "/whoami", token=None, headers=alice.cookie_header(alice.token))
    assert json_of(response)["username"] == "rp_alice"


# -- 5b. content encoding -----------------------------------------------------------------------------------

GZIP = {"Accept-Encoding": "gzip, deflate"}


def test_96_large_json_is_gzipped_when_offered(http: Http) -> None:
    plain = http.api("GET", "/whoami", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and int(plain.headers["content-length"]) == len(plain.content)
    with http.client.stream("GET", "/whoami", headers=http.headers(http.server.api_host, "<admin token>", GZIP)) as r:
        raw = b"".join(r.iter_raw())
        assert r.status_code == 200 and r.headers["content-type"] == JSON_TYPE
        assert r.headers["content-encoding"] == "gzip" and r.headers["transfer-encoding"] == "chunked"
        assert "content-length" not in r.headers and r.headers["etag"] == plain.headers["etag"]
    assert gzip.decompress(raw) == plain.content


def test_97_a_chat_answer_of_a_kilobyte_is_gzipped(http: Http) -> None:
    body = chat("echo", messages=[{"role": "user", "content": "word " * 300}])
    response = http.call(body, headers=GZIP)
    assert response.headers["content-encoding"] == "gzip" and response.headers["etag"].startswith('W/"')
    assert json_of(response)["result"]["message"]["content"] == "word " * 300


def test_98_the_ndjson_stream_is_never_compressed(http: Http) -> None:
    headers = http.headers(http.server.api_host, "<admin token>", GZIP)
    with http.client.stream("POST", "/drivers/call", json=chat(stream=True), headers=headers) as response:
        raw = b"".join(response.iter_raw())
    assert "content-encoding" not in response.headers and "etag" not in response.headers
    assert [line["type"] for line in ndjson_lines(response, raw)] == ["text", "usage"]


def test_99_small_json_is_sent_plain_with_its_etag(http: Http) -> None:
    http.server.state.settings.self_hosted = True
    response = http.api("GET", "/puterai/chat/models", token=None, headers=GZIP)
    assert response.content == b'{"models":[]}' and "content-encoding" not in response.headers
    assert response.headers["content-length"] == "13"
    assert response.headers["etag"] == 'W/"d-l0CCmlLEdPZi1UG4BBXvmy0s+Zg"'


# -- 10. metering -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["170-costly", "172-costly-stream"])
def test_170_to_175_fake_chat_models_are_never_charged(http: Http, stream: bool) -> None:
    before = json_of(http.api("GET", "/metering/usage"))
    for model in ("costly", "fake", "abuse"):
        body = chat(model, stream=stream, messages=[{"role": "user", "content": "hello there, how are you today?"}])
        if stream:
            response, raw = http.stream(body)
            assert ndjson_lines(response, raw)[-1] == {"type": "usage", "usage": {"usd_cents": None}}
        else:
            assert json_of(http.call(body))["result"]["usage"]["usd_cents"] is None
    assert json_of(http.api("GET", "/metering/usage")) == before


def test_169_metering_of_a_user_with_usage_lists_types_totals_and_allowance(http: Http) -> None:
    json_of(http.call(chat("echo", messages=[{"role": "user", "content": "metered"}])))
    body = json_of(http.api("GET", "/metering/usage"))
    assert list(body) == ["usage", "appTotals", "allowanceInfo"]
    assert list(body["usage"]) == ["local:echo:prompt_tokens", "local:echo:completion_tokens", "total", "allowanceUsed"]
    assert all(list(entry) == ["units", "cost", "count"] for entry in list(body["usage"].values())[:2])
    assert list(body["appTotals"]) == ["os-global"] and list(body["appTotals"]["os-global"]) == ["total", "count"]
    assert list(body["allowanceInfo"]) == ["remaining", "monthUsageAllowance", "addons"]


def test_177_metering_of_a_new_temp_user(http: Http) -> None:
    temp = temp_account(http)
    response = http.api("GET", "/metering/usage", token=temp.token)
    allowance = {"remaining": 25_000_000, "monthUsageAllowance": 25_000_000, "addons": {}}
    assert response.content == compact({"usage": {"total": 0}, "appTotals": {}, "allowanceInfo": allowance})
    assert response.headers["etag"] == 'W/"76-IHhEUbW37V1w6GWPfgstIa2UDKo"'


# -- captcha (puter-protocol.md §1; off by default, as on a self-hosted backend) -----------------------------


def test_captcha_on_refuses_logins_and_temp_signups(http: Http) -> None:
    http.server.state.settings.captcha = True
    required = err("Captcha verification required.", "bad_request")
    assert json_of(http.login(), 400) == required
    assert json_of(http.gui("POST", "/signup", json={"is_temp": True}), 400) == required
