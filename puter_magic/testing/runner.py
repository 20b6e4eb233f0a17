"""Serve an ASGI app with uvicorn on a background thread, on a socket bound before the thread starts."""

from __future__ import annotations

import logging
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from puter_magic.testing.faults import StreamDropped

STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 5.0


class _HideInjectedDrops(logging.Filter):
    """uvicorn logs every exception escaping the app; an injected ``drop`` fault is not news."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], StreamDropped))


def _install_log_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _HideInjectedDrops) for f in logger.filters):
        logger.addFilter(_HideInjectedDrops())


class ServerThread:
    """A running uvicorn server. ``with serve(app) as server:`` or ``server = serve(app).start()``."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any):
        self.app = app
        self.host = host
        self.requested_port = port
        options: dict[str, Any] = {"log_level": "warning", "lifespan": "off", "access_log": False}
        options["timeout_graceful_shutdown"] = 1
        self.config = uvicorn.Config(app, **(options | uvicorn_options))
        self.server = uvicorn.Server(self.config)
        self._socket: socket.socket | None = None
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._exited = threading.Event()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server was never started")
        return self._port

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        if self._thread is not None:
            raise RuntimeError("the server was already started")
        _install_log_filter()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say they are TCP, and
        # without it every response pays Nagle's algorithm against delayed ACKs (~40 ms).
        self._socket = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((self.host, self.requested_port))
        except OSError:
            self._socket.close()
            self._socket = None
            raise
        self._port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        self._wait_until_started()
        return self

    def _run(self) -> None:
        assert self._socket is not None
        try:
            self.server.run(sockets=[self._socket])
        finally:
            self._exited.set()

    def _wait_until_started(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self.server.started:
            # Wakes at once if the thread dies; otherwise re-checks every few milliseconds, up to the deadline.
            if self._exited.wait(0.005) or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"uvicorn did not start on {self.host}:{self.requested_port}")

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server thread exits (True) or ``timeout`` passes (False)."""
        return self._exited.wait(timeout)

    def stop(self) -> None:
        """Ask uvicorn to exit, give open connections a moment, then force it."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self.server.should_exit = True
            thread.join(SHUTDOWN_TIMEOUT)
            if thread.is_alive():
                self.server.force_exit = True
                thread.join(SHUTDOWN_TIMEOUT)
        if self._socket is not None:
            self._socket.close()

    def __enter__(self) -> ServerThread:
        return self if self._thread is not None else self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def serve(app: ASGIApp, host: str = "127.0.0.1", port: int = 0, **uvicorn_options: Any) -> ServerThread:
    """A server for ``app``, not yet started: use it as a context manager, or call ``.start()``/``.stop()``."""
    return ServerThread(app, host, port, **uvicorn_options)
