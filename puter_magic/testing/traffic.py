"""What a local Puter server observed: the requests (a bounded log), the streams and how each ended, and the
requests in flight. Mixed into FakePuter, whose state shares the one condition (`wait_for` wakes on any change)."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from puter_magic.testing.image_parts import ImagePart, chat_messages
from puter_magic.testing.records import RecordedRequest, StreamRecord


class Traffic:
    """The observation half of FakePuter."""

    def _start_traffic(self, request_log_limit: int) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._requests: deque[RecordedRequest] = deque(maxlen=request_log_limit)
        self._streams: list[StreamRecord] = []
        self._streams_started = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._epoch = 0

    def _reset_traffic(self) -> None:
        """Forget what was observed (with the condition held); streams still open belong to the old epoch."""
        self._epoch += 1
        self._requests.clear()
        self._streams.clear()
        self._streams_started = 0
        self.max_in_flight = self.in_flight  # requests still running belong to nobody's count

    def request_started(self, record: RecordedRequest) -> int:
        """Log a request and count it in flight; returns the epoch to hand back when a stream ends."""
        with self._cond:
            self._requests.append(record)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self._cond.notify_all()
            return self._epoch

    def request_finished(self) -> None:
        with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def stream_started(self) -> int:
        with self._cond:
            self._streams_started += 1
            return self._epoch

    def stream_ended(self, epoch: int, record: StreamRecord) -> None:
        with self._cond:
            if epoch == self._epoch:  # a stream from before the last reset() is not this test's business
                self._streams.append(record)
            self._cond.notify_all()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    @property
    def streams(self) -> list[StreamRecord]:
        with self._cond:
            return list(self._streams)

    def last_image_parts(self) -> list[ImagePart]:
        """The image parts of the last request that sent chat messages (``[]`` when there was none)."""
        with self._cond:
            sent = [r for r in self._requests if chat_messages(r.body)]
        return sent[-1].image_parts() if sent else []

    @property
    def cancelled_streams(self) -> list[StreamRecord]:
        """Streams that ended because the client went away mid-stream."""
        return [s for s in self.streams if s.outcome == "cancelled"]

    def clear_requests(self) -> None:
        with self._cond:
            self._requests.clear()

    def stats(self) -> dict[str, int]:
        with self._cond:
            outcomes = [s.outcome for s in self._streams]
            return {
                "requests": len(self._requests),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "streams_started": self._streams_started,
                "streams_completed": outcomes.count("completed"),
                "streams_cancelled": outcomes.count("cancelled"),
                "streams_dropped": outcomes.count("dropped"),
            }

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate(self)`` holds (re-checked whenever traffic changes); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)
