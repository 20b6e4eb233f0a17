"""`python -m puter_magic` as a user runs it: real processes against the local Puter server."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from cli_runs import cli_environment, cli_runner


@pytest.fixture
def run_cli(puter_server, isolated_home):
    return cli_runner(puter_server, isolated_home)


def test_chat_streams_the_answer(run_cli):
    result = run_cli("chat", "-m", "deterministic", "hello there")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Turn 1. You said: hello there.")
    assert result.stdout.endswith(".\n") and result.stderr == ""


def test_chat_reads_standard_input(run_cli):
    assert run_cli("chat", "-m", "echo", "-", stdin="piped words").stdout == "piped words\n"
    assert run_cli("chat", "-m", "echo", stdin="no prompt argument").stdout == "no prompt argument\n"
    assert run_cli("chat", "-m", "echo", "Review:", "-", stdin="the diff\n").stdout == "Review: the diff\n"


def test_chat_options_reach_the_server(run_cli, puter_server):
    result = run_cli(
        "chat", "-m", "echo", "--top-p", "0.5", "--stop", "END", "--stop", "FIN", "--seed", "7", "--no-stream", "hi"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "hi\n"
    args = next(r.body["args"] for r in puter_server.state.requests if r.path == "/drivers/call")
    assert (args["top_p"], args["stop"], args["seed"], args.get("stream", False)) == (0.5, ["END", "FIN"], 7, False)


def test_chat_json_is_one_object_for_scripts(run_cli):
    result = run_cli("chat", "-m", "echo", "--json", "héllo")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert (answer["text"], answer["model"], answer["provider"], answer["thread"]) == ("héllo", "echo", "puter", None)
    assert answer["usage"]["output_tokens"] > 0 and not answer["interrupted"]


def test_a_thread_is_kept_between_runs(run_cli, isolated_home):
    first = run_cli("chat", "-m", "deterministic", "-t", "ideas", "one")
    assert first.returncode == 0, first.stderr
    second = run_cli("chat", "-m", "deterministic", "-t", "ideas", "two")
    assert "Turn 2. You said: two. Before that you said: one." in second.stdout
    saved = json.loads((isolated_home / "conversations.json").read_text())
    assert [turn["prompt"] for turn in saved["threads"]["ideas"]["turns"]] == ["one", "two"]
    again = run_cli("chat", "-m", "deterministic", "-t", "ideas", "--new", "three")
    assert again.stdout.startswith("Turn 1. You said: three.")
    unthreaded = run_cli("chat", "-m", "deterministic", "four")
    assert unthreaded.stdout.startswith("Turn 1. You said: four.")
    saved = json.loads((isolated_home / "conversations.json").read_text())
    assert [turn["prompt"] for turn in saved["threads"]["ideas"]["turns"]] == ["three"]


def test_chat_reaches_an_openai_compatible_server(run_cli):
    from puter_magic.testing.openai_server import LocalOpenAI

    with LocalOpenAI(api_key="sk-local") as server:
        args = ("--provider", server.base_url, "--key-env", "LOCAL_KEY")
        result = run_cli("chat", *args, "-m", "echo", "over there", env={"LOCAL_KEY": "sk-local"})
        assert result.returncode == 0, result.stderr
        assert result.stdout == "over there\n"
        listed = run_cli("models", *args, env={"LOCAL_KEY": "sk-local"})
        assert [line.split()[0] for line in listed.stdout.splitlines()] == ["count", "echo"]
        status = run_cli("status", *args, env={"LOCAL_KEY": "sk-local"})
        assert status.returncode == 0 and status.stdout == f"Connected to {server.base_url} (2 models)\n"
        refused = run_cli("chat", *args, "-m", "echo", "hi", env={"LOCAL_KEY": "wrong"})
        assert refused.returncode == 1 and "`puter-magic chat --provider URL --key-env VAR`" in refused.stderr


def test_models_lists_and_filters(run_cli):
    result = run_cli("models", "det")
    assert result.returncode == 0
    assert result.stdout.split()[0] == "deterministic"
    assert "1 of" in result.stderr


def test_usage_and_config(run_cli, puter_server):
    usage = run_cli("usage")
    assert usage.returncode == 0 and usage.stdout.startswith("$") and " left" in usage.stdout
    config = run_cli("config")
    assert config.returncode == 0 and "env PUTER_TOKEN" in config.stdout
    assert puter_server.token not in config.stdout


def test_login_status_logout_round_trip(run_cli, puter_server, isolated_home):
    login = run_cli("login", "-u", "admin", token=None, stdin=puter_server.admin_password + "\n")
    assert login.returncode == 0, login.stderr
    assert "Logged in" in login.stdout and login.stderr == ""
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


def test_help_lists_every_command(run_cli):
    result = run_cli("help")
    assert result.returncode == 0
    for command in ("login", "logout", "status", "models", "usage", "config", "chat", "serve", "fake-server"):
        assert f"    {command} " in result.stdout


def test_a_reader_that_goes_away_ends_the_command_quietly(puter_server, isolated_home):
    """`puter-magic chat … | head -c 20`: the rest of the answer has nowhere to go; no BrokenPipeError."""
    puter_server.state.settings.update({"slow_chunks": 400, "slow_rate": 100})
    proc = subprocess.Popen(
        [sys.executable, "-m", "puter_magic", "chat", "-m", "slow", "go on"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_environment(puter_server, isolated_home),
    )
    assert proc.stdout.read(20)
    proc.stdout.close()  # what `head` does once it has its bytes
    _, stderr = proc.communicate(timeout=30)
    assert (proc.returncode, stderr.decode()) == (141, "")


def test_ctrl_c_is_one_line_and_keeps_what_arrived(puter_server, isolated_home):
    puter_server.state.settings.update({"slow_chunks": 400, "slow_rate": 20})
    proc = subprocess.Popen(
        [sys.executable, "-m", "puter_magic", "chat", "-m", "slow", "-t", "story", "go on"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_environment(puter_server, isolated_home),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # even when the test runner ignores it
        bufsize=0,  # communicate() reads the pipe itself: nothing may wait in a buffer of ours
    )
    first = proc.stdout.read(10)
    proc.send_signal(signal.SIGINT)
    rest, stderr = proc.communicate(timeout=30)
    assert (proc.returncode, stderr.decode()) == (130, "interrupted\n")
    saved = json.loads((isolated_home / "conversations.json").read_text())
    (turn,) = saved["threads"]["story"]["turns"]
    assert turn["interrupted"] and turn["answer"] == (first + rest).decode()
