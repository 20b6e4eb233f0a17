"""`python -m puter_magic` as a user runs it: real processes against the local Puter server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


@pytest.fixture
def run_cli(puter_server, isolated_home):
    def run(*args: str, token: str | None = "admin", stdin: str = "", env: dict | None = None):
        environ = {
            **os.environ,
            "PUTER_API_ORIGIN": puter_server.api_origin,
            "PUTER_GUI_ORIGIN": puter_server.gui_origin,
            "PUTER_MAGIC_HOME": str(isolated_home),
            "PUTER_RATE_LIMIT": "off",
            **(env or {}),
        }
        if token == "admin":
            environ["PUTER_TOKEN"] = puter_server.token
        elif token:
            environ["PUTER_TOKEN"] = token
        return subprocess.run(
            [sys.executable, "-m", "puter_magic", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=environ,
            timeout=60,
        )

    return run


def test_chat_streams_the_answer(run_cli):
    result = run_cli("chat", "-m", "deterministic", "hello there")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Turn 1. You said: hello there.")


def test_chat_reads_standard_input(run_cli):
    result = run_cli("chat", "-m", "echo", "-", stdin="piped words")
    assert result.stdout.strip() == "piped words"


def test_models_lists_and_filters(run_cli):
    result = run_cli("models", "det")
    assert result.returncode == 0
    assert result.stdout.split()[0] == "deterministic"
    assert "1 of" in result.stderr


def test_login_status_logout_round_trip(run_cli, puter_server, isolated_home):
    login = run_cli("login", "-u", "admin", token=None, stdin=puter_server.admin_password + "\n")
    assert login.returncode == 0, login.stderr
    assert "Logged in" in login.stdout
    stored = json.loads((isolated_home / "credentials.json").read_text())
    assert puter_server.api_origin in stored
    assert stored[puter_server.api_origin]["token"] not in login.stdout + login.stderr
    status = run_cli("status", token=None)
    assert status.returncode == 0
    assert "as admin" in status.stdout
    logout = run_cli("logout", token=None)
    assert logout.returncode == 0
    status = run_cli("status", token=None)
    assert status.returncode == 1
    assert "not logged in" in status.stdout


@pytest.mark.parametrize(
    ("args", "token", "expected"),
    [
        (("chat", "-m", "no-such-model", "hi"), "admin", "pick a model from `%puter models`"),
        (("chat", "-m", "deterministic", "hi"), None, "log in"),
        (("chat", "-m", "deterministic", "hi"), "not-a-real-token", "log in again"),
        (("chat", "hi"), "admin", "pass --model or set PUTER_MODEL"),
        (("login", "-u", "admin"), None, "check the username and password"),
    ],
)
def test_expected_failures_are_one_line_without_a_traceback(run_cli, args, token, expected):
    result = run_cli(*args, token=token, stdin="wrong-password\n")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_server_that_is_down_names_the_url(run_cli):
    result = run_cli("chat", "-m", "x", "hi", env={"PUTER_API_ORIGIN": "http://127.0.0.1:9", "PUTER_MAX_RETRIES": "0"})
    assert result.returncode == 1
    assert "127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


def test_fake_server_prints_its_origins_and_serves(tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "puter_magic", "fake-server", "--port", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        assert "API origin:   http://api.puter.localhost:" in text
        token = next(line.split(":", 1)[1].strip() for line in lines if "Admin token" in line)
        origin = next(line.split()[2] for line in lines if "Connect to" in line)
        import httpx

        port = origin.rsplit(":", 1)[1]
        answer = httpx.get(
            f"{origin}/whoami", headers={"Host": f"api.puter.localhost:{port}", "Authorization": f"Bearer {token}"}
        )
        assert answer.json()["username"] == "admin"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
