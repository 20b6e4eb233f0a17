"""Conversations in and out: JSON data (format version 1), Markdown transcripts, and the files they are saved to.

The `Conversations` methods `to_json`, `from_json`, `to_markdown`, `save` and `load` delegate here; this module
only uses the public face of `Conversations`, `Thread` and `Turn`.

    to_json(conversations)            {"version": 1, "active": NAME, "threads": {NAME: {"system", "turns"}}}
    from_json(data)                   checks every field; a malformed shape raises InputError saying where
    thread_markdown(thread)           `## Thread: NAME`, the system prompt as a quote, then the turns
    render(conversations, path)       the text save() writes to `path` (its suffix picks the format)
    save(conversations, path)         `.json` (everything, loadable) or `.md` (all threads); written atomically
    load(path)                        a `.json` save; parse(data, source) reads one from bytes
    message_to_json / message_from_json   one chat Message (tool calls and results, part lists) as JSON data
    write_atomic(path, text)          temp file in the same folder, fsync, rename over `path`

Pure: standard library, `puter_magic.datatypes`, `puter_magic.errors` and `puter_magic.core.conversation` only.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..datatypes import ROLES, Message, ToolCall, Usage
from ..errors import InputError
from .conversation import FORMAT_VERSION, Conversations, Thread, Turn

# --- JSON ------------------------------------------------------------------------------------------


def to_json(conversations: Conversations) -> dict[str, Any]:
    """Everything, as plain JSON-able data (format version 1)."""
    threads = (conversations.thread(name) for name in conversations.names())
    return {
        "version": FORMAT_VERSION,
        "active": conversations.active,
        "threads": {
            thread.name: {"system": thread.system, "turns": [_turn_to_json(turn) for turn in thread.turns]}
            for thread in threads
        },
    }


def from_json(data: Mapping[str, Any], cls: type[Conversations] = Conversations) -> Conversations:
    """A `cls` rebuilt from `to_json()` data; a malformed shape raises InputError saying where."""
    if not isinstance(data, Mapping):
        raise _malformed("the data", "must be a JSON object")
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise _malformed("'version'", f"must be {FORMAT_VERSION}, not {version!r}")
    threads = data.get("threads")
    if not isinstance(threads, Mapping):
        raise _malformed("'threads'", "must be an object of threads by name")
    result = cls()
    for name, raw in threads.items():
        parsed = _thread_from_json(name, raw)
        thread = result.thread(_json_thread_name(name))
        thread.system, thread.turns = parsed.system, parsed.turns
    active = _get(data, "active", (str,), "the data", default=cls.default_thread)
    if active not in result:
        raise _malformed("'active'", f"names no thread: {active!r}")
    result.active = active
    return result


def _malformed(where: str, problem: str) -> InputError:
    return InputError(f"{where} {problem}", hint="this is not a puter-magic conversation save, or it was edited")


_MISSING: Any = object()


def _get(data: Mapping[str, Any], name: str, kinds: tuple[type, ...], where: str, *, default: Any = _MISSING) -> Any:
    """data[name], checked to be one of `kinds` (None allowed only through `kinds`); bool never counts as a number."""
    if name not in data:
        if default is _MISSING:
            raise _malformed(where, f"has no {name!r}")
        return default
    value = data[name]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        shown = (kind for kind in kinds if not (kind is int and float in kinds))  # "a number" covers both
        expected = " or ".join(_JSON_TYPES.get(kind, kind.__name__) for kind in shown)
        raise _malformed(f"{where}.{name}", f"must be {expected}, not {_json_type(value)}")
    return value


_JSON_TYPES: dict[type, str] = {
    str: "text",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    Mapping: "an object",
    type(None): "null",
}


def _json_type(value: Any) -> str:
    kind = next((kind for kind in (bool, *_JSON_TYPES) if isinstance(value, kind)), type(value))
    return _JSON_TYPES.get(kind, kind.__name__)


def _json_thread_name(name: Any) -> str:
    if not isinstance(name, str) or name != name.strip() or not name or not name.isprintable():
        raise _malformed("'threads'", f"has an invalid thread name: {name!r}")
    return name


def _thread_from_json(name: str, data: Any) -> Thread:
    values = _fields(data, {"system": (_TEXT, None), "turns": ((list,), [])}, f"thread {name!r}")
    turns = [_turn_from_json(raw, f"thread {name!r} turn {number}") for number, raw in enumerate(values["turns"], 1)]
    keys = [turn.key for turn in turns if turn.key is not None]
    if len(keys) != len(set(keys)):
        raise _malformed(f"thread {name!r}", "has two turns with the same cell key")
    return Thread(name, values["system"] or None, turns)


_TEXT = (str, type(None))
_TURN_FIELDS = {
    "prompt": ((str,), _MISSING),
    "answer": ((str,), _MISSING),
    "key": (_TEXT, None),
    "model": (_TEXT, None),
    "provider": (_TEXT, None),
    "usage": ((Mapping, type(None)), None),
    "interrupted": ((bool,), False),
    "created": ((int, float), 0.0),
}
_USAGE_FIELDS = {
    "input_tokens": ((int, type(None)), None),
    "output_tokens": ((int, type(None)), None),
    "cost_usd": ((int, float, type(None)), None),
    "estimated": ((bool,), False),
    "cached_tokens": ((int, type(None)), None),
}


def _turn_to_json(turn: Turn) -> dict[str, Any]:
    data = {name: getattr(turn, name) for name in _TURN_FIELDS}
    if turn.usage is not None:
        usage = {name: getattr(turn.usage, name) for name in _USAGE_FIELDS}
        if usage["cached_tokens"] is None:
            del usage["cached_tokens"]  # files stay as they were unless there is something to say
        data["usage"] = usage
    return data


def _fields(data: Any, schema: Mapping[str, tuple[tuple[type, ...], Any]], where: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise _malformed(where, "must be an object")
    return {name: _get(data, name, kinds, where, default=default) for name, (kinds, default) in schema.items()}


def _turn_from_json(data: Any, where: str) -> Turn:
    values = _fields(data, _TURN_FIELDS, where)
    if values["usage"] is not None:
        usage = _fields(values["usage"], _USAGE_FIELDS, f"{where}.usage")
        values["usage"] = Usage(**usage)
    values["created"] = float(values["created"])
    return Turn(**values)


def message_to_json(message: Message) -> dict[str, Any]:
    """One chat message (tool calls, tool results, part lists and reasoning included), as plain JSON data."""
    return message.to_dict()


_MESSAGE_FIELDS = {
    "role": ((str,), _MISSING),
    "content": ((str, list), ""),
    "tool_calls": ((list,), []),
    "tool_call_id": (_TEXT, None),
    "name": (_TEXT, None),
    "reasoning_content": (_TEXT, None),
}
_CALL_FIELDS = {"id": ((str,), _MISSING), "function": ((Mapping,), _MISSING)}
_FUNCTION_FIELDS = {"name": ((str,), _MISSING), "arguments": ((str,), "")}


def message_from_json(data: Any, where: str = "the message") -> Message:
    """A Message from `message_to_json()` data; a malformed shape raises InputError saying where."""
    values = _fields(data, _MESSAGE_FIELDS, where)
    if values["role"] not in ROLES:
        raise _malformed(f"{where} 'role'", f"must be one of {', '.join(ROLES)}")
    if isinstance(values["content"], list) and not all(isinstance(part, Mapping) for part in values["content"]):
        raise _malformed(f"{where} 'content'", "must be text or a list of content-part objects")
    calls = []
    for number, raw in enumerate(values["tool_calls"]):
        call = _fields(raw, _CALL_FIELDS, f"{where} tool call {number}")
        function = _fields(call["function"], _FUNCTION_FIELDS, f"{where} tool call {number} function")
        calls.append(ToolCall.from_text(call["id"], function["name"], function["arguments"]))
    values["content"] = (
        [dict(part) for part in values["content"]] if isinstance(values["content"], list) else values["content"]
    )
    values["tool_calls"] = tuple(calls)
    return Message(**values)


# --- Markdown --------------------------------------------------------------------------------------

# Lines that would escape the transcript's structure if a prompt were pasted as Markdown: headings, code fences,
# HTML blocks, setext underlines and thematic breaks.
_RISKY_LINE = re.compile(r"^ {0,3}(?:#|<|```|~~~|[=-]+[ \t]*$|(?:[*_][ \t]*){3,}$)", re.MULTILINE)
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def thread_markdown(thread: Thread) -> str:
    """A readable transcript of one thread: a heading, the system prompt as a quote, the turns between rules."""
    parts = [f"## Thread: {thread.name}"]
    if thread.system:
        parts.append(_blockquote(f"**System:**\n\n{thread.system}"))
    if thread.turns:
        parts.append("\n\n---\n\n".join(_turn_markdown(turn) for turn in thread.turns))
    else:
        parts.append("*(no turns yet)*")
    return "\n\n".join(parts) + "\n"


def _turn_markdown(turn: Turn) -> str:
    """`**You:**` and the prompt, then `**Assistant** (model):` and the answer.

    A prompt is shown as written unless it has a line that Markdown would read as structure (a heading, a code
    fence, an HTML block, a rule): then the whole prompt goes into a fenced block longer than any backtick run in
    it, so it shows literally. An answer is Markdown and shown as such, but a code fence it left open (an
    interrupted answer often does) is closed, so the rest of the transcript is not swallowed.
    """
    prompt = _fenced(turn.prompt) if _RISKY_LINE.search(turn.prompt) else turn.prompt
    label = f"**Assistant** ({turn.model}):" if turn.model else "**Assistant:**"
    parts = ["**You:**", prompt or "*(empty)*", label, _close_fences(turn.answer) or "*(empty)*"]
    if turn.interrupted:
        parts.append("*(interrupted)*")
    return "\n\n".join(parts)


def _fenced(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def _close_fences(text: str) -> str:
    opened: str | None = None
    for line in text.splitlines():
        match = _FENCE_LINE.match(line)
        if match is None:
            continue
        marker, rest = match.groups()
        if opened is None:
            if not (marker[0] == "`" and "`" in rest):  # a backtick in the info string: not a fence
                opened = marker
        elif marker[0] == opened[0] and len(marker) >= len(opened) and not rest.strip():
            opened = None
    return text if opened is None else f"{text}\n{opened}"


def _blockquote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


# --- files -----------------------------------------------------------------------------------------


def render(conversations: Conversations, path: str | os.PathLike[str]) -> str:
    """The text `save()` writes to `path`: JSON (everything, loadable) for `.json`, a transcript for `.md`."""
    target = Path(path)
    if _is_markdown(target):
        return "\n".join(conversations.to_markdown(name) for name in conversations.names())
    if target.suffix.lower() == ".json":
        return json.dumps(conversations.to_json(), indent=2, ensure_ascii=False) + "\n"
    raise InputError(f"cannot tell the format of {target}", hint="name the file .json (loadable) or .md")


def save(conversations: Conversations, path: str | os.PathLike[str]) -> None:
    """Write a `.json` file (everything, loadable) or a `.md` transcript (all threads); atomically."""
    write_atomic(Path(path), render(conversations, path))


def load(path: str | os.PathLike[str], cls: type[Conversations] = Conversations) -> Conversations:
    """A `cls` read from a file written by `save()` as JSON."""
    source = Path(path)
    if _is_markdown(source):
        raise InputError(f"cannot load {source}: Markdown transcripts are export only", hint="load a .json save")
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no conversation file at {source}", hint="check the path") from None
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or exc}", hint="check the path") from None
    return parse(data, source, cls)


def parse(data: bytes, source: str | os.PathLike[str], cls: type[Conversations] = Conversations) -> Conversations:
    """A `cls` read from the bytes of a JSON save; errors name `source`."""
    try:
        loaded = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad JSON or bad UTF-8
        raise InputError(f"{source} is not a JSON file: {exc}", hint="load a .json save") from None
    try:
        return cls.from_json(loaded)
    except InputError as exc:
        raise InputError(f"{source}: {exc.message}", hint=exc.hint) from None


def _is_markdown(path: Path) -> bool:
    return path.suffix.lower() in (".md", ".markdown")


def write_atomic(path: Path, text: str) -> None:
    """Write a temp file next to `path`, fsync it, then rename it over `path`: readers (and a crash at any
    moment) see the old file or the new one, never a part. The folder is synced too, so the rename lasts.

    A new file gets the usual mode (0666 less the umask); an existing file keeps its mode.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = stat.S_IMODE(path.stat().st_mode) if path.is_file() else None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
        temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(temp, flags, 0o666)  # the kernel applies the umask
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(text.encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            if mode is not None:
                os.chmod(temp, mode)
            os.replace(temp, path)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        _sync_folder(path.parent)
    except OSError as exc:
        raise InputError(
            f"cannot write {path}: {exc.strerror or exc}", hint="check the path and its permissions"
        ) from None


def _sync_folder(folder: Path) -> None:
    """fsync a folder, so a rename in it survives a crash (POSIX; elsewhere there is nothing to do)."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a folder; the file itself is already synced
    finally:
        os.close(fd)
