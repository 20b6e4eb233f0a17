"""Conversations out to Markdown, and to and from files.

    thread_markdown(thread)           `## Thread: NAME`, the system prompt as a quote, then the turns
    render(conversations, path)       the text save() writes to `path` (its suffix picks the format)
    save(conversations, path)         `.json` (everything, loadable) or `.md` (all threads); written atomically
    load(path, build)                 `build` (Conversations.from_json) of a `.json` save; parse(data, source, build)
                                      reads one from bytes
    write_atomic(path, text)          temp file in the same folder, fsync, rename over `path`

`Conversations.to_markdown()`, `save()` and `load()` are built on these; the JSON data is `conversation_json`'s.

Images of prompts: thumbnails in the history listing, files beside a save (`core/image_store.py`).

Pure: standard library, `puter_magic.errors` and `puter_magic.core` (threads, image_codec, image_store) only.
"""

from __future__ import annotations

import functools
import json
import os
import re
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..datatypes import Message
from ..errors import InputError
from .image_codec import part_url
from .image_store import externalize, image_link, internalize
from .threads import Thread, Turn

THUMBNAIL_WIDTH = 160  # px: how wide an image of a prompt shows in `%puter history`

Loaded = TypeVar("Loaded")


class Saveable(Protocol):
    """What render() and save() read of a Conversations."""

    def names(self) -> list[str]: ...

    def thread(self, name: str | None = None) -> Thread: ...

    def to_json(self) -> dict[str, Any]: ...


# --- Markdown --------------------------------------------------------------------------------------

# Lines that would escape the transcript's structure if a prompt were pasted as Markdown: headings, code fences,
# HTML blocks, setext underlines and thematic breaks.
_RISKY_LINE = re.compile(r"^ {0,3}(?:#|<|```|~~~|[=-]+[ \t]*$|(?:[*_][ \t]*){3,}$)", re.MULTILINE)
_FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def thumbnail(url: str) -> str:
    """An image in a transcript shown in the notebook: a small inline picture."""
    return f'<img src="{url}" alt="image" width="{THUMBNAIL_WIDTH}">' if url.startswith(("data:", "https:")) else url


def image_marker(url: str) -> str:
    """An image in a plain-text transcript."""
    return "[image]" if url.startswith("data:") else f"[image {url}]"


def thread_markdown(thread: Thread, image: Callable[[str], str] = thumbnail) -> str:
    """A readable transcript of one thread: a heading, the system prompt as a quote, the turns between rules.
    `image(url)` is what stands for each image of a prompt (by default a thumbnail)."""
    parts = [f"## Thread: {thread.name}"]
    if thread.system:
        parts.append(_blockquote(f"**System:**\n\n{thread.system}"))
    if thread.turns:
        parts.append("\n\n---\n\n".join(_turn_markdown(turn, image) for turn in thread.turns))
    else:
        parts.append("*(no turns yet)*")
    return "\n\n".join(parts) + "\n"


def _turn_markdown(turn: Turn, image: Callable[[str], str] = thumbnail) -> str:
    """`**You:**` and the prompt, then `**Assistant** (model):` and the answer.

    A prompt is shown as written unless it has a line that Markdown would read as structure (a heading, a code
    fence, an HTML block, a rule): then the whole prompt goes into a fenced block longer than any backtick run in
    it, so it shows literally. An answer is Markdown and shown as such, but a code fence it left open (an
    interrupted answer often does) is closed, so the rest of the transcript is not swallowed.
    """
    prompt = _prompt_markdown(turn.prompt) if isinstance(turn.prompt, str) else _parts_markdown(turn.prompt, image)
    label = f"**Assistant** ({turn.model}):" if turn.model else "**Assistant:**"
    parts = ["**You:**", prompt or "*(empty)*", *_steps_markdown(turn.steps, label)]
    parts += [label, _close_fences(turn.answer) or "*(empty)*"]
    if turn.interrupted:
        parts.append("*(interrupted)*")
    return "\n\n".join(parts)


def _steps_markdown(steps: tuple[Message, ...], label: str) -> list[str]:
    """A tool exchange between the prompt and the answer: what the model said on the way, each call as code, each
    result fenced (a tool's output is data, never read as Markdown)."""
    shown: list[str] = []
    names: dict[str, str] = {}
    for message in steps:
        if message.role == "tool":
            name = names.get(message.tool_call_id or "", "a tool")
            shown += [f"**Result of {name}:**", _fenced(message.text)]
            continue
        if message.text:
            shown += [label, _close_fences(message.text)]
        for call in message.tool_calls:
            names[call.id] = call.name
            shown.append(f"**Calls** `{call.name}({call.arguments_json})`")
    return shown


def _prompt_markdown(text: str) -> str:
    return _fenced(text) if _RISKY_LINE.search(text) else text


def _parts_markdown(parts: list[dict[str, Any]], image: Callable[[str], str]) -> str:
    shown = []
    for part in parts:
        url = part_url(part)
        if url is not None:
            shown.append(image(url))
        elif part.get("type") == "text":
            shown.append(_prompt_markdown(str(part.get("text", ""))))
    return "\n\n".join(piece for piece in shown if piece.strip())


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


def render(conversations: Saveable, path: str | os.PathLike[str]) -> str:
    """The text `save()` writes to `path`: JSON (everything, loadable) for `.json`, a transcript for `.md`."""
    target = Path(path)
    if _is_markdown(target):
        link = functools.partial(image_link, path=target)
        return "\n".join(thread_markdown(conversations.thread(name), link) for name in conversations.names())
    if target.suffix.lower() == ".json":  # images are stored once, beside the file (image_store)
        data = externalize(conversations.to_json(), target)
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    raise InputError(f"cannot tell the format of {target}", hint="name the file .json (loadable) or .md")


def save(conversations: Saveable, path: str | os.PathLike[str]) -> None:
    """Write a `.json` file (everything, loadable) or a `.md` transcript (all threads); atomically."""
    write_atomic(Path(path), render(conversations, path))


def load(path: str | os.PathLike[str], build: Callable[[Any], Loaded]) -> Loaded:
    """`build` of the JSON data of a file written by `save()`."""
    source = Path(path)
    if _is_markdown(source):
        raise InputError(f"cannot load {source}: Markdown transcripts are export only", hint="load a .json save")
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no conversation file at {source}", hint="check the path") from None
    except OSError as exc:
        raise InputError(f"cannot read {source}: {exc.strerror or exc}", hint="check the path") from None
    return parse(data, source, build)


def parse(data: bytes, source: str | os.PathLike[str], build: Callable[[Any], Loaded]) -> Loaded:
    """`build` of the JSON data in the bytes of a save; errors name `source`."""
    try:
        loaded = json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as exc:  # bad JSON or bad UTF-8
        raise InputError(f"{source} is not a JSON file: {exc}", hint="load a .json save") from None
    try:
        return build(internalize(loaded, Path(source)))
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
