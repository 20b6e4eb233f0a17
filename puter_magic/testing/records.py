"""What the local Puter server remembers about the traffic it saw, for tests to read."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from puter_magic.testing.image_parts import ImagePart, image_parts

StreamOutcome = Literal["completed", "cancelled", "dropped", "error"]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it arrived (control requests under ``/__fake__/`` are not recorded)."""

    time: float  # time.monotonic() on arrival
    method: str
    path: str
    query: str
    host: str | None
    authorization: str | None  # the raw Authorization header value
    body: Any  # the parsed JSON body, or None when it was empty or not JSON
    body_text: str

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def image_parts(self) -> list[ImagePart]:
        """The image parts of this request's chat messages, decoded (see :class:`ImagePart`)."""
        return image_parts(self.body)


@dataclass(frozen=True)
class StreamRecord:
    """One NDJSON completion stream that ended, however it ended."""

    time: float  # time.monotonic() when it ended
    path: str
    model: str
    outcome: StreamOutcome
    lines_sent: int

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
