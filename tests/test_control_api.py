"""The local Puter server's control API (/__fake__/) answers this machine's clients only: not a web page the user
visits (no CORS, no foreign Origin), not another site's name rebound to 127.0.0.1, not other machines unless asked."""

from __future__ import annotations

import io
import time

import httpx
import pytest

from puter_magic.cli import main
from puter_magic.testing import FakePuter, LocalPuter
from puter_magic.testing.local import check_bind_host
from puter_magic.testing.payloads import whoami_body

EVIL = "http://evil.example"


@pytest.fixture
def client(puter_server: LocalPuter):
    with httpx.Client(base_url=puter_server.origin, timeout=10) as client:
        yield client


def own_host(server: LocalPuter) -> str:
    return f"127.0.0.1:{server.port}"


def assert_refused(response: httpx.Response, server: LocalPuter) -> None:
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"
    assert server.token not in response.text and server.admin_password not in response.text
    assert not [name for name in response.headers if name.startswith("access-control-")]


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "puter.localhost", "api.puter.localhost", "[::1]"])
def test_the_control_api_answers_on_ip_addresses_and_loopback_names(client, puter_server, name):
    info = client.get("/__fake__/", headers={"Host": f"{name}:{puter_server.port}"})
    assert info.status_code == 200 and info.json()["admin_token"] == puter_server.token


@pytest.mark.parametrize("name", ["evil.example", "127.0.0.1.evil.example", "localhost.evil.example", ""])
def test_a_name_rebound_to_loopback_gets_nothing(client, puter_server, name):
    host = f"{name}:{puter_server.port}" if name else ""
    puter_server.state.settings.latency = 0.25
    assert_refused(client.get("/__fake__/", headers={"Host": host}), puter_server)
    assert_refused(client.post("/__fake__/reset", headers={"Host": host}), puter_server)
    assert puter_server.state.settings.latency == 0.25, "the refused reset did nothing"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},  # a sandboxed frame or a file:// page
        {"Origin": "http://localhost:8888"},  # another local web app (a notebook server) is another origin too
        {"Sec-Fetch-Site": "cross-site"},  # a browser request that carries no Origin
    ],
)
def test_a_web_page_can_neither_read_nor_reset_the_control_api(client, puter_server, headers):
    headers = {"Host": own_host(puter_server), **headers}
    puter_server.state.settings.latency = 0.25
    assert_refused(client.get("/__fake__/", headers=headers), puter_server)
    text_plain = {"Content-Type": "text/plain"}  # a "simple" request: a browser sends it without a preflight
    assert_refused(client.post("/__fake__/reset", headers=headers | text_plain), puter_server)
    user = client.post("/__fake__/users", headers=headers | text_plain, content=b'{"username": "mallory"}')
    assert_refused(user, puter_server)
    assert puter_server.state.settings.latency == 0.25 and puter_server.state.user("mallory") is None


def test_a_preflight_for_the_control_api_gets_no_cors_headers(client, puter_server):
    headers = {"Host": own_host(puter_server), "Origin": EVIL, "Access-Control-Request-Method": "POST"}
    response = client.options("/__fake__/reset", headers=headers | {"Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 404
    assert not [name for name in response.headers if name.startswith("access-control-")]


def test_a_page_of_the_server_itself_and_clients_without_origin_are_answered(client, puter_server):
    same = client.get("/__fake__/", headers={"Host": own_host(puter_server), "Origin": puter_server.origin})
    assert same.status_code == 200 and same.json()["admin_token"] == puter_server.token
    assert "access-control-allow-origin" not in same.headers
    typed = client.get("/__fake__/stats", headers={"Sec-Fetch-Site": "none"})  # the user typed the address
    assert typed.status_code == 200


def test_the_puter_api_still_answers_other_origins_with_cors(client, puter_server):
    headers = {"Host": puter_server.api_host, "Origin": EVIL, "Authorization": f"Bearer {puter_server.token}"}
    response = client.get("/whoami", headers=headers)
    assert response.status_code == 200 and response.headers["access-control-allow-origin"] == EVIL


# -- fake-server on an address other machines reach ---------------------------------------------------------


def test_fake_server_on_a_public_address_is_refused_in_one_line_without_the_flag(capsys):
    assert main(["fake-server", "--host", "0.0.0.0", "--port", "0"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: refusing to listen on 0.0.0.0") and err.count("\n") == 1
    assert "--allow-remote" in err


def test_with_the_flag_a_public_address_is_warned_about():
    warned = io.StringIO()
    check_bind_host("0.0.0.0", allow_remote=True, err=warned)
    assert warned.getvalue().startswith("warning: listening on 0.0.0.0: anyone who reaches it can read the admin")
    assert warned.getvalue().count("\n") == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_addresses_need_no_flag_and_get_no_warning(host):
    quiet = io.StringIO()
    check_bind_host(host, allow_remote=False, err=quiet)
    assert quiet.getvalue() == ""


# -- reset --------------------------------------------------------------------------------------------------


def test_reset_makes_the_admin_new_again(monkeypatch):
    """A session-long server is reset before each test: whoami must not age with the test run."""
    state = FakePuter()
    an_hour_later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: an_hour_later)
    state.reset()
    admin = state.user("admin")
    assert admin is not None and admin.created_ts == an_hour_later
    assert whoami_body(state, admin)["human_readable_age"] == "a few seconds ago"
