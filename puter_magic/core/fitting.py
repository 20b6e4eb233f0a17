"""A request that fits the model's window: which window, counted how, and what an overflow teaches.

The window a request is trimmed to, the first that says:

    override   `--context N`, `Session.context_tokens` (`%config PuterMagics.context_tokens`)
    learned    what an earlier overflow of this provider+model showed (the Session remembers it)
    server     the model's details (Puter's `context`), or the provider's `context_window(model)` (asked once the
               Reply is read: llama.cpp's /props, vLLM, Ollama, LM Studio; providers/windows.py). A provider whose
               windows come only with its whole model list (`window_by_list`: Puter) is asked only when the
               request comes close to the default: a shorter one fits whatever the window, and costs no request.
    default    DEFAULT_WINDOW

Tokens are counted with `core/tokens.py`'s calibrated estimate, scaled by what the server's answers showed of
its tokenizer (usage's input tokens over the estimate of what was sent, per provider+model, never below 1: a
small or byte-level vocabulary makes several tokens of one estimated); when that says the request comes close to
the window and the provider has `count_tokens()` (llama.cpp's /tokenize), the server's own counts decide.

When the server refuses the request anyway (ContextOverflow), `after_overflow()` gives a smaller one: trimmed to
a tenth less than the window the error names (else a quarter less than before), the scale corrected when the
error says what the request cost, both learned. None when no older turn is left to leave out: the error stands.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Awaitable, Callable
from typing import Any

from ..datatypes import Message, content_text
from ..errors import ConfigurationError, ContextOverflow
from .threads import Turn, fit_turns, message_tokens
from .tokens import estimate_tokens

DEFAULT_WINDOW = 8192
CLOSE = 0.9  # an estimate above this share of the budget asks the server's tokenizer, where there is one
MARGIN = 0.9  # after an overflow, trim to this share of the window the server named
SHRINK = 0.75  # after an overflow that named no window, the budget shrinks to this share
ANSWER_SHARE, ANSWER_MOST = 8, 1024  # room kept for the answer when max_tokens is not set: 1/8 of the window, ≤ 1,024

MOST_SCALE = 8.0  # a tokenizer makes at most this many tokens of one estimated token (a byte-level one: ~4)

Discover = Callable[[], Awaitable[int | None]]
CountTokens = Callable[[str], Awaitable[int | None]]
Learn = Callable[[int | None, float | None], None]  # (window, scale), either None when not shown


class Fitting:
    """The parts of one request and the budget they are trimmed to; see the module docstring.

    `source` says where `budget` came from ("override", "learned", "server", "default"); `discover` asks the
    server's window (only when the budget is the default), `count` the server's tokenizer. `scale` is how many
    tokens this server's tokenizer makes of one estimated token, as the requests so far showed (at least 1);
    `learn(window, scale)` remembers what this request shows of either. `left_out` is how many of the thread's
    turns the request leaves out.
    """

    def __init__(
        self,
        head: list[Message],
        turns: list[Turn],
        last: Message,
        *,
        budget: int,
        source: str,
        reserve: int | None = None,
        scale: float = 1.0,
        discover: Discover | None = None,
        discover_near_edge: bool = False,
        count: CountTokens | None = None,
        learn: Learn | None = None,
    ) -> None:
        self.head, self.turns, self.last, self._reserve = head, turns, last, reserve
        self.budget, self.source, self.scale = budget, source, scale
        self._discover, self._count, self._learn = discover, count, learn
        self._discover_near_edge = discover_near_edge
        self.left_out = 0
        self.sent: list[Message] = []
        self.retried = False  # the request was trimmed again after an overflow

    @property
    def reserve(self) -> int:
        """The tokens kept free for the answer: max_tokens when set, else a share of the window."""
        return self._reserve if self._reserve is not None else min(self.budget // ANSWER_SHARE, ANSWER_MOST)

    def estimated(self, text: str) -> int:
        """The estimate of `text`, scaled to this server's tokenizer."""
        return math.ceil(estimate_tokens(text) * self.scale)

    def messages(self, count: Callable[[str], int] | None = None) -> list[Message]:
        """The messages that fit the budget by `count` (the scaled estimate unless told)."""
        self.sent, self.left_out = fit_turns(
            self.head, self.turns, self.last, budget=self.budget, reserve=self.reserve, count=count or self.estimated
        )
        return self.sent

    def estimate(self) -> int:
        """The estimated tokens of everything, untrimmed (scaled)."""
        parts = [*self.head, *(m for turn in self.turns for m in turn.messages()), self.last]
        return sum(message_tokens(message, self.estimated) for message in parts)

    async def refit(self) -> list[Message] | None:
        """The messages again once the server's window (and, near it, its counts) are known; None: unchanged."""
        changed = False
        if (
            self.source == "default"
            and self._discover is not None
            and (not self._discover_near_edge or self.near_edge())
        ):
            window = await self._discover()
            if window and window != self.budget:
                self.budget, self.source, changed = window, "server", True
                self.messages()
        if self._count is not None and self.turns and self.near_edge():
            return self.messages(await self._counter())
        return self.sent if changed else None

    def near_edge(self) -> bool:
        """The whole request, by the estimate, comes close to the budget (less the answer's room). Counted on what
        the trimmed request holds (when a turn was left out the whole is over the budget already), so the cost is
        bounded by the window, not by the thread."""
        if not self.sent:
            self.messages()
        if self.left_out:
            return True
        return sum(message_tokens(message, self.estimated) for message in self.sent) > CLOSE * (
            self.budget - self.reserve
        )

    def answered(self, input_tokens: int | None) -> None:
        """The server said what the request cost: the estimate's scale for this server is learned from it."""
        plain = sum(message_tokens(message) for message in self.sent)
        if input_tokens and plain and self._learn is not None:
            self._learn(None, min(max(input_tokens / plain, 1.0), MOST_SCALE))

    async def after_overflow(self, error: ContextOverflow) -> list[Message] | None:
        """A smaller request after `error`, the window learned; None when there is nothing left to leave out."""
        if self.left_out >= len(self.turns):
            return None
        plain = sum(message_tokens(message) for message in self.sent)
        if error.requested and plain:  # the server's count of what was sent: the estimate's true scale
            self.scale = max(self.scale, min(error.requested / plain, MOST_SCALE))
        budget = int(error.window * MARGIN) if error.window else int(self.budget * SHRINK)
        if self._learn is not None:
            self._learn(error.window or budget, self.scale)
        before = self.left_out
        self.budget, self.source, self.retried = max(budget, 1), "learned", True
        messages = self.messages(await self._counter() if self._count is not None else None)
        if self.left_out == before:  # trimming the newest turns would not change the request: one more goes
            self.left_out += 1
            kept = self.turns[self.left_out :]
            messages = self.sent = [*self.head, *(m for turn in kept for m in turn.messages()), self.last]
        return messages

    async def _counter(self) -> Callable[[str], int]:
        """The server's counts of every text of the request (asked once each, the provider caches them)."""
        assert self._count is not None
        counts: dict[str, int] = {}
        for text in _texts(self.head, self.turns, self.last):
            if text not in counts:
                counted = await self._count(text)
                if counted is None:  # the server cannot count after all
                    return self.estimated
                counts[text] = counted
        return lambda text: counts[text] if text in counts else self.estimated(text)


