"""Tests own their environment: all user state goes to a temporary PUTER_MAGIC_HOME, no real credentials."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

# Real OpenAI-compatible servers (tests/servers/), started on demand; the real clients' table (tests/clients/).
pytest_plugins = ["servers.fixtures", "clients.report"]

_LEAKY = (
    "PUTER_TOKEN",
    "PUTER_API_ORIGIN",
    "PUTER_GUI_ORIGIN",
    "PUTER_MODEL",
    "PUTER_LOG_LEVEL",
    "PUTER_RATE_LIMIT",
    "PUTER_MAX_CONCURRENT",
    "PUTER_MAX_RETRIES",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("puter-home")
    monkeypatch.setenv("PUTER_MAGIC_HOME", str(home))
    for name in _LEAKY:
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt in this process, and has its default effect in the processes started
    meanwhile, even when the run began with SIGINT ignored (as a non-interactive shell starts a background job)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class CtrlC:
    """Presses Ctrl-C (SIGINT to this process) from another thread, once the test is ready and the main thread
    blocks in a wait. A press that has not happened when the test ends never happens: a test that fails early
    must not interrupt the tests after it."""

    def __init__(self) -> None:
        self._over = threading.Event()
        self._threads: list[threading.Thread] = []

    def press_when(self, ready: threading.Event, timeout: float = 10.0) -> None:
        thread = threading.Thread(target=self._press, args=(ready, timeout), name="ctrl-c", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _press(self, ready: threading.Event, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._over.is_set() and time.monotonic() < deadline:
            if ready.is_set() and _main_thread_waits():
                os.kill(os.getpid(), signal.SIGINT)
                return
            self._over.wait(0.001)  # polls the main thread's frame: the signal must land while it blocks

    def close(self) -> None:
        previous = signal.signal(signal.SIGINT, lambda number, frame: None)  # a press racing the end is dropped
        try:
            self._over.set()
            for thread in self._threads:
                thread.join()
        finally:
            signal.signal(signal.SIGINT, previous)


def _main_thread_waits() -> bool:
    """Blocked in a wait: a future's or an event's, or LoopThread.iterate()'s for its next items."""
    frame = sys._current_frames().get(threading.main_thread().ident)
    return frame is not None and frame.f_code.co_name in ("wait", "iterate")


@pytest.fixture
def ctrl_c(ctrl_c_raises):
    """``ctrl_c.press_when(event)``: Ctrl-C once ``event`` is set and the main thread waits (see CtrlC)."""
    presser = CtrlC()
    yield presser
    presser.close()


@pytest.fixture(scope="session")
def shell(tmp_path_factory: pytest.TempPathFactory):
    """One in-process IPython shell for the session, with its state in a temporary folder, no history file.

    IPYTHONDIR is set only while the shell is built (it keeps its folder), so tests after it see the same
    environment as tests before it."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IPYTHONDIR", str(tmp_path_factory.mktemp("ipython")))
        instance = InteractiveShell.instance(config=config)
    yield instance
    InteractiveShell.clear_instance()


@pytest.fixture
def session(puter_settings):
    """A Session of its own on the local Puter server (closed afterwards)."""
    from puter_magic.core.sessions import Session

    sess = Session(puter_settings)
    yield sess
    sess.close()


@pytest.fixture
def notebook_env(puter_server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a kernel this test starts inherits: the local Puter server, no pacing, its own IPython
    folder (and, from isolated_home, its own PUTER_MAGIC_HOME)."""
    for name, value in {
        "PUTER_API_ORIGIN": puter_server.api_origin,
        "PUTER_GUI_ORIGIN": puter_server.gui_origin,
        "PUTER_TOKEN": puter_server.token,
        "PUTER_RATE_LIMIT": "off",
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def http(puter_server):
    """Raw HTTP to the local Puter server (test_local_server.Http) for test_local_server*.py; test_proxy.py and
    test_real_servers.py have an `http` of their own."""
    import httpx
    from test_local_server import Http

    with httpx.Client(base_url=puter_server.origin, timeout=10) as client:
        yield Http(puter_server, client)


@pytest.fixture
def loop():
    """A LoopThread of its own for one test (closed afterwards, after the fixtures that use it)."""
    from puter_magic.core.loop import LoopThread

    thread = LoopThread("test-loop")
    yield thread
    thread.close()


@pytest.fixture
def puter_proxy(puter_settings, loop):
    """The proxy in front of a Session of its own on the local Puter server (see tests/proxies.py)."""
    from proxies import running_proxy

    with running_proxy(puter_settings, loop) as proxy:
        yield proxy


@pytest.fixture
def memory_proxy(memory_session):
    """The proxy in front of `memory_session` (the in-memory provider)."""
    from puter_magic.server.serve import start

    with start(memory_session) as proxy:
        yield proxy


@pytest.fixture
def magics(shell, session):
    """PuterMagics on `session`, registered in the shell for one test."""
    from puter_magic.notebook.magics import PuterMagics, unload

    configured = dict(shell.config.PuterMagics)  # the shell outlives the test: its %config must not
    instance = PuterMagics(shell, session_=session)
    shell.register_magics(instance)
    shell.events.register("pre_run_cell", instance.on_pre_run_cell)
    yield instance
    unload(shell)
    shell.config.PuterMagics.clear()
    shell.config.PuterMagics.update(configured)
