"""Answers in flight: the Transcript of one answer, and the registry that lets Stop end them from anywhere.

transcript = Transcript(session, exchange)     # one per answer; owns a loop.Stop
for event in session.events(exchange, transcript.stop): transcript.take(event)
session.stop()                                 # from the panel's Stop button, or any other thread
transcript.keep()                              # a stopped answer is kept, flagged as interrupted
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..datatypes import Answer, Finished, StreamEvent, TextDelta
from .loop import Stop

if TYPE_CHECKING:
    from .sessions import Exchange, Session


class Answering:
    """The answers a session is receiving now (their Stops), so that one call can end them all."""

    def __init__(self, notify: Callable[[str], None] = lambda topic: None) -> None:
        self._lock = threading.Lock()
        self._stops: list[Stop] = []
        self._notify = notify  # told "answering" when an answer starts or ends

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
        """Ask every answer in flight to stop; returns how many there were."""
        with self._lock:
            stops = [stop for stop in self._stops if not stop.requested]
        for stop in stops:
            stop.request()
        return len(stops)


class Transcript:
    """The text and the end of one streamed answer, kept as a turn once it is over (stream(), astream(), %%puter)."""

    def __init__(self, session: Session, exchange: Exchange) -> None:
        self.session, self.exchange = session, exchange
        self.parts: list[str] = []
        self.finished: Finished | None = None
        self.stop = Stop()

    @property
    def stopped(self) -> bool:
        """True when a Stop ended the answer before the provider did."""
        return self.stop.requested and self.finished is None

    def take(self, event: StreamEvent) -> str | None:
        """The text an event adds, if any."""
        if isinstance(event, TextDelta):
            self.parts.append(event.text)
            return event.text
        if isinstance(event, Finished):
            self.finished = event
        return None

    def keep(self, *, interrupted: bool = False) -> Answer:
        """Record the turn: with the usage and the model the provider reported, when the stream finished."""
        usage = self.finished.usage if self.finished else None
        model = self.finished.model if self.finished and self.finished.model else None
        text = "".join(self.parts)
        return self.session.record(
            self.exchange, text, usage=usage, model=model, interrupted=interrupted or self.stopped
        )
