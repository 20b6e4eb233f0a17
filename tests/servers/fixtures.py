"""Session-scoped pytest fixtures that run real OpenAI-compatible servers on 127.0.0.1 with tiny local models.

    llama_server           llama.cpp `llama-server`, one model (alias "tiny"), -c 2048 -np 1
    llama_server_with_key  the same with --api-key (the key is in .api_key)
    llama_router           llama-server in router mode (--models-dir): models "tiny", "tiny-b", "tiny-c"
    llama_small_context    llama-server with the tiny model and a 512-token window (-c 512): context overflows
    llama_tools_server     llama-server with the tool-calling model (alias "tiny-tools", make_tiny_tools_gguf.py),
                           -c 4096 (a tools prompt is ~600 tokens)
    transformers_server    `transformers serve` with the tiny random Llama "puter-magic/tiny-llama"

Each yields a RealServer: .base_url ("http://127.0.0.1:PORT/v1"), .model (the id to send), .api_key (or None),
.models (every id it serves), .origin, .log and .log_tail(). Load them from tests/conftest.py with
`pytest_plugins = ["servers.fixtures"]`.

Every session runs the idempotent set-up scripts beside this file: from scratch setup_llama.sh takes 30-50 s and
setup_transformers.sh 70-110 s; cached, under a second (cache: $PUTER_MAGIC_SERVERS_CACHE, default <repo>/.cache).
A server that cannot be set up or started fails the test with the script's output or the server's log tail: nothing
is skipped. Servers stop with SIGTERM, then SIGKILL to their process group, and get SIGTERM if pytest itself dies
(PR_SET_PDEATHSIG). Router mode needs /proc inside the chroot: it is mounted in a private mount namespace
(`unshare --mount`), so the mount dies with the server even when pytest is killed, and the host's mount table never
shows it (teardown checks, and unmounts a leftover).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

from puter_magic.testing import processes
from puter_magic.testing.processes import ServerFailed, free_port, last_lines, tail

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = Path(os.environ.get("PUTER_MAGIC_SERVERS_CACHE", ROOT / ".cache"))
LLAMA_CHROOT = Path(os.environ.get("LLAMA_CHROOT", CACHE / "llama-chroot"))
TF_VENV = Path(os.environ.get("TF_VENV", CACHE / "tf-venv"))
TF_HF_HOME = Path(os.environ.get("TF_HF_HOME", CACHE / "hf-home"))
LLAMA_MODELS = ("tiny", "tiny-b", "tiny-c")  # make_tiny_gguf.MODELS
LLAMA_TOOLS_MODEL = "tool-models/tiny-tools.gguf"  # make_tiny_tools_gguf.py, outside the router's /models
TF_MODEL = "puter-magic/tiny-llama"

SETUP_TIMEOUT = 1200.0  # seconds for one set-up script run from scratch
START_TIMEOUT = {"llama": 30.0, "transformers": 120.0}  # seconds from spawn to ready
SERVER_FIXTURES = {
    "llama_server",
    "llama_server_with_key",
    "llama_small_context",
    "llama_router",
    "llama_tools_server",
    "transformers_server",
}
BASE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


@dataclass(frozen=True)
class RealServer:
    """A running server: what a client needs to reach it, and its log for failure messages."""

    name: str
    base_url: str
    model: str
    api_key: str | None
    models: tuple[str, ...]
    log: Path = field(repr=False)

    @property
    def origin(self) -> str:
        return self.base_url.removesuffix("/v1")

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log, lines)


# -- set-up -------------------------------------------------------------------------------------------------


def _llama_cached() -> bool:
    ready = (LLAMA_CHROOT / ".puter-magic-complete").is_file()
    models = [LLAMA_CHROOT / "models" / f"{m}.gguf" for m in LLAMA_MODELS] + [LLAMA_CHROOT / LLAMA_TOOLS_MODEL]
    return ready and all(model.is_file() for model in models)


def _transformers_cached() -> bool:
    return (TF_VENV / ".puter-magic-complete").is_file() and (TF_HF_HOME / ".puter-magic-complete").is_file()


def _run_setup(script: str) -> None:
    """Run a set-up script (cheap when cached); fail the test with its output when it fails."""
    env = dict(os.environ, GGUF_PYTHON=sys.executable)
    started = time.monotonic()
    proc = subprocess.Popen(
        ["bash", str(HERE / script)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=SETUP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"{script} did not finish within {SETUP_TIMEOUT:.0f} s:\n{last_lines(output, 60)}", False)
    if proc.returncode != 0:
        pytest.fail(f"{script} failed (exit {proc.returncode}):\n{last_lines(output, 60)}", pytrace=False)
    elapsed = time.monotonic() - started
    if elapsed > 5:  # a real set-up ran: say so in the test report
        sys.stderr.write(f"\n{script} took {elapsed:.0f} s:\n{last_lines(output, 8)}\n")


@pytest.fixture(scope="session")
def llama_setup() -> Path:
    """The llama.cpp chroot, set up on first use; returns its path."""
    _run_setup("setup_llama.sh")
    return LLAMA_CHROOT


@pytest.fixture(scope="session")
def transformers_setup() -> Path:
    """The transformers venv and tiny model, set up on first use; returns the venv path."""
    _run_setup("setup_transformers.sh")
    return TF_VENV


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give a test that will run a set-up from scratch time for it (pytest-timeout counts fixture set-up)."""
    uncached = set()
    if not _llama_cached():
        uncached |= SERVER_FIXTURES - {"transformers_server"}
    if not _transformers_cached():
        uncached.add("transformers_server")
    for item in items:
        if uncached & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.timeout(SETUP_TIMEOUT + 2 * START_TIMEOUT["transformers"]))


