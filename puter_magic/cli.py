"""`puter-magic` / `python -m puter_magic`: login, logout, status, models, usage, config, chat, serve, fake-server.

Answers and listings go to stdout, everything else to stderr. An expected failure is one line on stderr
(`error: what happened — what to do`, naming `puter-magic` commands) and exit status 1; Ctrl-C is 130; a reader
that goes away (`| head`) ends the command quietly. The commands work through a Session, like the notebook.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import getpass
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from . import cli_chat, cli_media
from .cli_chat import session_for
from .errors import ConfigurationError, InputError, PuterError
from .providers.openai_wire import LOCAL_MODEL_PORT
from .reports import credit_line, plain, status_line, table

EXTRAS = {"uvicorn": "server", "starlette": "server"}  # what the proxy and the local server need beyond the core


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="puter-magic", description="Chat with LLMs through Puter's AI API.")
    parser.add_argument("--api-origin", help="Puter API origin (default: $PUTER_API_ORIGIN or api.puter.com)")
    parser.add_argument("--gui-origin", help="Puter GUI origin, for login (default: $PUTER_GUI_ORIGIN)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    provider = argparse.ArgumentParser(add_help=False)
    provider.add_argument("--provider", help="puter (default), ollama, vllm, lmstudio, llamacpp, textgen or a URL")
    provider.add_argument("--key-env", metavar="VAR", help="the environment variable holding the provider's API key")

    login = commands.add_parser("login", help="log in and store the token (mode 0600)")
    login.add_argument("--username", "-u", help="username or email (asked when missing)")
    login.add_argument("--token", action="store_true", help="paste an API token instead of a password")
    login.add_argument("--guest", action="store_true", help="create a temporary account (where the server allows)")
    commands.add_parser("logout", help="forget the stored token")
    commands.add_parser("status", parents=[provider], help="who is logged in, and the credits left")
    models = commands.add_parser("models", parents=[provider], help="list the models")
    models.add_argument("filter", nargs="?", default="", help="show only ids containing this text")
    commands.add_parser("usage", help="the credit left on your Puter account")
    commands.add_parser("config", help="the effective settings and where each comes from (secrets masked)")
    cli_chat.add_parser(commands, [provider])
    cli_media.add_parsers(commands, [provider])
    fake = commands.add_parser("fake-server", help="run the local Puter-compatible server for offline use")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=0, help="0 picks a free port")
    fake.add_argument("--no-host-routing", action="store_true", help="answer every route on any host")
    fake.add_argument("--allow-remote", action="store_true", help="allow a host other than loopback")
    serve = commands.add_parser("serve", help="serve your Puter session as an OpenAI-compatible API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4101)
    serve.add_argument(
        "--key",
        help="the API key clients must send; on the command line it is visible to every local user in the process "
        "list, so prefer $PUTER_PROXY_KEY, or let a key be generated (printed once)",
    )
    serve.add_argument("--allow-origin", action="append", default=[], dest="allow_origins", help="CORS origin")
    serve.add_argument("--allow-remote", action="store_true", help="allow a host other than loopback")
    commands.add_parser("demo", help="a real small model, then the local Puter server (what `make demo` runs)")
    local = commands.add_parser("local-model", help="serve a real small model offline (llama.cpp, SmolLM2-135M)")
    local.add_argument("--port", type=int, default=LOCAL_MODEL_PORT, help="default: the `local` preset's port")
    commands.add_parser("help", help="this list")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "help":
        parser.print_help()
        return 0
    from .redact import configure_logging

    configure_logging(os.environ.get("PUTER_LOG_LEVEL"))
    handler: Callable[[argparse.Namespace], int] = COMMANDS[args.command]
    try:
        return handler(args)
    except PuterError as error:
        print(f"error: {error.one_line(surface='cli')}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`| head`): stop quietly, and keep the interpreter's final flush from failing too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # what a shell reports for a process ended by SIGPIPE


def cmd_login(args: argparse.Namespace) -> int:
    from .providers.puter_account import TEMP_ACCOUNT_NOTE

    session = session_for(args)
    origin, store = session.provider.origin, session.provider.store
    if args.guest:
        user = session.login_guest()
    elif args.token:
        user = session.use_token(_ask("API token: ", secret=True))
    else:
        session.provider.login_origin()  # refuse before the password is typed, not after
        username = args.username or _ask("Username or email: ")
        password = _ask("Password: ", secret=True)
        user = session.login(username, password, otp=lambda: _ask("One-time code: "))
    temporary = f" ({TEMP_ACCOUNT_NOTE})" if user.is_temp else ""
    print(f"Logged in to {origin} as {user.username}{temporary}. The token is stored in {store.path}.")
    return 0


def _ask(prompt: str, *, secret: bool = False) -> str:
    """A line from the terminal (not echoed when `secret`), or from standard input when it is piped."""
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            answer = getpass.getpass(prompt) if secret else input(prompt)
        elif not (answer := sys.stdin.readline() if sys.stdin is not None else ""):
            raise EOFError
    except EOFError:
        raise InputError(
            "standard input ended before the login was complete", hint="run it in a terminal, or set PUTER_TOKEN"
        ) from None
    return answer.strip()


def cmd_logout(args: argparse.Namespace) -> int:
    session = session_for(args)
    session.logout()
    print(f"Logged out of {session.provider.origin}.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = session_for(args).status()
    print(plain(status_line(status, login="puter-magic login")))
    return 0 if status.reachable and status.error is None else 1


def cmd_models(args: argparse.Namespace) -> int:
    models = session_for(args).models()
    shown = [m for m in models if args.filter.lower() in m.id.lower()]
    for model in sorted(shown, key=lambda m: m.id):
        details = [p for p in (model.provider, _context(model.context), _price(model)) if p]
        print(f"{model.id:40} {'  '.join(details)}".rstrip())
    print(f"{len(shown)} of {len(models)} models", file=sys.stderr)
    return 0


def _context(tokens: int | None) -> str:
    return f"{tokens:,} ctx" if tokens else ""


def _price(model: Any) -> str:
    if model.input_cost is None or model.output_cost is None:
        return ""
    return f"${model.input_cost:g}/${model.output_cost:g} per M tokens"


def cmd_usage(args: argparse.Namespace) -> int:
    print(credit_line(session_for(args).usage()))
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    rows = [list(row) for row in session_for(args).settings.describe()]
    print(table(["setting", "value", "from"], rows).plain)
    return 0


def cmd_fake_server(args: argparse.Namespace) -> int:
    with _needs_extra():
        from .testing import run_forever
    with _listening(args.host, args.port):
        run_forever(args.host, args.port, allow_remote=args.allow_remote, host_routing=not args.no_host_routing)
    return 0


KEY_IN_ARGV = "warning: --key is visible to every local user in the process list; prefer PUTER_PROXY_KEY"


def cmd_serve(args: argparse.Namespace) -> int:
    with _needs_extra():
        from .server.serve import serve_forever
    if args.key:
        print(KEY_IN_ARGV, file=sys.stderr)
    key = args.key or os.environ.get("PUTER_PROXY_KEY")
    serve_forever(session_for(args), args.host, args.port, key, args.allow_origins, allow_remote=args.allow_remote)
    return 0


@contextlib.contextmanager
def _needs_extra() -> Iterator[None]:
    """An optional dependency that is missing becomes one line naming the extra to install."""
    try:
        yield
    except ModuleNotFoundError as error:
        package = (error.name or "").split(".")[0]
        if package not in EXTRAS:
            raise
        raise ConfigurationError(
            f"this command needs {package}, which is not installed",
            hint=f"pip install 'puter-magic[{EXTRAS[package]}]'",
        ) from None


@contextlib.contextmanager
def _listening(host: str, port: int) -> Iterator[None]:
    """A port that cannot be listened on becomes one line instead of an OSError."""
    try:
        yield
    except OSError as error:
        if error.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
            raise
        raise InputError(f"cannot listen on {host}:{port}: {error.strerror}", hint="pick another --port") from None


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo.run import run_demo

    return run_demo()


def cmd_local_model(args: argparse.Namespace) -> int:
    from .testing.local_model import serve_forever

    return serve_forever(args.port)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "login": cmd_login,
    "logout": cmd_logout,
    "status": cmd_status,
    "models": cmd_models,
    "usage": cmd_usage,
    "config": cmd_config,
    "chat": cli_chat.cmd_chat,
    "draw": cli_media.cmd_draw,
    "speak": cli_media.cmd_speak,
    "fake-server": cmd_fake_server,
    "serve": cmd_serve,
    "demo": cmd_demo,
    "local-model": cmd_local_model,
}
