"""`puter-magic` / `python -m puter_magic`: login, logout, status, models, chat, fake-server, demo."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .errors import PuterError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="puter-magic", description="Chat with LLMs through Puter's AI API.")
    parser.add_argument("--api-origin", help="Puter API origin (default: $PUTER_API_ORIGIN or api.puter.com)")
    parser.add_argument("--gui-origin", help="Puter GUI origin, for login (default: $PUTER_GUI_ORIGIN)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    login = commands.add_parser("login", help="log in and store the token (mode 0600)")
    login.add_argument("--username", "-u", help="username or email (asked when missing)")
    login.add_argument("--token", action="store_true", help="paste an API token instead of a password")
    login.add_argument("--guest", action="store_true", help="create a temporary account (where the server allows)")
    commands.add_parser("logout", help="forget the stored token")
    commands.add_parser("status", help="who is logged in, and the credits left")
    models = commands.add_parser("models", help="list the models")
    models.add_argument("filter", nargs="?", default="", help="show only ids containing this text")
    chat = commands.add_parser("chat", help="ask one question; the answer streams to the terminal")
    chat.add_argument("prompt", help="the question ('-' reads standard input)")
    chat.add_argument("--model", "-m", help="model id (default: $PUTER_MODEL)")
    chat.add_argument("--system", "-s", help="a system prompt")
    chat.add_argument("--temperature", type=float)
    chat.add_argument("--max-tokens", type=int)
    fake = commands.add_parser("fake-server", help="run the local Puter-compatible server for offline use")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=0, help="0 picks a free port")
    fake.add_argument("--no-host-routing", action="store_true", help="answer every route on any host")
    fake.add_argument("--allow-remote", action="store_true", help="allow a host other than loopback")
    serve = commands.add_parser("serve", help="serve your Puter session as an OpenAI-compatible API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=4101)
    serve.add_argument("--key", help="the API key clients must send (default: $PUTER_PROXY_KEY, or generated)")
    serve.add_argument("--allow-origin", action="append", default=[], dest="allow_origins", help="CORS origin")
    serve.add_argument("--allow-remote", action="store_true", help="allow a host other than loopback")
    commands.add_parser("demo", help="chat with the embedded local backend (what `make demo` runs)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .redact import configure_logging

    configure_logging(os.environ.get("PUTER_LOG_LEVEL"))
    handler: Callable[[argparse.Namespace], int] = COMMANDS[args.command]
    try:
        return handler(args)
    except PuterError as error:
        print(f"error: {error.one_line()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _provider(args: argparse.Namespace) -> Any:
    from .config import Settings
    from .providers.puter import PuterProvider

    settings = Settings.load(api_origin=args.api_origin, gui_origin=args.gui_origin)
    return PuterProvider(settings)


def _run(coro: Any) -> Any:
    from .loop import default_loop

    return default_loop().run(coro)


def cmd_login(args: argparse.Namespace) -> int:
    from .providers.puter_wire import TEMP_ACCOUNT_NOTE

    provider = _provider(args)
    if args.guest:
        user = _run(provider.login_guest())
    elif args.token:
        user = _run(provider.use_token(getpass.getpass("API token: ").strip()))
    else:
        provider.login_origin()  # refuse before the password is typed, not after
        username = args.username or input("Username or email: ").strip()
        password = getpass.getpass("Password: ")
        user = _run(provider.login(username, password, otp=lambda: input("One-time code: ").strip()))
    temporary = f" ({TEMP_ACCOUNT_NOTE})" if user.is_temp else ""
    where = f"The token is stored in {provider.store.path}."
    print(f"Logged in to {provider.origin} as {user.username}{temporary}. {where}")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    provider = _provider(args)
    _run(provider.logout())
    print(f"Logged out of {provider.origin}.")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .commands import plain, status_line

    status = _run(_provider(args).status())
    print(plain(status_line(status, login="puter-magic login")))
    return 0 if status.reachable and status.user and status.error is None else 1


def cmd_models(args: argparse.Namespace) -> int:
    models = _run(_provider(args).models())
    shown = [m for m in models if args.filter.lower() in m.id.lower()]
    for model in sorted(shown, key=lambda m: m.id):
        details = [p for p in (model.provider, _context(model.context), _price(model)) if p]
        print(f"{model.id:40} {'  '.join(details)}")
    print(f"{len(shown)} of {len(models)} models", file=sys.stderr)
    return 0


def _context(tokens: int | None) -> str:
    return f"{tokens:,} ctx" if tokens else ""


def _price(model: Any) -> str:
    if model.input_cost is None or model.output_cost is None:
        return ""
    return f"${model.input_cost:g}/${model.output_cost:g} per M tokens"


def cmd_chat(args: argparse.Namespace) -> int:
    from .errors import ConfigurationError
    from .types import ChatRequest, Message

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    provider = _provider(args)
    model = args.model or provider.settings.model
    if not model:
        raise ConfigurationError("no model chosen", hint="pass --model or set PUTER_MODEL")
    messages = ([Message("system", args.system)] if args.system else []) + [Message("user", prompt)]
    request = ChatRequest(tuple(messages), model, temperature=args.temperature, max_tokens=args.max_tokens)
    stream_to_terminal(provider, request)
    return 0


def stream_to_terminal(provider: Any, request: Any, collect: list[str] | None = None) -> Any:
    """Print an answer as it streams (and append its pieces to `collect`); returns the Finished event."""
    from .loop import default_loop
    from .types import Finished, TextDelta

    finished = None
    try:
        for event in default_loop().iterate(lambda: provider.stream(request)):
            if isinstance(event, TextDelta):
                sys.stdout.write(event.text)
                sys.stdout.flush()
                if collect is not None:
                    collect.append(event.text)
            elif isinstance(event, Finished):
                finished = event
    finally:
        sys.stdout.write("\n")
        sys.stdout.flush()
    return finished


def cmd_fake_server(args: argparse.Namespace) -> int:
    from .testing import run_forever

    run_forever(args.host, args.port, allow_remote=args.allow_remote, host_routing=not args.no_host_routing)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .config import Settings
    from .server import serve_forever
    from .sessions import Session

    settings = Settings.load(api_origin=args.api_origin, gui_origin=args.gui_origin)
    key = args.key or os.environ.get("PUTER_PROXY_KEY")
    serve_forever(Session(settings), args.host, args.port, key, args.allow_origins, allow_remote=args.allow_remote)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo()


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "login": cmd_login,
    "logout": cmd_logout,
    "status": cmd_status,
    "models": cmd_models,
    "chat": cmd_chat,
    "fake-server": cmd_fake_server,
    "serve": cmd_serve,
    "demo": cmd_demo,
}
