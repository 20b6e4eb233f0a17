"""Every failure a user can cause on the command line: exactly one line on stderr, in the terminal's words (no
`%puter`), nothing on stdout, exit status 1, no traceback. Real processes against the local Puter server."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from cli_runs import cli_environment, cli_runner

from puter_magic.testing import Fault

MODELS_HINT = "pass --model NAME or set PUTER_MODEL; `puter-magic models` lists them"


@pytest.fixture
def run_cli(puter_server, isolated_home):
    return cli_runner(puter_server, isolated_home)


@pytest.mark.parametrize(
    ("args", "token", "expected"),
    [
        (
            ("chat", "-m", "no-such-model", "hi"),
            "admin",
            "Model not found: no-such-model — pick a model from `puter-magic models`",
        ),
        (("chat", "hi"), "admin", f"no model chosen — {MODELS_HINT}"),
        (
            ("chat", "-m", "echo"),
            "admin",
            "the question is empty — pass it as an argument, or pipe it to standard input",
        ),
        (("chat", "-m", "echo", "--new", "hi"), "admin", "--new starts a thread over — name the thread with -t NAME"),
        (
            ("models", "--key-env", "K"),
            "admin",
            "--key-env needs --provider — name the server with --provider NAME|URL",
        ),
        (
            ("login", "-u", "admin"),
            None,
            "standard input ended before the login was complete — run it in a terminal, or set PUTER_TOKEN",
        ),
    ],
)
def test_a_mistake_is_one_line(run_cli, args, token, expected):
    result = run_cli(*args, token=token)
    assert (result.returncode, result.stdout, result.stderr) == (1, "", f"error: {expected}\n")


def test_an_unknown_provider_lists_the_known_ones(run_cli):
    result = run_cli("chat", "--provider", "nope", "-m", "x", "hi")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith("error: unknown provider 'nope' — use one of puter, ollama, ")
    assert result.stderr.endswith(", or a base URL\n") and result.stderr.count("\n") == 1


def test_not_logged_in_names_the_cli_login(run_cli):
    result = run_cli("chat", "-m", "echo", "hi", token=None)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert result.stderr.endswith(" — log in with `puter-magic login` or set PUTER_TOKEN\n")


def test_a_rejected_token_is_one_hint_in_status(run_cli):
    result = run_cli("status", token="not-a-real-token")
    assert result.returncode == 1 and result.stderr == ""
    assert result.stdout.count("—") == 1 and result.stdout.endswith(" — puter-magic login\n"), result.stdout
    assert "%puter" not in result.stdout and ". —" not in result.stdout


def test_a_wrong_password_reads_cleanly(run_cli):
    result = run_cli("login", "-u", "admin", token=None, stdin="wrong-password\n")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.count("\n") == 1 and result.stderr.endswith(" — check the username and password\n")
    assert ". —" not in result.stderr, "no doubled punctuation before the hint"


def test_a_short_retry_after_is_a_moment_not_zero_seconds(run_cli, puter_server):
    puter_server.state.inject(Fault.http(429, retry_after=0.2, count=5))
    result = run_cli("chat", "-m", "echo", "hi", env={"PUTER_MAX_RETRIES": "0"})
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.endswith(" — wait a moment and try again\n") and result.stderr.count("\n") == 1


def test_a_failure_after_some_text_adds_nothing_to_stdout(run_cli, puter_server):
    puter_server.state.inject(Fault.drop(after=2))
    result = run_cli("chat", "-m", "deterministic", "hello")
    assert result.returncode == 1
    assert not result.stdout.endswith("\n"), "the partial answer is not finished with a stray newline"
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1


def test_a_server_that_is_down_names_the_url(run_cli):
    result = run_cli("chat", "-m", "x", "hi", env={"PUTER_API_ORIGIN": "http://127.0.0.1:9", "PUTER_MAX_RETRIES": "0"})
    assert (result.returncode, result.stdout) == (1, "")
    assert "127.0.0.1:9" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize("command", ["fake-server", "serve"])
def test_a_port_in_use_is_one_line(run_cli, command):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(command, "--port", str(port))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use — pick another --port\n"


@pytest.mark.parametrize("missing", ["uvicorn", "starlette"])
def test_serve_without_the_server_extra_says_what_to_install(puter_server, isolated_home, missing):
    """A None entry in sys.modules is what Python reports as a missing module (ModuleNotFoundError)."""
    code = f"import sys; sys.modules[{missing!r}] = None; from puter_magic.cli import main; sys.exit(main(['serve']))"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=cli_environment(puter_server, isolated_home),
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (1, "")
    expected = f"error: this command needs {missing}, which is not installed — pip install 'puter-magic[server]'\n"
    assert result.stderr == expected
