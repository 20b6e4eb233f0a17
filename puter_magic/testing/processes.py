"""A local server as a child process: started in its own process group, logging to a file, polled until ready,
stopped with SIGTERM then SIGKILL, and killed with us (Linux PR_SET_PDEATHSIG) even if we die by SIGKILL.

Used by `puter-magic local-model` (local_model.py), `make demo` and the test fixtures in tests/servers/.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

import httpx

STOP_TIMEOUT = 10.0  # seconds a server gets to exit after SIGTERM, then after SIGKILL


class ServerFailed(Exception):
    """Raised when a server exits, answers wrongly or is not ready in time; the message ends with its log tail.

    A readiness check raises it too (without a log tail) when the answer it saw means polling on is pointless."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def last_lines(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return last_lines(text, lines)


def die_with_parent(parent: int) -> None:
    """In the child before exec: get SIGTERM when `parent` dies, even by SIGKILL (Linux prctl PR_SET_PDEATHSIG).

    SIGINT goes back to its default too: a shell's background job starts with SIGINT ignored, and the child
    should not inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG; it survives the exec chain unshare/sh/chroot
    if os.getppid() != parent:  # the parent died between fork and prctl
        os._exit(1)


class ServerProcess:
    """One server process in its own session (process group), logging to `log`."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as sink:
            self.proc = subprocess.Popen(
                list(argv),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=functools.partial(die_with_parent, os.getpid()) if sys.platform == "linux" else None,
            )

    def wait_ready(self, ready: Callable[[httpx.Client], bool], timeout: float) -> None:
        """Poll `ready` until it returns True; raise ServerFailed (and stop) if the process dies or time runs out."""
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        try:
            with httpx.Client(timeout=5.0, trust_env=False) as client:
                while True:
                    if self.proc.poll() is not None:
                        self.fail(f"exited with {self.proc.returncode} before it was ready")
                    try:
                        if ready(client):
                            return
                        last_error = "not ready yet"
                    except (httpx.HTTPError, ValueError, KeyError) as exc:  # no answer yet, or a half-ready one
                        last_error = repr(exc)
                    except ServerFailed as exc:
                        self.fail(str(exc))
                    if time.monotonic() > deadline:
                        self.fail(f"not ready after {timeout:.0f} s ({last_error})")
                    time.sleep(0.05)
        except BaseException:  # a failure above, an interrupt, a timeout: leave no server behind
            self.stop()
            raise

    def fail(self, why: str) -> NoReturn:
        self.stop()
        raise ServerFailed(f"{self.name} {why}; log tail ({self.log}):\n{tail(self.log, 60)}")

    def stop(self) -> None:
        """SIGTERM, wait, then SIGKILL the whole process group (children included)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._kill_group()
                self.proc.wait(STOP_TIMEOUT)
        self._kill_group()  # leftovers whose leader has gone

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
