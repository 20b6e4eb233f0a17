"""``LocalPuter``: a local Puter backend (state + app + uvicorn thread) in one object, and ``run_forever``."""

from __future__ import annotations

import contextlib
import ipaddress
import sys
from types import TracebackType
from typing import Any, TextIO

from puter_magic.errors import InputError
from puter_magic.testing.app import build_app
from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.runner import serve


class LocalPuter:
    """A local Puter-compatible server on a free port of 127.0.0.1.

    ``options`` go to :class:`FakePuter` (``seed``, ``admin_password``, ``domain`` and any setting such as
    ``host_routing=False`` or ``v1_mode=True``)::

        with LocalPuter() as puter:
            httpx.get(f"{puter.origin}/whoami", headers={"Host": puter.api_host,
                                                         "Authorization": f"Bearer {puter.token}"})
    """

    def __init__(
        self, state: FakePuter | None = None, *, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> None:
        if state is not None and options:
            raise TypeError("pass either a FakePuter or options for a new one, not both")
        self.state = state if state is not None else FakePuter(**options)
        self.app = build_app(self.state)
        self.server = serve(self.app, host, port)

    def start(self) -> LocalPuter:
        self.server.start()
        self.state.bind(self.server.host, self.server.port)
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> LocalPuter:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to a fresh state: users, tokens, settings, faults and logs (the admin token stays valid)."""
        self.state.reset()

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``: where to connect."""
        return self.state.origin

    @property
    def api_origin(self) -> str:
        """``http://api.puter.localhost:PORT`` (``origin`` when host routing is off)."""
        return self.state.api_origin

    @property
    def gui_origin(self) -> str:
        """``http://puter.localhost:PORT`` (``origin`` when host routing is off)."""
        return self.state.gui_origin

    @property
    def api_host(self) -> str:
        """The ``Host`` header value of API requests."""
        return f"api.{self.state.domain}:{self.port}"

    @property
    def gui_host(self) -> str:
        """The ``Host`` header value of GUI requests (``/login``, ``/signup``)."""
        return f"{self.state.domain}:{self.port}"

    @property
    def token(self) -> str:
        """A ready session token of the user ``admin``."""
        return self.state.admin_token

    @property
    def admin_password(self) -> str:
        return self.state.admin_password


def check_bind_host(host: str, allow_remote: bool, err: TextIO | None = None) -> None:
    """Loopback needs nothing; any other address needs ``allow_remote``, and is warned about on ``err``."""
    try:
        loopback = host.lower() == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return
    if not allow_remote:
        raise InputError(
            f"refusing to listen on {host}: whoever reaches the local Puter server can read its admin token",
            hint="pass --allow-remote if other machines really must reach it",
        )
    warning = (
        f"warning: listening on {host}: anyone who reaches it can read the admin password and token at /__fake__/"
        " (plain HTTP, no authentication)"
    )
    print(warning, file=err or sys.stderr, flush=True)


def run_forever(
    host: str = "127.0.0.1",
    port: int = 4100,
    *,
    allow_remote: bool = False,
    out: TextIO | None = None,
    **options: Any,
) -> None:
    """Serve a local Puter backend until Ctrl-C, after printing its origins and a token (``puter-magic
    fake-server``). A host other than loopback needs ``allow_remote``. ``options`` are :class:`FakePuter` options
    and settings."""
    check_bind_host(host, allow_remote)
    out = out or sys.stdout
    with LocalPuter(host=host, port=port, **options) as puter:
        lines = [
            "Local Puter server (puter_magic.testing) is running.",
            f"  API origin:   {puter.api_origin}",
            f"  GUI origin:   {puter.gui_origin}",
            f"  Connect to:   {puter.origin}  (set Host: {puter.api_host} or {puter.gui_host})",
            f"  Admin login:  admin / {puter.admin_password}",
            f"  Admin token:  {puter.token}",
            f"  Control API:  {puter.origin}/__fake__/",
            "Press Ctrl-C to stop.",
        ]
        print("\n".join(lines), file=out, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            puter.server.wait()
