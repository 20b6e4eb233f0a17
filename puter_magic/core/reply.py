"""What one request becomes: a Reply. Iterate it to stream, `text()` to wait; it records itself when it completes.

    reply = session.ask("Hello")                  # nothing is sent until it is read
    for piece in reply: print(piece, end="")      # or `async for piece in reply`, or reply.text(), or `await reply`
    reply.usage, reply.model, reply.parts, reply.interrupted
    session.stop()                                # the panel's Stop, from any thread: ends every reply in flight

The policy is the Reply's, the same for every caller: a failure raises its PuterError and records nothing (the
conversation stays byte for byte as it was); an interruption — Ctrl-C, CancelledError, a Stop, a consumer that
leaves the loop — keeps what arrived, flagged as interrupted (nothing at all when no text had arrived yet).
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from ..datatypes import Answer, ChatRequest, Finished, ReasoningDelta, StreamEvent, TextDelta, ToolCall, Usage
from ..errors import ContextOverflow, PuterError
from ..providers.base import Provider
from .bridged import Bridged, one_reading
from .fitting import Fitting
from .loop import LoopThread, Stop

Part = TextDelta | ReasoningDelta | ToolCall  # what an answer is made of, in the order it arrived


class Reply(Bridged[StreamEvent, Any]):
    """One request and its answer, in flight or finished (see the module docstring).

    `streamed=False` asks the provider for the whole answer at once; it is read the same way. Iterating yields
    the text as it arrives; with `every_event=True` every event instead (deltas, tool calls, the last Finished),
    for a consumer that passes the whole answer on (the proxy). `record` is called with the Reply once it has
    completed (or was interrupted after some text); `held=True` leaves that to `keep()`. With a `fitting` (what
    Session.ask() made the messages of, core/fitting.py) the messages are fitted to the server's window before
    sending, and a ContextOverflow before any answer is retried once, trimmed (`retried`, `left_out`).
    """

    def __init__(
        self,
        request: ChatRequest,
        provider: Provider,
        loop: LoopThread,
        *,
        streamed: bool = True,
        thread: str | None = None,
        record: Callable[[Reply], None] | None = None,
        held: bool = False,
        tracking: Callable[[Stop], AbstractContextManager[Any]] | None = None,
        every_event: bool = False,
        fitting: Fitting | None = None,
    ) -> None:
        self.request, self.loop, self.streamed, self.thread = request, loop, streamed, thread
        self.provider = provider.name  # who answers; `model` says which model did
        self.stop = Stop()
        self.finished: Finished | None = None  # the provider's last event, when the answer completed
        self.error: PuterError | None = None
        self.interrupted = False
        self._provider, self._record, self._held, self._every_event = provider, record, held, every_event
        self._tracking = tracking
        self._pieces: list[Part] = []
        self._attempts: int | None = None
        self.fitting = fitting

    # --- what it knows -------------------------------------------------------------------------------

    def text(self) -> str:
        """The answer's text; waits for it (on this thread) when the Reply has not been read yet."""
        self.wait()
        return "".join(piece.text for piece in self._pieces if type(piece) is TextDelta)

    @property
    def parts(self) -> tuple[Part, ...]:
        """What has arrived, in order, consecutive text (and reasoning) joined into one part."""
        parts: list[Part] = []
        for kind, group in itertools.groupby(self._pieces, type):
            if kind is ToolCall:
                parts.extend(group)
            else:
                parts.append(kind("".join(piece.text for piece in group)))  # type: ignore[union-attr]
        return tuple(parts)

    @property
    def reasoning(self) -> str:
        return "".join(piece.text for piece in self._pieces if type(piece) is ReasoningDelta)

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(piece for piece in self._pieces if type(piece) is ToolCall)

    @property
    def usage(self) -> Usage:
        return self.finished.usage if self.finished is not None else Usage()

    @property
    def model(self) -> str:
        """The model that answered, as the provider reported it (else the one asked for)."""
        return (self.finished.model if self.finished is not None else None) or self.request.model

    @property
    def left_out(self) -> int:
        """How many of the thread's earlier turns the request left out to fit the model's window."""
        return self.fitting.left_out if self.fitting is not None else 0

    @property
    def retried(self) -> bool:
        """True when the server refused the request as too long and it was sent again, trimmed."""
        return self.fitting is not None and self.fitting.retried

    @property
    def finish_reason(self) -> str | None:
        return self.finished.finish_reason if self.finished is not None else None

    @property
    def attempts(self) -> int | None:
        """How many times the request was sent (the first time and each retry), when the provider said."""
        if self.error is not None:
            return self.error.attempts
        return getattr(self.finished, "attempts", None) or self._attempts

    def answer(self) -> Answer:
        """The finished Reply as a value (what chat() returns); waits like text()."""
        text = self.text()
        return Answer(
            text,
            self.model,
            self.provider,
            self.thread,
            self.usage,
            self.interrupted,
            self.reasoning,
            self.tool_calls,
            requested_model=self.request.model,
            left_out=self.left_out,
        )

    def keep(self) -> None:
        """Record the Reply in its conversation, once: done when it completes, unless it is held (a batch keeps
        its answers in input order). An interruption before any text keeps nothing."""
        record, self._record = self._record, None
        if record is not None and (self.text() or not self.interrupted):
            record(self)

    # --- reading it: the producer, what a consumer sees, and the policy (core/bridged.py's Bridged) ----------

    def _source(self) -> AsyncIterable[StreamEvent]:
        return self._sent() if self.fitting is None else self._fitted(self.fitting)

    def _sent(self) -> AsyncIterable[StreamEvent]:
        return self._provider.stream(self.request) if self.streamed else self._completed()

    async def _fitted(self, fitting: Fitting) -> AsyncIterator[StreamEvent]:
        """The answer to the request fitted to the server's window; one retry, trimmed, after an overflow."""
        messages = await fitting.refit()
        if messages is not None:
            self.request = dataclasses.replace(self.request, messages=tuple(messages))
        answered = False
        try:
            async for event in self._sent():
                answered = True
                yield event
            return
        except ContextOverflow as error:
            if answered or fitting.retried or (messages := await fitting.after_overflow(error)) is None:
                raise
        self.request = dataclasses.replace(self.request, messages=tuple(messages))
        async for event in self._sent():
            yield event

    async def _completed(self) -> AsyncIterator[StreamEvent]:
        """The whole answer at once (provider.complete()), as the events a stream of it would have been."""
        completion = await self._provider.complete(self.request)
        self._attempts = getattr(completion, "attempts", None)
        if completion.reasoning:
            yield ReasoningDelta(completion.reasoning)
        if completion.text:
            yield TextDelta(completion.text)
        for call in completion.tool_calls:
            yield call
        yield Finished(completion.usage, completion.finish_reason, completion.model)

    def _take(self, event: StreamEvent) -> Any:
        if type(event) is TextDelta:  # the common case first: most events of an answer are text
            self._pieces.append(event)
            return event if self._every_event else event.text
        if isinstance(event, Finished):
            self.finished = event
            if self.fitting is not None:
                self.fitting.answered(event.usage.input_tokens)
        else:
            self._pieces.append(event)
        return event if self._every_event else None

    def _flight(self) -> AbstractContextManager[None]:
        return one_reading(self, self._tracking, self._end)

    def _end(self, cut_short: bool) -> None:
        self.interrupted = cut_short or (self.stop.requested and self.finished is None)
        if not self._held:
            self.keep()


class Answering:
    """The replies a session is receiving now (their Stops), so that one call can end them all."""

    def __init__(self, notify: Callable[[str], None] = lambda topic: None) -> None:
        self._lock = threading.Lock()
        self._stops: list[Stop] = []
        self._notify = notify  # told "answering" when a reply starts or ends

    @contextmanager
    def tracking(self, stop: Stop) -> Iterator[Stop]:
        with self._lock:
            self._stops.append(stop)
        self._notify("answering")
        try:
            yield stop
        finally:
            with self._lock:
                self._stops.remove(stop)
            self._notify("answering")

    def __len__(self) -> int:
        with self._lock:
            return len(self._stops)

    def stop_all(self) -> int:
        """Ask every reply in flight to stop; returns how many there were."""
        with self._lock:
            stops = [stop for stop in self._stops if not stop.requested]
        for stop in stops:
            stop.request()
        return len(stops)
