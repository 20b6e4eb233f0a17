"""Named conversation threads: turns keyed by notebook cell, trimmed to a token budget, saved as JSON or Markdown.

A `Conversations` holds the threads of one notebook session. Each thread has an optional system prompt and a list of
finished (or interrupted) turns. A turn remembers the cell that produced it (`key`), so re-running a cell replaces
that cell's own turn in place instead of adding context twice.

Turns and threads are `threads`'s, the JSON data `conversation_json`'s, the Markdown transcripts and the files
`conversation_io`'s; the methods here delegate to them.

Pure: standard library, `puter_magic.datatypes`, `puter_magic.errors` and those three modules only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from ..datatypes import Message
from ..errors import ConfigurationError, InputError
from . import conversation_io, conversation_json
from .threads import MESSAGE_OVERHEAD, Count, Thread, Turn, fit_turns, message_tokens
from .tokens import estimate_tokens

__all__ = ["MESSAGE_OVERHEAD", "Conversations", "Thread", "Turn", "estimate_tokens", "message_tokens"]


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
        """Drop the thread's turns, keep its system prompt. An unknown thread is an InputError."""
        self._existing(thread).turns.clear()

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
        prompt: str | list[dict[str, Any]],
        thread: str | None = None,
        *,
        key: str | None = None,
        budget: int = 8192,
        reserve: int = 0,
        new: bool = False,
        system: str | None = None,
        count: Count = estimate_tokens,
    ) -> list[Message]:
        """The messages to send for `prompt`: system prompt, context turns as user/assistant pairs, the prompt.

        The oldest whole turns are dropped until `count` (the calibrated estimate by default) fits in
        `budget - reserve` tokens (`reserve` leaves room for the answer); see `threads.fit_turns`. The system prompt
        and the new prompt are always kept, even when they alone do not fit. Linear in the number of turns.

        `new` and `system` show the thread as it would be after `new()` and `set_system(system)` (when `system` is
        not None), without changing it: a request is built first, the thread changes only when its turn is kept.
        """
        head, turns, last = self.parts(prompt, thread, key=key, new=new, system=system)
        return fit_turns(head, turns, last, budget=checked_budget(budget, reserve), reserve=reserve, count=count)[0]

    def parts(
        self,
        prompt: str | list[dict[str, Any]],
        thread: str | None = None,
        *,
        key: str | None = None,
        new: bool = False,
        system: str | None = None,
    ) -> tuple[list[Message], list[Turn], Message]:
        """What a request for `prompt` is made of, untrimmed: (system message or none, the context turns, prompt)."""
        found = self._find(thread)
        current = None if new or found is None else found.system
        system = current if system is None else (system if system.strip() else None)
        head = [Message("system", system)] if system else []
        turns = [] if new else self.context(thread, key=key)
        return head, turns, Message("user", prompt)

    # --- JSON, Markdown and files (conversation_io) -------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """Everything, as plain JSON-able data (format version 1)."""
        return conversation_json.to_json(self.active, self._threads.values())

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Conversations:
        """Rebuild from `to_json()` data; a malformed shape raises InputError saying where."""
        active, threads = conversation_json.from_json(data, cls.default_thread)
        result = cls()
        for thread in threads:
            result._threads[thread.name] = thread
        result.active = active
        return result

    def to_markdown(self, thread: str | None = None, *, image: Callable[[str], str] | None = None) -> str:
        """A readable transcript of one thread (None: the active one); see `conversation_io` for the layout.
        Images of prompts show as `image(url)`: by default a thumbnail (`conversation_io.image_marker`: "[image]")."""
        return conversation_io.thread_markdown(self._existing(thread), image or conversation_io.thumbnail)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a `.json` file (everything, loadable) or a `.md` transcript (all threads); atomically."""
        conversation_io.save(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Conversations:
        """Read a file written by `save()` as JSON."""
        return conversation_io.load(path, cls.from_json)

    @classmethod
    def parse(cls, data: bytes, source: str | os.PathLike[str]) -> Conversations:
        """Read the bytes of a JSON save; errors name `source`."""
        return conversation_io.parse(data, source, cls.from_json)


# --- helpers ----------------------------------------------------------------------------------------


def checked_budget(budget: int, reserve: int) -> int:
    """`budget`, once it and `reserve` make sense (a ConfigurationError otherwise)."""
    if budget <= 0:
        raise ConfigurationError(f"the token budget must be positive, not {budget}")
    if reserve < 0:
        raise ConfigurationError(f"the reserved answer tokens must be 0 or more, not {reserve}")
    return budget


def _thread_name(name: str) -> str:
    """A thread name without surrounding spaces; it must be non-empty and on one line."""
    cleaned = name.strip() if isinstance(name, str) else ""
    if not cleaned or not cleaned.isprintable():
        raise InputError(f"{name!r} is not a thread name", hint="use a short name on one line, such as `draft`")
    return cleaned
