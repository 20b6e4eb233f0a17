"""`puter-magic chat`: one question to any provider the notebook reaches, the answer on stdout.

    puter-magic chat -m gpt-5-nano "Three names for a cat"
    git diff | puter-magic chat -m gpt-5-nano "Review this diff:" -
    puter-magic chat --provider ollama -m llama3.2 -t ideas "And a fourth?"    # -t keeps a thread
    puter-magic chat -m gpt-5-nano --json "hi" | jq .usage

Only the answer goes to stdout (nothing at all when the request fails), so scripts can read it. Threads named
with `-t` are kept in `conversations.json` under PUTER_MAGIC_HOME, like a notebook's threads, and sent as history.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from .errors import ConfigurationError, InputError

THREADS_FILE = "conversations.json"


def add_parser(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    chat = commands.add_parser(
        "chat", parents=parents, help="ask a question; the answer streams to stdout", description=__doc__.split("\n")[0]
    )
    chat.add_argument("prompt", nargs="*", help="the question (none, or '-': read standard input)")
    chat.add_argument("--model", "-m", help="model id (default: $PUTER_MODEL for Puter)")
    chat.add_argument("--system", "-s", help="a system prompt (with -t: becomes the thread's)")
    chat.add_argument("--thread", "-t", metavar="NAME", help="continue thread NAME, kept under PUTER_MAGIC_HOME")
    chat.add_argument("--new", action="store_true", help="with -t: start the thread over")
    chat.add_argument("--temperature", type=float, help="sampling temperature")
    chat.add_argument("--max-tokens", type=int, metavar="N", help="upper bound on the answer's tokens")
    chat.add_argument("--top-p", type=float, metavar="P", help="nucleus sampling")
    chat.add_argument("--stop", action="append", metavar="TEXT", help="stop sequence (repeat for more)")
    chat.add_argument("--seed", type=int, help="sampling seed, where the model supports one")
    chat.add_argument("--no-stream", action="store_true", help="wait for the whole answer instead of streaming it")
    chat.add_argument("--json", action="store_true", help="print one JSON object: text, model, usage, cost")


def read_prompt(words: list[str]) -> str:
    """The words of the prompt; standard input takes the place of '-', or is the prompt when no words are given."""
    if not words:
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("no question given", hint="pass it as an argument, or pipe it to standard input")
        words = ["-"]
    if "-" in words:
        piped = sys.stdin.read() if sys.stdin is not None else ""
        words = [piped if word == "-" else word for word in words]
    return " ".join(words).strip()


def cmd_chat(args: argparse.Namespace) -> int:
    prompt = read_prompt(args.prompt)
    if not prompt:
        raise InputError("the question is empty", hint="pass it as an argument, or pipe it to standard input")
    if args.new and not args.thread:
        raise InputError("--new starts a thread over", hint="name the thread with -t NAME")
    with contextlib.closing(session_for(args)) as session:
        return _ask(session, args, prompt)


def _ask(session: Any, args: argparse.Namespace, prompt: str) -> int:
    from .config import state_dir
    from .core.conversation import Conversations

    model = args.model or session.model
    if not model:
        raise ConfigurationError(
            "no model chosen", hint="pass --model NAME or set PUTER_MODEL; `{puter} models` lists them"
        )
    saved = state_dir() / THREADS_FILE
    if args.thread and saved.exists():
        session.conversations = Conversations.load(saved)
    reply = session.ask(
        prompt,
        stream=not args.no_stream,
        model=model,
        thread=args.thread,
        system=args.system,
        history=args.thread is not None,
        new=args.new,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        top_p=args.top_p,
        seed=args.seed,
        stop_sequences=tuple(args.stop) if args.stop else None,
    )
    try:
        answer = _read(reply, echo=not args.json and not args.no_stream)
    except KeyboardInterrupt:  # the part that arrived was kept in the thread, flagged
        _save(session.conversations, saved, args.thread)
        raise
    _save(session.conversations, saved, args.thread)
    if args.json:
        _print(json.dumps({"text": answer.text, **answer.provenance()}, ensure_ascii=False))
    elif args.no_stream:
        _print(answer.text)
    return 0


def _read(reply: Any, *, echo: bool) -> Any:
    """Read the Reply (its text to stdout as it arrives, when `echo`); its turn is kept when it ends, and Ctrl-C
    keeps what arrived, flagged (the Reply's policy). Returns the Answer."""
    wrote = False
    try:
        for piece in reply:
            if piece and echo:
                sys.stdout.write(piece)
                sys.stdout.flush()
                wrote = True
    except BaseException:
        _end_line(wrote)
        raise
    answer = reply.answer()
    if echo and not answer.text.endswith("\n"):
        _print("")
    return answer


def _end_line(wrote: bool) -> None:
    """After a partial answer in a terminal, the error starts on a line of its own; a pipe gets nothing extra."""
    if wrote and sys.stdout.isatty():
        _print("")


def _print(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _save(conversations: Any, path: Path, thread: str | None) -> None:
    if thread:
        path.parent.mkdir(parents=True, exist_ok=True)
        conversations.save(path)


def session_for(args: argparse.Namespace) -> Any:
    """A Session on the origins given on the command line, switched to `--provider` when one is named."""
    from .config import Settings
    from .core.sessions import Session

    session = Session(Settings.load(api_origin=args.api_origin, gui_origin=args.gui_origin))
    if getattr(args, "provider", None):
        session.use_provider(args.provider, key_env=args.key_env)
    elif getattr(args, "key_env", None):
        raise InputError("--key-env needs --provider", hint="name the server with --provider NAME|URL")
    return session
