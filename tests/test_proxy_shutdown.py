"""`puter-magic serve` stopped by SIGTERM or Ctrl-C while answers stream: each open client gets a final in-band
error event (not a cut body), the process exits cleanly, and nothing is printed on stderr. Real processes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import httpx
import pytest
from cli_runs import cli_environment, reaped

KEY = "shutdown-test-key-123"


@pytest.fixture
def serving(puter_server, isolated_home, ctrl_c_raises):
    """`puter-magic serve` on a free port (SIGINT at its default even in a background job: ctrl_c_raises)."""
    puter_server.state.settings.slow_chunks = 10_000  # ~8 minutes at 20 chunks a second: still streaming at the end
    env = cli_environment(puter_server, isolated_home, env={"PUTER_PROXY_KEY": KEY})
    command = [sys.executable, "-m", "puter_magic", "serve", "--port", "0"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with reaped(process):
        banner = process.stdout.readline()  # "" if it died: the next line fails and says so
        base = re.search(r"http://127\.0\.0\.1:\d+", banner).group(0)
        yield process, base


def open_stream(client: httpx.Client, base: str):
    body = {"model": "slow", "stream": True, "messages": [{"role": "user", "content": "go"}]}
    headers = {"Authorization": f"Bearer {KEY}"}
    return client.stream("POST", base + "/v1/chat/completions", json=body, headers=headers)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_open_streams_with_an_error_event_and_exits_cleanly(serving, signum):
    process, base = serving
    with httpx.Client(timeout=10) as client, open_stream(client, base) as first, open_stream(client, base) as second:
        lines = {id(first): first.iter_lines(), id(second): second.iter_lines()}
        for response in (first, second):
            assert response.status_code == 200
            assert next(lines[id(response)]).startswith("data: "), "the stream is open and answering"
        process.send_signal(signum)
        tails = [list(lines[id(response)]) for response in (first, second)]  # to the end of each body
    assert process.wait(timeout=10) == 0
    stderr = process.stderr.read()
    assert "Traceback" not in stderr and stderr == "", stderr
    for tail in tails:
        events = [line.removeprefix("data: ") for line in tail if line.startswith("data: ")]
        assert "[DONE]" not in events, "the answer did not finish: it must not look finished"
        error = json.loads(events[-1])["error"]
        assert error["code"] == "server_shutting_down" and error["type"] == "server_error"
        assert "shutting down" in error["message"]


# --- where the key comes from ---------------------------------------------------------------------------


def test_help_says_a_key_on_the_command_line_is_visible_to_other_users(puter_server, isolated_home):
    env = cli_environment(puter_server, isolated_home)
    shown = subprocess.run([sys.executable, "-m", "puter_magic", "serve", "--help"], env=env, capture_output=True)
    assert b"visible to every local user in the process" in shown.stdout and b"PUTER_PROXY_KEY" in shown.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("source", ["argument", "environment", "generated"])
def test_the_key_is_printed_once_when_generated_and_an_argument_key_is_warned_about(
    puter_server, isolated_home, source
):
    extra = {"PUTER_PROXY_KEY": KEY} if source == "environment" else {}
    command = [sys.executable, "-m", "puter_magic", "serve", "--port", "0"]
    command += ["--key", KEY] if source == "argument" else []
    env = cli_environment(puter_server, isolated_home, env=extra)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with reaped(process):
        banner = [process.stdout.readline() for _ in range(4)]
        assert banner[-1].startswith("Press Ctrl-C"), banner
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    printed = "".join(banner) + out
    if source == "generated":
        key = re.search(r"API key: (\S+)", printed).group(1)
        assert printed.count(key) == 1 and err == ""
    else:
        assert KEY not in printed + err and "(the key you gave)" in printed
        warned = "--key is visible to every local user in the process list; prefer PUTER_PROXY_KEY"
        assert (warned in err) == (source == "argument") and err.count("\n") == (source == "argument")
