"""`%puter serve …` in a few lines: start, look at and stop the proxy of a session, each returning text.

    %puter serve [--host H] [--port N] [--key K] [--allow-origin O]… [--allow-remote]
    %puter serve status
    %puter serve stop

`serve_command(session, line)` does all three; the magic wraps the text it returns (e.g. in `say()`).
One proxy per session at a time.
"""

from __future__ import annotations

import argparse
import os
import shlex
import weakref

from ..config import state_dir, write_private
from ..core.sessions import Session
from ..errors import InputError
from .serve import RunningProxy, banner, start

_running: weakref.WeakKeyDictionary[Session, RunningProxy] = weakref.WeakKeyDictionary()


def running(session: Session) -> RunningProxy | None:
    """The session's proxy, if one is running."""
    proxy = _running.get(session)
    return proxy if proxy is not None and proxy.running else None


def serve_start(session: Session, options: argparse.Namespace) -> str:
    """Start the session's proxy with the options of `%puter serve`; the text shows the URL, and where a generated
    key was written (mode 0600): the text ends up in a saved notebook, so the key itself is never in it."""
    current = running(session)
    if current is not None:
        raise InputError(f"already serving at {current.url}/v1", hint="stop it first with `%puter serve stop`")
    key = options.key
    proxy = start(session, options.host, options.port, key, options.allow_origins, allow_remote=options.allow_remote)
    _running[session] = proxy
    if key is not None:
        return banner(proxy, show_key=False) + "\nStop it with `%puter serve stop`."
    # A notebook output is saved into the .ipynb: the generated key goes to a private file instead.
    path = state_dir() / KEY_FILE
    write_private(path, proxy.key + "\n")
    return (
        banner(proxy, show_key=False).replace("(the key you gave)", f"in `{path}` (mode 0600), not shown here")
        + "\nStop it with `%puter serve stop`."
    )


def serve_status(session: Session) -> str:
    proxy = running(session)
    if proxy is None:
        return "The proxy is not running; start it with `%puter serve`."
    info = proxy.status()
    return (
        f"Serving at {info['url']}/v1 for {info['uptime_s']} s: {info['requests']} requests, "
        f"{info['completions']} answers, {info['streams_open']} streams open, {info['cancelled']} cancelled by "
        f"their client, {info['errors']} errors."
    )


def serve_stop(session: Session) -> str:
    proxy = _running.pop(session, None)
    if proxy is None:
        return "The proxy was not running."
    proxy.stop()
    return f"Stopped the proxy at {proxy.url}."


USAGE = "%puter serve [status|stop] [--host H] [--port N] [--key-env VAR] [--allow-origin O]… [--allow-remote]"
KEY_FILE = "proxy-key"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"cannot read the options of `%puter serve`: {message}", hint=f"usage: {USAGE}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%puter serve", add_help=False, exit_on_error=False)
    parser.add_argument("action", nargs="?", choices=["start", "status", "stop"], default="start")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--key")
    parser.add_argument("--key-env")
    parser.add_argument("--allow-origin", action="append", default=[], dest="allow_origins")
    parser.add_argument("--allow-remote", action="store_true")
    return parser


def serve_command(session: Session, line: str) -> str:
    """`%puter serve` with its words, e.g. `"--port 8000"`, `"status"`, `"stop"`."""
    try:
        args = _parser().parse_args(shlex.split(line))
    except (argparse.ArgumentError, ValueError) as exc:
        raise InputError(f"cannot read the options of `%puter serve`: {exc}", hint=f"usage: {USAGE}") from None
    if args.key_env:
        args.key = os.environ.get(args.key_env)
        if not args.key:
            raise InputError(f"the environment variable {args.key_env} is not set", hint="set it to the proxy key")
    if args.action == "status":
        return serve_status(session)
    if args.action == "stop":
        return serve_stop(session)
    return serve_start(session, args)
