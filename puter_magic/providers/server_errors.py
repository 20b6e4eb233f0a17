"""What a server's error text means for the user: a context overflow (and the window it names), an input the model
cannot read, without internal paths.

Every server words "the prompt does not fit" its own way (the recorded texts are in tests/test_server_errors.py):

    OpenAI, vLLM, llama-cpp-python (400)  "This model's maximum context length is N tokens. However, you requested M …"
                                          code `context_length_exceeded`
    llama.cpp's llama-server (400)        "request (M tokens) exceeds the available context size (N tokens), …",
                                          type `exceed_context_size_error`, `n_prompt_tokens` and `n_ctx` beside it
    llama-cpp-python (500, traceback)     "Requested tokens (M) exceed context window of N"
    vLLM (newer)                          "… the maximum model length of N" / "… your request has M input tokens"
    Anthropic, Gemini, Mistral via Puter  "prompt is too long: M tokens > N maximum", "The input token count (M) exceeds
                                          the maximum number of tokens allowed (N)", "Prompt contains M tokens … N
                                          maximum context length" (Puter relays them: 400 `upstream_bad_request`, a
                                          v1 `error_400_from_delegate`, or a stream's `{"type":"error"}` line)
    LM Studio, Ollama                     "Context size has been exceeded", "… exceeds the context length"

A model that cannot read what the request carries (recorded in tests/test_server_errors.py):

    llama.cpp's llama-server (500)        "image input is not supported - hint: if this is unexpected, you may need
                                          to provide the mmproj" (audio likewise): no multimodal projector loaded

Pure: standard library and `puter_magic.errors` only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest, ContextOverflow

OVERFLOW_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error", "string_above_max_length"})

# Each pattern names the window (`window`) and/or the request's size (`requested`) when the text says them.
_SIZED = [
    re.compile(p, re.IGNORECASE | re.DOTALL)
    for p in (
        r"request \((?P<requested>\d+) tokens\) exceeds the available context size \((?P<window>\d+) tokens\)",
        r"requested tokens \((?P<requested>\d+)\) exceeds? context window of (?P<window>\d+)",
        r"requested tokens exceeds? context window of (?P<window>\d+)",
        r"maximum context length is (?P<window>\d+) tokens.*?(?:requested|resulted in|has) (?P<requested>\d+)",
        r"maximum context length is (?P<window>\d+) tokens",
        r"\(length (?P<requested>\d+)\) is longer than the maximum model length of (?P<window>\d+)",
        r"prompt is too long: (?P<requested>\d+) tokens > (?P<window>\d+) maximum",
        r"input token count \((?P<requested>\d+)\) exceeds the maximum number of tokens allowed \((?P<window>\d+)\)",
        r"prompt contains (?P<requested>\d+) tokens.*?model with (?P<window>\d+) maximum context length",
    )
]
_UNSIZED = re.compile(
    r"exceeds the available context size|context size has been exceeded|exceeds? the context (?:length|window)"
    r"|context window (?:exceeded|is full)|context length exceeded|input is too long for the context"
    r"|reduce the length of the messages",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Overflow:
    """A recognised context overflow: the window and the request's size in tokens, when the server said them."""

    window: int | None = None
    requested: int | None = None


def context_overflow(message: str, code: str | None = None, body: Any = None) -> Overflow | None:
    """The overflow `message` (with its `code` and error `body`) reports, or None when it is about something else."""
    fields = _error_object(body)
    window, requested = _int(fields.get("n_ctx")), _int(fields.get("n_prompt_tokens"))
    for pattern in _SIZED:
        found = pattern.search(message)
        if found:
            named = found.groupdict()
            window = window or _int(named.get("window"))
            requested = requested or _int(named.get("requested"))
            return Overflow(window, requested)
    kinds = {code, fields.get("code"), fields.get("type")}
    if OVERFLOW_CODES & {k for k in kinds if isinstance(k, str)} or _UNSIZED.search(message):
        return Overflow(window, requested)
    return None


def overflow_error(message: str, overflow: Overflow, **fields: Any) -> ContextOverflow:
    """The ContextOverflow for a recognised overflow; the hint names the window when the server said it."""
    error = ContextOverflow(message, window=overflow.window, requested=overflow.requested, **fields)
    if overflow.window:
        window = f"{overflow.window:,}"
        error.hint = f"the model's window is {window} tokens: shorten the prompt or the thread (`{{puter}} clear`)"
    return error


_UNREADABLE = re.compile(r"\b(?P<kind>image|audio) input is not supported", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A refused input: what the model cannot read ("images", "audio") and why, when the server said."""

    kind: str
    reason: str | None = None


def unreadable_input(message: str) -> Unreadable | None:
    """What `message` says the model cannot read, or None when it is about something else."""
    found = _UNREADABLE.search(message)
    if found is None:
        return None
    kind = "images" if found.group("kind").lower() == "image" else "audio"
    reason = "no multimodal projector loaded" if "mmproj" in message.lower() else None
    return Unreadable(kind, reason)


def unreadable_error(unreadable: Unreadable, server: str | None, **fields: Any) -> BadRequest:
    """The one-line refusal: which server cannot read what, and what to do instead."""
    who = f"the server at {server}" if server else "the server"
    why = f" ({unreadable.reason})" if unreadable.reason else ""
    single = "image" if unreadable.kind == "images" else "audio"
    hint = f"pick a model that reads {unreadable.kind}, or leave the {single} out"
    return BadRequest(f"{who} cannot read {unreadable.kind}{why}", hint=hint, **fields)


def _error_object(body: Any) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        return {}
    error = body.get("error")
    return error if isinstance(error, Mapping) else body


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, str) and value.isdigit():
        return int(value) or None
    return None


# --- server text without internals ------------------------------------------------------------------------

_TRACEBACK_HEAD = re.compile(r"^\s*(?:\[[\w.-]+\] \| )?Traceback \(most recent call last\):?\s*$")
_FRAME = re.compile(r"""^\s*(?:\[[\w.-]+\] \| )?File "[^"]*", line \d+""")
_FRAME_JS = re.compile(r"^\s*at .*\((?:file://)?/[^)]*:\d+:\d+\)\s*$|^\s*at (?:file://)?/\S+:\d+:\d+\s*$")
_MARKERS = re.compile(r"^\s*[\^~]+\s*$")
_PATH = re.compile(
    r"(?<![\w:/.])(?:[A-Za-z]:)?(?:[/\\][\w.@+-]+){2,}[/\\](?P<name>[\w.@+-]+\.\w{1,5}(?::\d+(?::\d+)?)?)"
)


def without_internals(text: str) -> str:
    """A server's error text without its traceback frames and internal file paths (a path becomes its file name).

    The exception line of a traceback stays: it is what the server meant to say.
    """
    kept: list[str] = []
    in_frame = False
    for line in text.splitlines():
        if _TRACEBACK_HEAD.match(line) or _FRAME.match(line) or _FRAME_JS.match(line):
            in_frame = bool(_FRAME.match(line))
            continue
        if in_frame and (line.startswith("    ") or _MARKERS.match(line)):
            continue  # the source line of a frame, and Python 3.11+'s ^^^^ markers under it
        in_frame = False
        kept.append(_PATH.sub(lambda m: m.group("name"), line))
    cleaned = "\n".join(kept).strip()
    return cleaned or "the server reported an error"
