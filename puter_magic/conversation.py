"""Named conversation threads: turns keyed by notebook cell, trimmed to a token budget, saved as JSON or Markdown.

A `Conversations` holds the threads of one notebook session. Each thread has an optional system prompt and a list of
finished (or interrupted) turns. A turn remembers the cell that produced it (`key`), so re-running a cell replaces
that cell's own turn in place instead of adding context twice.

Pure: standard library, `puter_magic.types` and `puter_magic.errors` only.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigurationError, InputError
from .types import Message, Usage

FORMAT_VERSION = 1
MESSAGE_OVERHEAD = 4  # tokens a chat message costs beyond its text (role, separators)


def estimate_tokens(text: str) -> int:
    """About four characters per token, rounded up: ceil(len / 4), so non-empty text costs at least 1."""
    return (len(text) + 3) // 4


def message_tokens(message: Message) -> int:
    """The estimated cost of one message: its text plus a fixed per-message overhead."""
    return estimate_tokens(message.text) + MESSAGE_OVERHEAD


@dataclass(frozen=True)
class Turn:
    """One prompt and its answer. An interrupted answer (Ctrl-C, stream error) is kept, flagged, with what arrived."""

    prompt: str
    answer: str
    key: str | None = None  # the notebook cell id that produced it; None for API calls
    model: str | None = None
    provider: str | None = None
    usage: Usage | None = None
    interrupted: bool = False
    created: float = field(default_factory=time.time)

    def messages(self) -> tuple[Message, Message]:
        return Message("user", self.prompt), Message("assistant", self.answer)

    def tokens(self) -> int:
        """The estimated cost of this turn in a request: both messages."""
        return estimate_tokens(self.prompt) + estimate_tokens(self.answer) + 2 * MESSAGE_OVERHEAD


@dataclass
class Thread:
    """A named line of conversation: a system prompt and the turns so far."""

    name: str
    system: str | None = None
    turns: list[Turn] = field(default_factory=list)

    def index(self, key: str | None) -> int | None:
        """The position of the turn recorded for cell `key`, or None (always None for key None)."""
        if key is None:
            return None
        for position in range(len(self.turns) - 1, -1, -1):  # a re-run is usually of a recent cell
            if self.turns[position].key == key:
                return position
        return None


class Conversations:
    """All threads of one notebook session. Not thread-safe on its own (the session guards it).

    The default thread always exists; `active` names the thread that calls without a thread name use.
    """

    default_thread = "default"

    def __init__(self) -> None:
        self._threads: dict[str, Thread] = {self.default_thread: Thread(self.default_thread)}
        self.active: str = self.default_thread

    def __repr__(self) -> str:
        return f"Conversations(active={self.active!r}, threads={self.names()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Conversations):
            return NotImplemented
        return self.active == other.active and list(self._threads.values()) == list(other._threads.values())

    def __contains__(self, name: object) -> bool:
        return name in self._threads

    # --- threads ------------------------------------------------------------------------------------

    def thread(self, name: str | None = None) -> Thread:
        """The thread called `name` (None: the active one), created empty if it does not exist yet."""
        name = self.active if name is None else _thread_name(name)
        if name not in self._threads:
            self._threads[name] = Thread(name)
        return self._threads[name]

    def switch(self, name: str) -> Thread:
        """Make `name` the active thread, creating it if needed."""
        thread = self.thread(_thread_name(name))
        self.active = thread.name
        return thread

    def names(self) -> list[str]:
        """Thread names in the order they were created; the default thread first."""
        return list(self._threads)

    def set_system(self, text: str | None, thread: str | None = None) -> None:
        """Set the thread's system prompt; None or blank text removes it."""
        self.thread(thread).system = text if text and text.strip() else None

    def clear(self, thread: str | None = None) -> None:
        """Drop the thread's turns, keep its system prompt."""
        self.thread(thread).turns.clear()

    def new(self, thread: str | None = None) -> None:
        """Start the thread over: drop its turns and its system prompt."""
        found = self.thread(thread)
        found.turns.clear()
        found.system = None

    def delete(self, name: str) -> None:
        """Remove a thread. The default thread is never removed, only cleared (its system prompt stays)."""
        found = self._existing(name)
        if found.name == self.default_thread:
            self.clear(found.name)
            return
        del self._threads[found.name]
        if self.active == found.name:
            self.active = self.default_thread

    def _find(self, name: str | None) -> Thread | None:
        return self._threads.get(self.active if name is None else _thread_name(name))

    def _existing(self, name: str | None) -> Thread:
        found = self._find(name)
        if found is None:
            raise InputError(f"no thread named {name!r}", hint=f"the threads are: {', '.join(self._threads)}")
        return found

    # --- turns and context --------------------------------------------------------------------------

    def record(self, turn: Turn, thread: str | None = None) -> None:
        """Keep a turn. A turn with the same (non-None) key is replaced in place; otherwise the turn is appended."""
        found = self.thread(thread)
        position = found.index(turn.key)
        if position is None:
            found.turns.append(turn)
        else:
            found.turns[position] = turn

    def context(self, thread: str | None = None, *, key: str | None = None) -> list[Turn]:
        """The turns a new turn for cell `key` follows: those before the cell's own turn if it has one, else all."""
        found = self._find(thread)
        if found is None:
            return []
        position = found.index(key)
        return list(found.turns if position is None else found.turns[:position])

    def messages(
        self,
        prompt: str,
        thread: str | None = None,
        *,
        key: str | None = None,
        budget: int = 8192,
        reserve: int = 0,
    ) -> list[Message]:
        """The messages to send for `prompt`: system prompt, context turns as user/assistant pairs, the prompt.

        The oldest whole turns are dropped until the estimate fits in `budget - reserve` tokens (`reserve` leaves
        room for the answer). The system prompt and the new prompt are always kept, even when they alone do not fit.
        One pass from the newest turn backwards: linear in the number of turns.
        """
        if budget <= 0:
            raise ConfigurationError(f"the token budget must be positive, not {budget}")
        if reserve < 0:
            raise ConfigurationError(f"the reserved answer tokens must be 0 or more, not {reserve}")
        found = self._find(thread)
        head = [Message("system", found.system)] if found is not None and found.system else []
        last = Message("user", prompt)
        room = budget - reserve - sum(map(message_tokens, head)) - message_tokens(last)
        turns = self.context(thread, key=key)
        start = len(turns)
        while start > 0 and turns[start - 1].tokens() <= room:
            start -= 1
            room -= turns[start].tokens()
        return [*head, *(message for turn in turns[start:] for message in turn.messages()), last]

    # --- JSON ---------------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Everything, as plain JSON-able data (format version 1)."""
        return {
            "version": FORMAT_VERSION,
            "active": self.active,
            "threads": {
                name: {"system": thread.system, "turns": [_turn_to_json(turn) for turn in thread.turns]}
                for name, thread in self._threads.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conversations:
        """Rebuild from `to_json()` data; a malformed shape raises InputError saying where."""
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
            result._threads[_json_thread_name(name)] = _thread_from_json(name, raw)
        active = _get(data, "active", (str,), "the data", default=cls.default_thread)
        if active not in result._threads:
            raise _malformed("'active'", f"names no thread: {active!r}")
        result.active = active
        return result

    # --- Markdown and files ---------------------------------------------------------------------------

    def to_markdown(self, thread: str | None = None) -> str:
        """A readable transcript of one thread (None: the active one). See `_turn_markdown` for the layout."""
        found = self._existing(thread)
        parts = [f"## Thread: {found.name}"]
        if found.system:
            parts.append(_blockquote(f"**System:**\n\n{found.system}"))
        if found.turns:
            parts.append("\n\n---\n\n".join(_turn_markdown(turn) for turn in found.turns))
        else:
            parts.append("*(no turns yet)*")
        return "\n\n".join(parts) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a `.json` file (everything, loadable) or a `.md` transcript (all threads); atomically."""
        target = Path(path)
        if _is_markdown(target):
            text = "\n".join(self.to_markdown(name) for name in self._threads)
        elif target.suffix.lower() == ".json":
            text = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        else:
            raise InputError(f"cannot tell the format of {target}", hint="name the file .json (loadable) or .md")
        _write_atomic(target, text)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Conversations:
        """Read a file written by `save()` as JSON."""
        source = Path(path)
        if _is_markdown(source):
            raise InputError(f"cannot load {source}: Markdown transcripts are export only", hint="load a .json save")
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"no conversation file at {source}", hint="check the path") from None
        except (ValueError, RecursionError) as exc:  # bad JSON or bad UTF-8
            raise InputError(f"{source} is not a JSON file: {exc}", hint="load a .json save") from None
        except OSError as exc:
            raise InputError(f"cannot read {source}: {exc.strerror or exc}", hint="check the path") from None
        try:
            return cls.from_json(data)
        except InputError as exc:
            raise InputError(f"{source}: {exc.message}", hint=exc.hint) from None


# --- helpers: names, JSON shapes --------------------------------------------------------------------


def _thread_name(name: str) -> str:
    """A thread name without surrounding spaces; it must be non-empty and on one line."""
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or not cleaned.isprintable():
        raise InputError(f"{name!r} is not a thread name", hint="use a short name on one line, such as `draft`")
    return cleaned


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
}


def _turn_to_json(turn: Turn) -> dict[str, Any]:
    data = {name: getattr(turn, name) for name in _TURN_FIELDS}
    if turn.usage is not None:
        data["usage"] = {name: getattr(turn.usage, name) for name in _USAGE_FIELDS}
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


# --- helpers: Markdown ------------------------------------------------------------------------------

# Lines that would escape the transcript's structure if a prompt were pasted as Markdown: headings, code fences,
# HTML blocks, setext underlines and thematic breaks.
_RISKY_LINE = re.compile(r"^ {0,3}(?:#|<|```|~~~|[=-]+[ \t]*$|(?:[*_][ \t]*){3,}$)", re.MULTILINE)
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


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


# --- helpers: files ---------------------------------------------------------------------------------


def _is_markdown(path: Path) -> bool:
    return path.suffix.lower() in (".md", ".markdown")


def _write_atomic(path: Path, text: str) -> None:
    """Write a temp file next to `path`, then rename it over `path`: readers see the old file or the new one.

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
    except OSError as exc:
        raise InputError(
            f"cannot write {path}: {exc.strerror or exc}", hint="check the path and its permissions"
        ) from None