# -- processes ----------------------------------------------------------------------------------------------


class ServerProcess(processes.ServerProcess):
    """puter_magic's server process (own process group, dies with pytest); a failure fails the test."""

    def fail(self, why: str) -> NoReturn:
        self.stop()
        pytest.fail(f"{self.name} {why}; log tail ({self.log}):\n{tail(self.log, 60)}", pytrace=False)


def _serve(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    argv_for_port: Callable[[int], list[str]],
    env: dict[str, str],
    ready: Callable[[httpx.Client, str], bool],
    timeout: float,
) -> tuple[ServerProcess, str]:
    """Start a server at a free port and wait until `ready(client, origin)`; retry a port another process took."""
    logs = tmp_path_factory.mktemp("server-logs", numbered=True)
    for attempt in range(3):
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        server = ServerProcess(name, argv_for_port(port), env, logs / f"{name}-{attempt}.log")
        try:
            server.wait_ready(lambda client, origin=origin: ready(client, origin), timeout)
        except pytest.fail.Exception:
            log = tail(server.log, 30).lower()
            if attempt < 2 and ("address already in use" in log or "couldn't bind" in log):
                continue
            raise
        return server, origin
    raise AssertionError("unreachable")


# -- llama.cpp ----------------------------------------------------------------------------------------------


def _llama_health(client: httpx.Client, origin: str) -> bool:
    response = client.get(f"{origin}/health")
    return response.status_code == 200 and response.json().get("status") == "ok"


def _llama_argv(chroot: Path, port: int, *extra: str, context: int = 2048) -> list[str]:
    common = ["--host", "127.0.0.1", "--port", str(port), "-c", str(context), "-np", "1", "--no-webui"]
    return ["chroot", str(chroot), "llama-server", *common, *extra]


def _start_llama(
    tmp_path_factory: pytest.TempPathFactory,
    chroot: Path,
    name: str,
    api_key: str | None,
    model: tuple[str, str] = ("/models/tiny.gguf", "tiny"),
    context: int = 2048,
) -> Iterator[RealServer]:
    path, alias = model
    extra = ["-m", path, "--alias", alias]
    if api_key:
        extra += ["--api-key", api_key]
    server, origin = _serve(
        tmp_path_factory,
        name,
        lambda port: _llama_argv(chroot, port, *extra, context=context),
        dict(BASE_ENV),
        _llama_health,
        START_TIMEOUT["llama"],
    )
    try:
        yield RealServer(name, f"{origin}/v1", alias, api_key, (alias,), server.log)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory, llama_setup: Path) -> Iterator[RealServer]:
    yield from _start_llama(tmp_path_factory, llama_setup, "llama-server", None)


@pytest.fixture(scope="session")
def llama_server_with_key(tmp_path_factory: pytest.TempPathFactory, llama_setup: Path) -> Iterator[RealServer]:
    yield from _start_llama(tmp_path_factory, llama_setup, "llama-server-key", f"sk-test-{secrets.token_hex(8)}")


