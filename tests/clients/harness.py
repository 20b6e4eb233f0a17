"""What tests/test_real_clients.py needs to run the real clients (this file runs in the project's venv; the
drivers beside it run in the clients' venv): their environment, the drivers as subprocesses, the `llm` command,
and the upstream behind the proxy each test talks to."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from puter_magic.testing.local import LocalPuter
from puter_magic.testing.processes import tail
from puter_magic.testing.scripted import ScriptedReply

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ROOT / "tests" / "clients"
VENV = Path(os.environ.get("CLIENTS_VENV", ROOT / ".cache" / "clients-venv"))
CALL_TIMEOUT = 60.0  # one scenario of one client, seconds
MAX_TOKENS = {"text": 24, "tools": 150, "schema": 300}  # the tiny model writes one character a token


def client_env(home: Path) -> dict[str, str]:
    """No user state, no telemetry, and an OpenAI base URL where nothing listens: a client that ignored the
    proxy's URL fails, and never leaves the machine."""
    return {
        "PATH": f"{VENV / 'bin'}:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(home),
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "OPENAI_API_KEY": "not-the-proxy-key",
        "OPENAI_AGENTS_DISABLE_TRACING": "1",
        "LANGSMITH_TRACING": "false",
        "LANGCHAIN_TRACING_V2": "false",
        "DO_NOT_TRACK": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


class Driver:
    """One client's driver (tests/clients/NAME_driver.py) as a subprocess: a JSON request a line in, an answer out."""

    def __init__(self, name: str, env: dict[str, str], log: Path) -> None:
        self.name, self.log = name, log
        self._stderr = log.open("w")
        self.proc = subprocess.Popen(
            [str(VENV / "bin" / "python"), str(CLIENTS / f"{name}_driver.py")],
            cwd=CLIENTS,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            start_new_session=True,
        )
        self._answers: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"driver-{name}")
        self._reader.start()
        self._receive("start", 30.0)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._answers.put(line)
        self._answers.put("")  # EOF: the driver died

    def _receive(self, what: str, timeout: float) -> Any:
        try:
            line = self._answers.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            pytest.fail(f"{self.name} driver: no answer to {what} within {timeout:.0f} s; log:\n{tail(self.log, 30)}")
        if not line:
            self.stop()
            pytest.fail(f"{self.name} driver exited during {what}; log:\n{tail(self.log, 30)}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise AssertionError(f"{self.name} {what}: {answer['error']}")
        return answer["result"]

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def run(self, scenario: str, backend: Backend, kind: str) -> Any:
        request = {"scenario": scenario, "base_url": backend.url, "api_key": backend.key, "model": backend.model}
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request | {"max_tokens": MAX_TOKENS[kind]}) + "\n")
        self.proc.stdin.flush()
        return self._receive(scenario, CALL_TIMEOUT)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._reader.join(5.0)
        for stream in (self.proc.stdin, self.proc.stdout, self._stderr):
            if stream is not None:
                stream.close()


class Drivers:
    """The drivers started so far, by client name; one that was killed (a timeout) is started afresh."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.running: dict[str, Driver] = {}

    def __getitem__(self, name: str) -> Driver:
        driver = self.running.get(name)
        if driver is None or not driver.alive:
            driver = self.running[name] = Driver(name, client_env(self.home), self.home / f"{name}-driver.log")
        return driver

    def stop(self) -> None:
        for driver in self.running.values():
            driver.stop()


@dataclass
class Backend:
    name: str
    url: str  # the proxy's base URL, with /v1
    key: str
    model: str
    llm_home: Path
    puter: LocalPuter | None = field(default=None, repr=False)

    def script(self, *replies: ScriptedReply | str) -> None:
        """What "Puter" answers next (the llama backend answers as its model does)."""
        if self.puter is not None:
            self.puter.state.script.enqueue(*replies)

    def chat_requests(self) -> list[dict[str, Any]]:
        """The arguments of every chat request that reached "Puter"."""
        assert self.puter is not None
        return [r.body["args"] for r in self.puter.state.requests if r.path == "/drivers/call"]


def readme_llm_config() -> str:
    """The README's ready-to-paste extra-openai-models.yaml."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"```yaml\n(# extra-openai-models\.yaml.*?)```", readme, re.DOTALL)
    assert found, "README.md has no ```yaml block starting with '# extra-openai-models.yaml'"
    return found.group(1)


def write_llm_home(home: Path, url: str, key: str, model: str) -> None:
    config = readme_llm_config()
    assert "http://127.0.0.1:4101/v1" in config and "gpt-5-nano" in config
    config = config.replace("http://127.0.0.1:4101/v1", url).replace("gpt-5-nano", model)
    (home / "extra-openai-models.yaml").write_text(config, encoding="utf-8")
    (home / "keys.json").write_text(json.dumps({"puter-magic": key}), encoding="utf-8")


def llm(backend: Backend, *args: str) -> str:
    env = client_env(backend.llm_home) | {"LLM_USER_PATH": str(backend.llm_home)}
    proc = subprocess.run(
        [str(VENV / "bin" / "llm"), *args],
        env=env,
        cwd=CLIENTS,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=CALL_TIMEOUT,
        check=False,
    )
    assert proc.returncode == 0, f"llm {' '.join(args)} failed: {proc.stderr.strip()[-1500:]}"
    return proc.stdout


def llm_last_logs(backend: Backend, count: int) -> list[dict[str, Any]]:
    return json.loads(llm(backend, "logs", "list", "--json", "-n", str(count)))
