"""Account flows as the real backend does them (shared/puter-recorded-2.md §1-4), through the Puter provider and
the command line, against the local Puter server: where the password goes, logout, the login rate limit,
unconfirmed e-mail, the GUI host used as API origin, and temporary (guest) accounts."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest
from test_puter_provider import settings_for

from puter_magic.config import CredentialStore, Settings, state_dir
from puter_magic.datatypes import ChatRequest, Message
from puter_magic.errors import (
    ConfigurationError,
    LoginFailed,
    NotLoggedIn,
    PuterError,
    RateLimited,
    VerificationRequired,
)
from puter_magic.providers.puter import PuterProvider
from puter_magic.testing import Fault

pytestmark = pytest.mark.anyio
HI = ChatRequest((Message("user", "hi"),), "fake")


@pytest.fixture
async def connect(puter_server):
    """Build providers on the local server; all are closed after the test."""
    made: list[PuterProvider] = []

    def make(**overrides) -> PuterProvider:
        made.append(PuterProvider(settings_for(puter_server, **overrides)))
        return made[-1]

    yield make
    for provider in made:
        await provider.aclose()


@pytest.fixture
def run_cli(puter_server, isolated_home):
    """`python -m puter_magic ARGS` in a terminal pointed at the local server (token: PUTER_TOKEN, or none)."""

    def run(*args: str, token: str | None = None, stdin: str = "", env: dict | None = None):
        environ = {
            **os.environ,
            "PUTER_API_ORIGIN": puter_server.api_origin,
            "PUTER_GUI_ORIGIN": puter_server.gui_origin,
            "PUTER_MAGIC_HOME": str(isolated_home),
            "PUTER_RATE_LIMIT": "off",
            **({"PUTER_TOKEN": token} if token else {}),
            **(env or {}),
        }
        command = [sys.executable, "-m", "puter_magic", *args]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, env=environ, timeout=60)

    return run


def paths(server) -> list[str]:
    return [request.path for request in server.state.requests]


def whoami_with(server, token: str) -> httpx.Response:
    headers = {"Host": server.api_host, "Authorization": f"Bearer {token}"}
    return httpx.get(f"{server.origin}/whoami", headers=headers, timeout=10)


# -- the password goes only where the user chose ------------------------------------------------------------


@pytest.mark.parametrize(
    ("api_origin", "gui_origin"),
    [
        ("http://api.puter.localhost:4100", "http://puter.localhost:4100"),
        ("https://api.example.org", "https://example.org"),
        ("https://api.puter.com", "https://puter.com"),
        ("http://127.0.0.1:4100", ""),
        ("https://puter.example.org", ""),
        ("http://localhost:4100", ""),
    ],
)
def test_the_gui_origin_follows_from_the_api_origin(api_origin, gui_origin):
    assert Settings.load({"PUTER_API_ORIGIN": api_origin}).gui_origin == gui_origin
    chosen = {"PUTER_API_ORIGIN": api_origin, "PUTER_GUI_ORIGIN": "https://login.example.net"}
    assert Settings.load(chosen).gui_origin == "https://login.example.net"


async def test_no_password_is_sent_when_the_gui_origin_cannot_be_told(connect, puter_server):
    provider = connect(api_origin=puter_server.origin, gui_origin="", token=None)
    with pytest.raises(ConfigurationError) as caught:
        await provider.login("admin", puter_server.admin_password)
    assert "PUTER_GUI_ORIGIN" in caught.value.one_line() and "--gui-origin" in caught.value.one_line()
    assert paths(puter_server) == []


def test_the_cli_refuses_before_asking_for_the_password(run_cli, puter_server):
    origin = f"http://127.0.0.1:{puter_server.port}"
    env = {"PUTER_API_ORIGIN": origin, "PUTER_GUI_ORIGIN": ""}
    result = run_cli("login", "-u", "admin", token=None, env=env, stdin=puter_server.admin_password + "\n")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith(f"error: cannot tell where to log in for the API origin {origin}")
    assert "PUTER_GUI_ORIGIN" in result.stderr and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr and paths(puter_server) == []


def test_the_cli_logs_in_at_the_derived_gui_origin(run_cli, puter_server):
    env = {"PUTER_GUI_ORIGIN": ""}  # only PUTER_API_ORIGIN (http://api.puter.localhost:PORT) is set
    result = run_cli("login", "-u", "admin", token=None, env=env, stdin=puter_server.admin_password + "\n")
    assert result.returncode == 0, result.stderr
    login = next(r for r in puter_server.state.requests if r.path == "/login")
    assert login.host == puter_server.gui_host


# -- logout ends the session on the server ------------------------------------------------------------------


async def test_logout_ends_the_session_on_the_server(connect, puter_server):
    provider = connect(token=None)
    await provider.login("admin", puter_server.admin_password)
    token = provider.settings.token
    assert provider._client.cookies, "the login left the session cookie in the client"
    puter_server.state.clear_requests()
    await provider.logout()
    anti_csrf, logout = puter_server.state.requests
    assert (anti_csrf.method, anti_csrf.path, anti_csrf.host) == ("GET", "/get-anticsrf-token", puter_server.gui_host)
    assert (logout.method, logout.path, logout.host) == ("POST", "/logout", puter_server.gui_host)
    assert list(logout.body) == ["anti_csrf"] and logout.authorization == f"Bearer {token}"
    refused = whoami_with(puter_server, token)
    assert refused.status_code == 401 and refused.json()["reason"] == "session_revoked"
    assert not provider.logged_in and not provider._client.cookies
    assert CredentialStore(state_dir()).get(puter_server.api_origin) is None
    with pytest.raises(NotLoggedIn):
        await provider.whoami()


async def test_a_refused_logout_says_so_and_still_forgets_the_token(connect, puter_server):
    provider = connect()
    CredentialStore(state_dir()).put(puter_server.api_origin, puter_server.token)
    puter_server.state.inject(Fault.http(400, path="/logout", message="Incorrect anti-CSRF token."))
    with pytest.raises(PuterError) as caught:
        await provider.logout()
    line = caught.value.one_line()
    assert "did not end the session (Incorrect anti-CSRF token)" in line and "forgotten here" in line
    assert not provider.logged_in and CredentialStore(state_dir()).get(puter_server.api_origin) is None
    assert whoami_with(puter_server, puter_server.token).status_code == 200, "the server kept the session"


async def test_logging_out_a_session_the_server_already_ended_is_quiet(connect, puter_server):
    token = puter_server.state.issue_token("admin")
    puter_server.state.revoke_token(token)
    provider = connect(token=token)
    await provider.logout()
    assert paths(puter_server) == ["/get-anticsrf-token"]


def test_cli_logout_then_the_token_is_refused(run_cli, puter_server):
    token = puter_server.state.issue_token("admin")
    result = run_cli("logout", token=token)
    assert result.returncode == 0 and result.stdout.startswith("Logged out"), result.stderr
    assert whoami_with(puter_server, token).json()["code"] == "reauth_required"


# -- login is never retried ---------------------------------------------------------------------------------


async def test_a_rate_limited_login_is_one_attempt_and_one_line(connect, puter_server):
    puter_server.state.settings.login_limit = 0
    provider = connect(token=None, max_retries=3)
    with pytest.raises(RateLimited) as caught:
        await provider.login("admin", puter_server.admin_password)
    line = caught.value.one_line()
    assert line.startswith("too many login attempts — wait about 15 minutes, or log in with a token")
    assert paths(puter_server) == ["/login"], "never retried: each retry resends the password"


async def test_a_rate_limited_one_time_code_is_not_retried_either(connect, puter_server):
    puter_server.state.add_user("otto", "otto-password", otp_code="123456")
    puter_server.state.inject(Fault.http(429, retry_after=0, path="/login/otp"))
    provider = connect(token=None, max_retries=3)
    with pytest.raises(RateLimited, match="too many login attempts"):
        await provider.login("otto", "otto-password", otp="123456")
    assert paths(puter_server) == ["/login", "/login/otp"]


# -- an account whose e-mail is not confirmed ---------------------------------------------------------------


@pytest.fixture
def bob_token(puter_server) -> str:
    puter_server.state.add_user("rp_bob", "bob-password", email="bob@example.com", requires_email_confirmation=True)
    return puter_server.state.issue_token("rp_bob")


async def test_status_says_the_email_is_not_confirmed(connect, bob_token):
    status = await connect(token=bob_token).status()
    assert status.user is not None and status.user.username == "rp_bob"
    assert status.error is not None and status.error.startswith("the e-mail address of rp_bob is not confirmed yet")
    assert "open the link in the e-mail" in status.error


async def test_chat_of_an_unconfirmed_account_is_one_line(connect, bob_token):
    with pytest.raises(VerificationRequired) as caught:
        await connect(token=bob_token).complete(HI)
    assert caught.value.one_line() == (
        "this Puter account's e-mail address is not confirmed yet"
        " — open the link in the e-mail Puter sent you (the website can send it again), then try again"
    )


def test_cli_status_of_an_unconfirmed_account_fails(run_cli, bob_token):
    result = run_cli("status", token=bob_token)
    assert result.returncode == 1
    assert "as rp_bob, but the e-mail address of rp_bob is not confirmed yet" in result.stdout


# -- the GUI host given as API origin -----------------------------------------------------------------------


async def test_the_gui_host_as_api_origin_is_named_as_such(connect, puter_server):
    provider = connect(api_origin=puter_server.gui_origin)
    for call in (provider.whoami, provider.models):
        with pytest.raises(ConfigurationError) as caught:
            await call()
        assert caught.value.one_line() == (
            f"{puter_server.gui_origin} looks like Puter's GUI origin, not its API origin"
            f" — use http://api.{puter_server.gui_host} as the API origin (PUTER_API_ORIGIN)"
        )


# -- temporary (guest) accounts -----------------------------------------------------------------------------


async def test_a_guest_login_makes_a_temporary_account_and_status_says_so(connect, puter_server):
    provider = connect(token=None)
    user = await provider.login_guest()
    assert user.is_temp and CredentialStore(state_dir()).get(puter_server.api_origin) == provider.settings.token
    status = await provider.status()
    assert status.error is None and status.user is not None and status.user.username == user.username
    assert status.note == "a temporary account: its work is lost unless you claim it on the website"
    signup = next(r for r in puter_server.state.requests if r.path == "/signup")
    assert signup.body == {"is_temp": True} and signup.host == puter_server.gui_host


async def test_a_guest_login_behind_a_captcha_is_one_line(connect, puter_server):
    puter_server.state.settings.captcha = True
    with pytest.raises(LoginFailed) as caught:
        await connect(token=None).login_guest()
    assert caught.value.one_line().startswith(
        "this Puter server wants a captcha solved before it creates a temporary account — do it on the website"
    )


def test_cli_guest_login_and_status(run_cli, puter_server):
    login = run_cli("login", "--guest", token=None)
    assert login.returncode == 0, login.stderr
    assert "(a temporary account: its work is lost unless you claim it on the website)" in login.stdout
    status = run_cli("status", token=None)
    assert status.returncode == 0, status.stderr
    assert "(a temporary account: its work is lost unless you claim it on the website)" in status.stdout
    logout = run_cli("logout", token=None)
    assert logout.returncode == 0, logout.stderr
    username = login.stdout.split(" as ", 1)[1].split(" ", 1)[0]
    assert puter_server.state.user(username) is None, "logging out a temporary account deletes it"