def _texts(head: list[Message], turns: list[Turn], last: Message) -> list[str]:
    texts: list[Any] = [content_text(m.content) for m in head]
    for turn in turns:
        texts += [content_text(turn.prompt), turn.answer]
    return [*texts, content_text(last.content)]


class Windows:
    """The windows requests are trimmed to: what overflows showed, per provider+model, and the choice of one."""

    def __init__(self) -> None:
        self.learned: dict[str, int] = {}
        self.scales: dict[str, float] = {}

    def _learn(self, key: str, window: int | None, scale: float | None) -> None:
        if window:
            self.learned[key] = window
        if scale:
            self.scales[key] = scale

    def choose(self, provider: Any, model: str, info: Any, override: int | None = None) -> tuple[int, str]:
        """(tokens, source) for `model` on `provider` (`info`: its ModelInfo, if listed), without a request."""
        known = getattr(provider, "known_window", None)
        for tokens, source in (
            (override, "override"),
            (self.learned.get(_key(provider, model)), "learned"),
            (getattr(info, "context", None), "server"),
            (known(model) if known is not None else None, "server"),
        ):
            if tokens:
                return tokens, source
        return DEFAULT_WINDOW, "default"

    def fitting(
        self,
        provider: Any,
        model: str,
        info: Any,
        parts: tuple[list[Message], list[Turn], Message],
        *,
        override: int | None = None,
        reserve: int | None = None,
    ) -> Fitting:
        """The Fitting of a request made of `parts` (system message, turns, prompt) to `model` on `provider`."""
        if override is not None and (isinstance(override, bool) or not isinstance(override, int) or override <= 0):
            raise ConfigurationError(f"the context window must be a positive number of tokens, not {override!r}")
        if reserve is not None and reserve < 0:
            raise ConfigurationError(f"the reserved answer tokens must be 0 or more, not {reserve}")
        budget, source = self.choose(provider, model, info, override)
        discover = getattr(provider, "context_window", None)
        key = _key(provider, model)
        return Fitting(
            *parts,
            budget=budget,
            source=source,
            reserve=reserve,
            discover=functools.partial(discover, model) if discover is not None else None,
            discover_near_edge=getattr(provider, "window_by_list", False),
            scale=self.scales.get(key, 1.0),
            count=getattr(provider, "count_tokens", None),
            learn=functools.partial(self._learn, key),
        )


def _key(provider: Any, model: str) -> str:
    return f"{provider.name}@{provider.origin}/{model}"
