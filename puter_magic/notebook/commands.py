"""The `%puter COMMAND` subcommands: each parses its words, asks the session, and returns a Report."""

from __future__ import annotations

import difflib
import getpass
import shlex
from collections.abc import Callable
from typing import Any

from ..core.conversation import Conversations
from ..core.conversation_io import image_marker
from ..core.interpolate import interpolate
from ..errors import InputError
from ..reports import Report, credit_line, plain, say, status_line, table

Command = Callable[[Any, str], Any]
COMMANDS: dict[str, tuple[Command, str]] = {}


def command(name: str, usage: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = (fn, usage)
        return fn

    return register


def run(magics: Any, line: str) -> Any:
    name, _, rest = line.strip().partition(" ")
    name = name or "status"
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f"did you mean `%puter {close[0]}`?" if close else "`%puter help` lists the commands"
        raise InputError(f"unknown command {name!r}", hint=hint)
    return COMMANDS[name][0](magics, interpolate(rest.strip(), magics.namespace()))


@command("help", "this list")
def cmd_help(magics: Any, rest: str) -> Report:
    rows = [[f"%puter {name}", usage] for name, (_, usage) in COMMANDS.items()]
    rows.append(["%%puter [options]", "the cell is the prompt; `%%puter --help` lists the options"])
    return table(["command", "what it does"], rows)


@command("status", "who you are, the provider, model and thread")
def cmd_status(magics: Any, rest: str) -> Report:
    session = magics.session
    line = status_line(session.status(), login="%puter login")
    model = f"`{session.model}`" if session.model else "none yet — choose one with `%puter model NAME`"
    thread = f"thread `{session.conversations.active}`"
    window = window_line(session)
    return Report(
        f"{line}\n\nModel: {model} · {thread}\n\n{window}", plain(f"{line}\nModel: {model} · {thread}\n{window}")
    )


WINDOW_SOURCES = {
    "override": "set with `%config PuterMagics.context_tokens`",
    "learned": "learned from the server's refusal of a longer request",
    "server": "as the server says",
    "default": "the default: the server did not say",
}


def window_line(session: Any) -> str:
    """ "Window: 512 tokens (as the server says) · the thread uses about 340 (66%)"."""
    tokens, source = session.window()
    used = session.thread_tokens()
    return (
        f"Window: {tokens:,} tokens ({WINDOW_SOURCES[source]}) · the thread uses about {used:,} ({used / tokens:.0%})"
    )


@command("login", "log in (username + password, a 2FA code if asked); --token to paste a token")
def cmd_login(magics: Any, rest: str) -> Report:
    session = magics.session
    words = shlex.split(rest)
    if "--token" in words:
        user = session.use_token(getpass.getpass("Puter API token: ").strip())
    else:
        username = next((w for w in words if not w.startswith("-")), "") or input("Username or email: ").strip()
        password = getpass.getpass("Password: ")
        user = session.login(username, password, otp=lambda: input("One-time code: ").strip())
    return say(f"Logged in as **{user.username}**. The token is stored for {session.provider.origin} (mode 0600).")


@command("logout", "forget the token")
def cmd_logout(magics: Any, rest: str) -> Report:
    magics.session.logout()
    return say("Logged out.")


@command("models", "list the models, optionally filtered: %puter models gpt (--images, --voices: drawing, speech)")
def cmd_models(magics: Any, rest: str) -> Report:
    if rest.strip() in ("--images", "--voices"):
        from .media_cell import models_listing

        return models_listing(magics, rest.strip())
    models = magics.session.models(refresh=True)
    shown = sorted((m for m in models if rest.lower() in m.id.lower()), key=lambda m: m.id)
    rows = []
    for m in shown:
        price = (
            f"${m.input_cost:g} / ${m.output_cost:g}" if m.input_cost is not None and m.output_cost is not None else ""
        )
        rows.append([m.id, m.provider or "", f"{m.context:,}" if m.context else "", price])
    caption = f"{len(shown)} of {len(models)} models" + (f" matching {rest!r}" if rest else "")
    return table(["model", "provider", "context", "$ per M tokens in / out"], rows, caption)


@command("model", "show or set the model: %puter model NAME (--any skips the check)")
def cmd_model(magics: Any, rest: str) -> Report:
    session = magics.session
    words = shlex.split(rest)
    names = [w for w in words if not w.startswith("--")]
    if not names:
        return say(f"Model: `{session.model or 'none'}`")
    name = names[0]
    if "--any" not in words:
        try:
            models = session.known_models() or session.models()
        except Exception:
            models = []
        if models and not any(m.matches(name) for m in models):
            owner = {alias: m.id for m in models for alias in (*m.aliases, m.id)}
            matches = difflib.get_close_matches(name, list(owner), n=6, cutoff=0.5)
            close = list(dict.fromkeys(owner[match] for match in matches))[:3]  # one suggestion per model
            hint = f"did you mean {', '.join(close)}?" if close else "see `%puter models`"
            raise InputError(f"unknown model {name!r}", hint=f"{hint} (or `%puter model {name} --any`)")
    session.set_model(name)
    return say(f"Model set to `{name}`.")


@command("provider", "show or switch: puter, ollama, vllm, lmstudio, llamacpp, textgen, a URL; add NAME URL")
def cmd_provider(magics: Any, rest: str) -> Report:
    session = magics.session
    words = shlex.split(rest)
    key_env = _option(words, "--key-env")
    if not words:
        rows = [
            ["●" if e.name == session.provider_name else "", e.name, e.base_url, e.key_env or ""]
            for e in session.registry.endpoints()
        ]
        return table(["", "provider", "URL", "key from"], rows)
    if words[0] == "add":
        if len(words) != 3:
            raise InputError("usage: %puter provider add NAME URL [--key-env VAR]")
        endpoint = session.registry.add(words[1], words[2], key_env=key_env)
        session.notify("provider")
        return say(f"Added `{endpoint.name}` at {endpoint.base_url}.")
    provider = session.use_provider(words[0], key_env=key_env)
    model = f" Model: `{session.model}`." if session.model else " Pick a model with `%puter models`."
    return say(f"Provider `{provider.name}` ({provider.origin}) is active.{model}")


def _option(words: list[str], flag: str) -> str | None:
    """Remove `flag VALUE` from words and return VALUE."""
    if flag not in words:
        return None
    at = words.index(flag)
    if at + 1 >= len(words):
        raise InputError(f"{flag} needs a value")
    value = words[at + 1]
    del words[at : at + 2]
    return value


@command("serve", "serve this session as an OpenAI-compatible API: [status|stop] [--port N] [--key-env VAR]")
def cmd_serve(magics: Any, rest: str) -> Report:
    from ..server.commands import serve_command

    return say(serve_command(magics.session, rest))


@command("panel", "show the panel: provider, model + Fetch, status badge, login, thread, temperature")
def cmd_panel(magics: Any, rest: str) -> Any:
    from ..widgets.panel import panel

    return panel(magics.session)


@command("threads", "list the conversation threads")
def cmd_threads(magics: Any, rest: str) -> Report:
    conversations: Conversations = magics.session.conversations
    rows = []
    for name in conversations.names():
        thread = conversations.thread(name)
        marker = "●" if name == conversations.active else ""
        rows.append([marker, name, str(len(thread.turns)), (thread.system or "")[:60]])
    return table(["", "thread", "turns", "system prompt"], rows)


@command("thread", "switch to a thread (created when new): %puter thread NAME")
def cmd_thread(magics: Any, rest: str) -> Report:
    if not rest:
        return say(f"Thread: `{magics.session.conversations.active}`")
    magics.session.conversations.switch(rest)
    magics.session.notify("thread")
    return say(f"Thread `{rest}` is active.")


@command("system", "show or set the active thread's system prompt (--clear removes it)")
def cmd_system(magics: Any, rest: str) -> Report:
    conversations = magics.session.conversations
    if not rest:
        current = conversations.thread().system
        return say(f"System prompt: {current!r}" if current else "No system prompt.")
    conversations.set_system(None if rest == "--clear" else rest)
    return say("System prompt removed." if rest == "--clear" else "System prompt set.")


@command("history", "the transcript of a thread: %puter history [THREAD]")
def cmd_history(magics: Any, rest: str) -> Report:
    conversations = magics.session.conversations
    markdown = conversations.to_markdown(rest or None)  # images of prompts as thumbnails
    return Report(markdown, conversations.to_markdown(rest or None, image=image_marker))


@command("clear", "forget a thread's turns: %puter clear [THREAD]")
def cmd_clear(magics: Any, rest: str) -> Report:
    magics.session.conversations.clear(rest or None)
    magics.session.notify("history")
    return say(f"Cleared thread `{rest or magics.session.conversations.active}`.")


@command("export", "save the conversations: %puter export PATH (.json, or .md for a transcript)")
def cmd_export(magics: Any, rest: str) -> Report:
    if not rest:
        raise InputError("no file given", hint="%puter export conversations.json")
    magics.session.conversations.save(rest)
    return say(f"Saved to `{rest}`.")


@command("import", "load conversations saved with export: %puter import PATH")
def cmd_import(magics: Any, rest: str) -> Report:
    if not rest:
        raise InputError("no file given", hint="%puter import conversations.json")
    magics.session.conversations = Conversations.load(rest)
    magics.session.notify("history")
    return say(f"Loaded {len(magics.session.conversations.names())} thread(s) from `{rest}`.")


@command("usage", "the credit left on your Puter account")
def cmd_usage(magics: Any, rest: str) -> Report:
    return say(credit_line(magics.session.usage()))


@command("config", "the effective settings (secrets masked); %puter config context_tokens N|auto sets the window")
def cmd_config(magics: Any, rest: str) -> Report:
    words = rest.split()
    if words:
        return set_context_tokens(magics, words)
    rows = [[name, shown, source] for name, shown, source in magics.session.settings.describe()]
    traits = ("default_model", "default_format", "temperature", "max_tokens", "context_tokens", "update_interval")
    for trait in (*traits, "autosave"):
        rows.append([f"PuterMagics.{trait}", str(getattr(magics, trait)), "%config"])
    return table(["setting", "value", "from"], rows)


def set_context_tokens(magics: Any, words: list[str]) -> Report:
    """`%puter config context_tokens N` (or `auto`: the server's window again)."""
    if len(words) != 2 or words[0] not in ("context_tokens", "context"):
        raise InputError("`%puter config` sets only context_tokens", hint="`%puter config context_tokens 4096` or auto")
    value = words[1]
    if value != "auto" and not (value.isdigit() and int(value) > 0):
        raise InputError(f"{value!r} is not a number of tokens", hint="`%puter config context_tokens 4096` or auto")
    magics.context_tokens = None if value == "auto" else int(value)
    configured = magics.shell.config.PuterMagics  # what `%config` set, so that a reload keeps this choice too
    if value == "auto":
        configured.pop("context_tokens", None)
    else:
        configured.context_tokens = magics.context_tokens
    return say(window_line(magics.session))


@command("explain", "explain the last exception, or cell N's: %puter explain [N] (also @{Err} in a prompt)")
def cmd_explain(magics: Any, rest: str) -> Any:
    from .explain import EXPLAIN, prompt_for

    return magics.ask("--raw", prompt_for(magics, rest, EXPLAIN))


@command("fix", "propose the failing cell corrected, as a new cell below: %puter fix [N]")
def cmd_fix(magics: Any, rest: str) -> Any:
    from .explain import FIX, prompt_for

    return magics.ask("--raw -f code --insert", prompt_for(magics, rest, FIX))


@command("tools", "the functions registered with @puter_magic.tool, for %%puter --tools")
def cmd_tools(magics: Any, rest: str) -> Report:
    from .tool_cell import tools_report

    return tools_report()
