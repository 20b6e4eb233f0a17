"""Run the proxy with uvicorn: on a background thread inside the kernel (`start`), or in the foreground
(`serve_forever`, for `puter-magic serve`).

    proxy = start(session)                      # 127.0.0.1, a free port, a generated key
    openai.OpenAI(base_url=proxy.url + "/v1", api_key=proxy.key)
    proxy.status(); proxy.stop()

Only loopback addresses are served unless `allow_remote=True` (then with a RemoteBindWarning: plain HTTP, and
whoever has the key spends the session's credit). The key is registered with `redact`, so it never shows in logs.
"""

from __future__ import annotations

import ipaddress
import secrets
import signal
import socket
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TextIO

import uvicorn

from ..core.sessions import Session
from ..errors import InputError
from ..redact import register_secret
from .app import MAX_BODY, ProxyApp, build_app

DEFAULT_PORT = 4101  # what `puter-magic serve` listens on; next to the local Puter server's 4100
STARTUP_TIMEOUT = 10.0
SHUTDOWN_TIMEOUT = 5.0


class RemoteBindWarning(UserWarning):
    """Warned when the proxy listens on an address other machines can reach."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_host(host: str, allow_remote: bool) -> None:
    """Loopback is always fine; anything else needs `allow_remote`, and is warned about."""
    if is_loopback(host):
        return
    if not allow_remote:
        raise InputError(
            f"refusing to serve on {host}: the proxy listens on 127.0.0.1 unless told otherwise",
            hint="pass allow_remote=True (--allow-remote) if other machines really must reach it",
        )
    warnings.warn(
        f"the proxy listens on {host}: anyone who reaches it with the key uses your session and its credit, "
        "over plain HTTP",
        RemoteBindWarning,
        stacklevel=3,
    )


def new_key() -> str:
    return secrets.token_urlsafe(32)


def check_key(key: str) -> str:
    if len(key) < 8 or not key.isascii() or not key.isprintable() or " " in key:
        raise InputError("the proxy key must be at least 8 printable ASCII characters without spaces")
    return key


class _Server(uvicorn.Server):
    """A uvicorn server that says when it is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class RunningProxy:
    """A proxy served by uvicorn on a background thread. `url` has no `/v1`; `key` is the bearer key."""

    def __init__(self, app: Any, server: _Server, sock: socket.socket, host: str, key: str) -> None:
        self.app, self.host, self.key = app, host, key
        self.port: int = sock.getsockname()[1]
        self._server, self._socket = server, sock
        self._exited = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"puter-proxy-{self.port}", daemon=True)
        self.started_at = time.time()

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._exited.set()
            self._server.ready.set()

    def _start(self) -> RunningProxy:
        self._thread.start()
        if not self._server.ready.wait(STARTUP_TIMEOUT) or not self._server.started:
            self.stop()
            raise RuntimeError(f"the proxy did not start on {self.host}:{self.port}")
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._exited.is_set()

    @property
    def proxy(self) -> ProxyApp:
        return self.app.state.proxy  # type: ignore[no-any-return]

    def status(self) -> dict[str, Any]:
        """Where it listens and what it served (never the key)."""
        stats = self.proxy.stats
        return {
            "url": self.url,
            "running": self.running,
            "uptime_s": round(time.time() - self.started_at, 1) if self.running else None,
            "requests": stats.requests,
            "completions": stats.completions,
            "streams_open": stats.streams_open,
            "cancelled": stats.cancelled,
            "errors": stats.errors,
        }

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the server exits (True) or `timeout` passes (False)."""
        return self._exited.wait(timeout)

    def stop(self) -> None:
        """Stop accepting; every open answer ends with an in-band error (`server_shutting_down`) and its upstream
        is cancelled; what still runs after a second is cancelled; the socket is closed."""
        if self._thread.is_alive():
            self.proxy.shut_down()
            self._server.should_exit = True
            self._thread.join(SHUTDOWN_TIMEOUT)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(SHUTDOWN_TIMEOUT)
        self._socket.close()

    def __repr__(self) -> str:
        return f"<RunningProxy {self.url} ({'running' if self.running else 'stopped'})>"

    def __enter__(self) -> RunningProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say they are TCP (else ~40 ms per answer).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", hint="pick another --port") from None
    return sock


def start(
    session: Session,
    host: str = "127.0.0.1",
    port: int = 0,
    key: str | None = None,
    allow_origins: Sequence[str] = (),
    *,
    allow_remote: bool = False,
    max_body: int = MAX_BODY,
) -> RunningProxy:
    """Serve `session` on a background thread (port 0 picks a free port); returns once it is listening."""
    check_host(host, allow_remote)
    key = check_key(key) if key is not None else new_key()
    register_secret(key)
    app = build_app(session, key=key, allow_origins=allow_origins, max_body=max_body)
    config = uvicorn.Config(
        app,
        log_config=None,  # leave the kernel's logging alone
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="asyncio",
        timeout_graceful_shutdown=1,
    )
    return RunningProxy(app, _Server(config), _bind(host, port), host, key)._start()


def banner(proxy: RunningProxy, *, show_key: bool, markdown: bool = True) -> str:
    """What to tell the user once the proxy listens; the key only when it was generated (shown this once).

    In Markdown the key is in backticks (a token_urlsafe key has `_`s that would turn into italics)."""
    tick = "`" if markdown else ""
    shown = f"{tick}{proxy.key}{tick}   <- shown once; keep it" if show_key else "(the key you gave)"
    return "\n".join(
        [
            f"Serving the session as an OpenAI-compatible API at {tick}{proxy.url}/v1{tick}",
            f"  API key: {shown}",
            f'  {tick}openai.OpenAI(base_url="{proxy.url}/v1", api_key=...){tick}',
        ]
    )


def serve_forever(
    session: Session | None = None,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    key: str | None = None,
    allow_origins: Sequence[str] = (),
    *,
    allow_remote: bool = False,
    out: TextIO | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM (`puter-magic serve`); prints where, and the key when it was generated.
    Either signal shuts down cleanly: open answers end with an in-band error, not a cut body, within ~1 s."""
    out = out or sys.stdout
    proxy = start(session or Session(), host, port, key, allow_origins, allow_remote=allow_remote)
    try:
        with _terminate_raises():
            print(banner(proxy, show_key=key is None, markdown=False) + "\nPress Ctrl-C to stop.", file=out, flush=True)
            proxy.wait()
    except KeyboardInterrupt:
        pass
    finally:
        with _signals_ignored():  # a second Ctrl-C must not cut the shutdown short (or print a traceback)
            proxy.stop()


@contextmanager
def _terminate_raises() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt in the main thread, as Ctrl-C does, so both shut down the same way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
