"""Run `python -m puter_magic` as a user would, against the local Puter server, with its own PUTER_MAGIC_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def cli_environment(puter_server: Any, home: Any, token: str | None = "admin", env: dict | None = None) -> dict:
    """The variables of a terminal pointed at `puter_server`; token "admin" is the server's admin token."""
    environ = {
        **os.environ,
        "PUTER_API_ORIGIN": puter_server.api_origin,
        "PUTER_GUI_ORIGIN": puter_server.gui_origin,
        "PUTER_MAGIC_HOME": str(home),
        "PUTER_RATE_LIMIT": "off",
        **(env or {}),
    }
    if token == "admin":
        environ["PUTER_TOKEN"] = puter_server.token
    elif token:
        environ["PUTER_TOKEN"] = token
    return environ


def cli_runner(puter_server: Any, home: Any) -> Any:
    """A function that runs the CLI to completion: run(*args, token=, stdin=, env=) -> CompletedProcess."""

    def run(*args: str, token: str | None = "admin", stdin: str = "", env: dict | None = None) -> Any:
        return subprocess.run(
            [sys.executable, "-m", "puter_magic", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=cli_environment(puter_server, home, token, env),
            timeout=60,
        )

    return run


@contextmanager
def reaped(process: subprocess.Popen[str]) -> Iterator[subprocess.Popen[str]]:
    """`process` for the block; after it, killed if it still runs, its pipes closed and its exit collected."""
    with process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()
