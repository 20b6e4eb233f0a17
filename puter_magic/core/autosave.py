"""Autosave: the conversations follow one file, which is read when autosave starts and is only ever replaced
while it still holds what this session read or wrote last.

    saver, conversations, line = Autosave.start(path, session_conversations)   # line: "resumed 2 threads, …"
    saver.save(conversations)            # after each answer: atomic, refused if someone else changed the file

A second kernel on the same file therefore resumes the conversation instead of overwriting it, and two kernels
writing one file at once cannot silently drop each other's turns: the later one is refused and says so.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InputError
from . import conversation_io
from .conversation import Conversations

SUFFIXES = (".json", ".md", ".markdown")


class Autosave:
    """One autosave file and a digest of what this session last read from it or wrote to it."""

    def __init__(self, path: Path, seen: str | None) -> None:
        self.path = path
        self._seen = seen  # sha256 of the file as this session knows it; None: there was no file

    @classmethod
    def start(cls, path: Path, current: Conversations) -> tuple[Autosave, Conversations, str | None]:
        """Read what `path` holds and merge `current` into it; the line says what was resumed (None: no file).

        A file that cannot be read as a conversation save is refused (InputError) and left as it is.
        """
        if path.suffix.lower() not in SUFFIXES:
            raise InputError(
                f"autosave must name a .json (or .md) file, not {str(path)!r}", hint="for example chat.json"
            )
        data = _read(path)
        if data is None:
            return cls(path, None), current, None
        if path.suffix.lower() != ".json":
            raise InputError(
                f"{path} already exists and a Markdown transcript cannot be resumed, so autosave did not start",
                hint="autosave to a .json file, or move the transcript away; it was left as it is",
            )
        try:
            saved = Conversations.parse(data, path)
        except InputError as error:
            raise InputError(
                f"autosave did not start: {error.message}",
                hint="move the file away or choose another autosave file; it was left as it is",
            ) from None
        line = f"resumed {_count(saved)} from {path}"
        added = _merge(saved, current)
        if added:
            line += f", and added this session's {_plural(added, 'turn')}"
        return cls(path, _digest(data)), saved, line

    def unchanged(self) -> bool:
        """True when the file still holds what this session last read or wrote."""
        return _digest(_read(self.path)) == self._seen

    def save(self, conversations: Conversations) -> None:
        """Write the conversations atomically, unless the file changed since this session read or wrote it."""
        text = conversation_io.render(conversations, self.path)
        current = _read(self.path)
        if current is not None and _digest(current) != self._seen:  # a deleted file holds nothing to lose
            raise InputError(
                f"{self.path} changed since this session read it (another kernel?), so autosave did not overwrite it",
                hint="this session's turns are kept in memory: `%puter export` them to another file, or set "
                "PuterMagics.autosave to None and back to merge the file",
            )
        conversation_io.write_atomic(self.path, text)
        self._seen = _digest(text.encode("utf-8"))


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}", hint="check the autosave path") from None


def _digest(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def _merge(saved: Conversations, current: Conversations) -> int:
    """Add the threads of `current` (this session, before autosave started) to `saved`; returns the turns added.

    A turn already in the file is not added twice; one from the same notebook cell replaces the file's, as a re-run
    cell would. This session's system prompts and active thread win.
    """
    if current == Conversations():
        return 0
    added = 0
    for name in current.names():
        mine, theirs = current.thread(name), saved.thread(name)
        if mine.system:
            theirs.system = mine.system
        for turn in mine.turns:
            if turn not in theirs.turns:
                saved.record(turn, name)
                added += 1
    saved.active = current.active
    return added


def _count(conversations: Conversations) -> str:
    threads = [conversations.thread(name) for name in conversations.names()]
    used = [thread for thread in threads if thread.turns or thread.system] or threads[:1]
    turns = sum(len(thread.turns) for thread in threads)
    return f"{_plural(len(used), 'thread')}, {_plural(turns, 'turn')}"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