@pytest.fixture(scope="session")
def llama_small_context(tmp_path_factory: pytest.TempPathFactory, llama_setup: Path) -> Iterator[RealServer]:
    """A 512-token window: a few hundred characters overflow it (the tiny model spends about one token per byte)."""
    model = ("/models/tiny.gguf", "tiny")
    yield from _start_llama(tmp_path_factory, llama_setup, "llama-server-512", None, model, context=512)


@pytest.fixture(scope="session")
def llama_tools_server(tmp_path_factory: pytest.TempPathFactory, llama_setup: Path) -> Iterator[RealServer]:
    """The tool-calling tiny model; the chat template comes from the GGUF (llama-server's --jinja is the default)."""
    model = (f"/{LLAMA_TOOLS_MODEL}", "tiny-tools")
    yield from _start_llama(tmp_path_factory, llama_setup, "llama-server-tools", None, model, context=4096)


def _proc_mounts_below(chroot: Path) -> list[str]:
    prefix = f"{chroot}/"
    with open("/proc/self/mounts") as mounts:
        return [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]


def _unmount_leftovers(chroot: Path) -> None:
    for target in sorted(_proc_mounts_below(chroot), reverse=True):
        if subprocess.run(["umount", target], check=False).returncode != 0:
            subprocess.run(["umount", "-l", target], check=False)


@pytest.fixture(scope="session")
def llama_router(tmp_path_factory: pytest.TempPathFactory, llama_setup: Path) -> Iterator[RealServer]:
    chroot = llama_setup
    # /proc is mounted inside a private mount namespace: never visible on the host, gone with the last process.
    mount_then_chroot = 'root=$1; shift; mount -t proc proc "$root/proc" && exec chroot "$root" "$@"'

    def argv(port: int) -> list[str]:
        inner = _llama_argv(chroot, port, "--models-dir", "/models")[2:]  # without "chroot DIR"
        unshare = ["unshare", "--mount", "--propagation", "private"]
        return [*unshare, "sh", "-c", mount_then_chroot, "sh", str(chroot), *inner]

    def ready(client: httpx.Client, origin: str) -> bool:
        if not _llama_health(client, origin):
            return False
        listed = {m["id"] for m in client.get(f"{origin}/v1/models").json()["data"]}
        return listed >= set(LLAMA_MODELS)

    try:
        server, origin = _serve(tmp_path_factory, "llama-router", argv, dict(BASE_ENV), ready, START_TIMEOUT["llama"])
        try:
            yield RealServer("llama-router", f"{origin}/v1", "tiny", None, LLAMA_MODELS, server.log)
        finally:
            server.stop()
    finally:
        _unmount_leftovers(chroot)


# -- transformers serve -------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def transformers_server(tmp_path_factory: pytest.TempPathFactory, transformers_setup: Path) -> Iterator[RealServer]:
    venv = transformers_setup
    env = dict(
        BASE_ENV,
        PATH=f"{venv / 'bin'}:{BASE_ENV['PATH']}",
        HOME=os.environ.get("HOME", "/root"),
        HF_HOME=str(TF_HF_HOME),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HUB_DISABLE_TELEMETRY="1",
        OMP_NUM_THREADS="1",
        TOKENIZERS_PARALLELISM="false",
    )

    def argv(port: int) -> list[str]:
        return [str(venv / "bin" / "transformers"), "serve", "--host", "127.0.0.1", "--port", str(port)]

    def ready(client: httpx.Client, origin: str) -> bool:
        if client.get(f"{origin}/health").status_code != 200:
            return False
        # The model loads on its first request: load it now, so that a broken model fails here, with the log.
        warm = {"model": TF_MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
        response = client.post(f"{origin}/v1/chat/completions", json=warm, timeout=60.0)
        if response.status_code != 200:
            raise ServerFailed(f"warm-up request answered {response.status_code}: {response.text[:300]}")
        return True

    server, origin = _serve(tmp_path_factory, "transformers-serve", argv, env, ready, START_TIMEOUT["transformers"])
    try:
        yield RealServer("transformers-serve", f"{origin}/v1", TF_MODEL, None, (TF_MODEL,), server.log)
    finally:
        server.stop()
