"""A thread's parts: Turn (one prompt and its answer) and Thread (a system prompt and the turns so far), with the
token estimate that trims a thread to a budget.

Pure: standard library and `puter_magic.datatypes` only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..datatypes import Message, Usage

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
