"""A thread's parts: Turn (one prompt and its answer) and Thread (a system prompt and the turns so far), with what
each costs in tokens, which trims a thread to a budget: `core/tokens.py`'s calibrated estimate, or any other count of
a text (a server's tokenizer) passed as `count`.

Pure: standard library, `puter_magic.datatypes`, `core/image_codec.py` and `core/tokens.py` only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..datatypes import Message, Usage, content_text
from .image_codec import IMAGE_TOKENS, image_parts
from .tokens import estimate_tokens

MESSAGE_OVERHEAD = 4  # tokens a chat message costs beyond its text (role, separators)

Count = Callable[[str], int]  # the tokens a text costs: estimate_tokens, or a server's own count


def message_tokens(message: Message, count: Count = estimate_tokens) -> int:
    """The cost of one message: its text, its images and a fixed per-message overhead."""
    return content_tokens(message.content, count) + MESSAGE_OVERHEAD


def content_tokens(content: Any, count: Count = estimate_tokens) -> int:
    """Text or a list of parts: the text's count plus IMAGE_TOKENS per image."""
    if isinstance(content, str):
        return count(content)
    return count(content_text(content)) + IMAGE_TOKENS * len(image_parts(content))


def step_tokens(message: Message, count: Count = estimate_tokens) -> int:
    """A message of a tool exchange: its text and the calls it makes (names and arguments)."""
    calls = sum(count(call.name) + count(call.arguments_json) for call in message.tool_calls)
    return message_tokens(message, count) + calls


@dataclass(frozen=True)
class Turn:
    """One prompt and its answer. An interrupted answer (Ctrl-C, stream error) is kept, flagged, with what arrived.

    A prompt with images is a list of content parts (text and `image_url` parts, in order). A question answered
    with tools keeps its exchange in `steps` (assistant messages with `tool_calls`, one `tool` message per call),
    between the prompt and the answer: a turn is trimmed whole, so no result ever goes without its call."""

    prompt: str | list[dict[str, Any]]
    answer: str
    key: str | None = None  # the notebook cell id that produced it; None for API calls
    model: str | None = None
    provider: str | None = None
    usage: Usage | None = None
    interrupted: bool = False
    created: float = field(default_factory=time.time)
    steps: tuple[Message, ...] = ()

    def messages(self) -> tuple[Message, ...]:
        return Message("user", self.prompt), *self.steps, Message("assistant", self.final_text)

    @property
    def final_text(self) -> str:
        """The answer, or, for an exchange stopped before it, what the model is told happened (never empty)."""
        if self.answer or not self.steps:
            return self.answer
        return "(stopped before answering)" if self.interrupted else "(no answer: the step limit was reached)"

    def tokens(self, count: Count = estimate_tokens) -> int:
        """The cost of this turn in a request: the prompt, the answer and the tool exchange between them."""
        cost = content_tokens(self.prompt, count) + count(self.final_text) + 2 * MESSAGE_OVERHEAD
        return cost + sum(step_tokens(step, count) for step in self.steps)

    @property
    def prompt_text(self) -> str:
        """The prompt's text, without its images."""
        return content_text(self.prompt)


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


def fit_turns(
    head: list[Message],
    turns: list[Turn],
    last: Message,
    *,
    budget: int,
    reserve: int = 0,
    count: Count = estimate_tokens,
) -> tuple[list[Message], int]:
    """`head`, the newest of `turns` that fit and `last`, with how many older turns were left out.

    The oldest whole turns go until the count fits in `budget - reserve` tokens; `head` (the system prompt) and
    `last` (the new prompt) stay even when they alone do not fit. One pass from the newest turn backwards.
    """
    room = budget - reserve - sum(message_tokens(m, count) for m in head) - message_tokens(last, count)
    start = len(turns)
    while start > 0 and (cost := turns[start - 1].tokens(count)) <= room:
        start -= 1
        room -= cost
    return [*head, *(message for turn in turns[start:] for message in turn.messages()), last], start
