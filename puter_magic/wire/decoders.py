"""Incremental, sans-IO decoders for streamed answers: raw bytes in, lines, JSON values or events out.

Each decoder takes chunks as they arrive with `decode()`, returns whatever became complete, and ends the
stream with `flush()`. Only complete lines are ever decoded, so a UTF-8 character split across chunks
cannot break.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from puter_magic.errors import MalformedStream
from puter_magic.redact import excerpt

__all__ = ["LineDecoder", "NDJSONDecoder", "SSEDecoder", "ServerSentEvent"]

_BOM = b"\xef\xbb\xbf"


class LineDecoder:
    r"""bytes in, complete lines out (bytes, terminator removed); `\n`, `\r\n` and a lone `\r` end a line.

    A line ended by `\r` comes out at once; a `\n` that starts the next chunk completes that `\r\n`.
    """

    __slots__ = ("_parts", "_skip_lf")

    def __init__(self) -> None:
        self._parts: list[bytes] = []  # the unterminated start of the next line
        self._skip_lf = False  # the previous chunk ended with `\r`

    def decode(self, chunk: bytes) -> list[bytes]:
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk.startswith(b"\n"):
                chunk = chunk[1:]
        if b"\r" in chunk:
            self._skip_lf = chunk.endswith(b"\r")
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        if len(lines) == 1:
            if chunk:
                self._parts.append(chunk)
            return []
        parts = self._parts
        if parts:
            parts.append(lines[0])
            lines[0] = b"".join(parts)
            parts.clear()
        tail = lines.pop()
        if tail:
            parts.append(tail)
        return lines

    def flush(self) -> list[bytes]:
        """The unterminated remainder as a final line, if non-empty; resets the state."""
        self._skip_lf = False
        if not self._parts:
            return []
        line = b"".join(self._parts)
        self._parts.clear()
        return [line]


class _StreamLines(LineDecoder):
    """A LineDecoder that drops a UTF-8 BOM at the very start of the stream (and of the next one, after `flush()`)."""

    __slots__ = ("_at_start",)

    def __init__(self) -> None:
        super().__init__()
        self._at_start = True

    def decode(self, chunk: bytes) -> list[bytes]:
        lines = LineDecoder.decode(self, chunk)  # not super(): the hot path, once per chunk
        return self._without_bom(lines) if self._at_start else lines

    def flush(self) -> list[bytes]:
        lines = self._without_bom(super().flush())
        self._at_start = True
        return lines

    def _without_bom(self, lines: list[bytes]) -> list[bytes]:
        if lines and self._at_start:
            self._at_start = False
            if lines[0].startswith(_BOM):
                lines[0] = lines[0][3:]
        return lines


class NDJSONDecoder:
    """bytes in, parsed JSON values out; blank (whitespace-only) lines skipped.

    A line that is not valid UTF-8 JSON raises `MalformedStream`; the lines after it in the same chunk are
    lost, so give up on the stream then. A UTF-8 BOM at the very start of the stream is dropped.
    """

    __slots__ = ("_lines",)

    def __init__(self) -> None:
        self._lines = _StreamLines()

    def decode(self, chunk: bytes) -> list[Any]:
        return self._parse(self._lines.decode(chunk))

    def flush(self) -> list[Any]:
        return self._parse(self._lines.flush())

    def _parse(self, lines: list[bytes]) -> list[Any]:
        values: list[Any] = []
        loads = json.loads
        for line in lines:
            if not line:
                continue
            try:
                # Decoding first is faster than handing json.loads the bytes (no encoding sniffing).
                values.append(loads(line.decode()))
            except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, deep nesting
                if line.isspace():  # checked only here, off the hot path
                    continue
                raise MalformedStream(f"malformed line in the stream: {excerpt(line)}") from exc
        return values


@dataclass(slots=True)  # not frozen: a frozen __init__ costs ~1 µs per event on the hot path; treat as read-only
class ServerSentEvent:
    """One dispatched server-sent event; `id` is the last event id seen on the stream so far."""

    event: str = "message"
    data: str = ""
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    """bytes in, ServerSentEvents out, per the WHATWG event-stream rules.

    Lines are decoded as UTF-8 with errors replaced; a BOM at the very start of the stream is dropped.
    `id` persists from event to event (it is the stream's last event id), `retry` belongs to the block it
    came in. `data: [DONE]` is not special. Unlike a browser, `flush()` dispatches a pending event that has
    data even though no blank line ended it: some servers end a stream abruptly, and nothing is lost.
    """

    __slots__ = ("_data", "_event", "_id", "_lines", "_retry")

    def __init__(self) -> None:
        self._lines = _StreamLines()
        self._reset()

    def _reset(self) -> None:
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def decode(self, chunk: bytes) -> list[ServerSentEvent]:
        return self._process(self._lines.decode(chunk))

    def flush(self) -> list[ServerSentEvent]:
        """Finish the last line, dispatch a pending event that has data, and reset the state."""
        events = self._process([*self._lines.flush(), b""])
        self._reset()
        return events

    def _process(self, lines: list[bytes]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        data = self._data
        for line in lines:
            if not line:  # a blank line dispatches the event, if it has data
                if data:
                    events.append(ServerSentEvent(self._event or "message", "\n".join(data), self._id, self._retry))
                    data.clear()
                self._event = ""
                self._retry = None
                continue
            if line.startswith(b"data:"):  # the hot path
                value = line[6:] if line.startswith(b" ", 5) else line[5:]
                data.append(value.decode("utf-8", "replace"))
                continue
            colon = line.find(b":")
            if colon == 0:  # a comment, such as `: ping`
                continue
            if colon < 0:
                field, value = line, b""
            else:
                field = line[:colon]
                value = line[colon + 2 :] if line.startswith(b" ", colon + 1) else line[colon + 1 :]
            if field == b"data":
                data.append(value.decode("utf-8", "replace"))
            elif field == b"event":
                self._event = value.decode("utf-8", "replace")
            elif field == b"id":
                if b"\x00" not in value:
                    self._id = value.decode("utf-8", "replace")
            elif field == b"retry" and value.isdigit():
                self._retry = int(value)
        return events
