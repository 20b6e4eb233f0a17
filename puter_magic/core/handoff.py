"""The hand-off between the loop thread and a consumer on another thread or event loop.

A producer on the loop thread puts items into the consumer's inbox in batches (all that arrived in one loop turn),
and waits when `WINDOW` items were handed over and not yet taken: a consumer that reads slowly pauses the producer,
and so the network read behind it, instead of piling the whole answer up in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterable, Callable
from typing import Any

END = object()  # the producer finished (its error, if any, is the job's)
STOP = object()  # a Stop was requested: the consumer leaves at once
WINDOW = 4096  # stream items handed to a consumer and not yet taken, before the producer waits


class ThreadsafeInbox:
    """Lets the producer put batches into an asyncio.Queue that belongs to another loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, target: asyncio.Queue[Any]) -> None:
        self._loop, self._target = loop, target

    def put(self, batch: list[Any]) -> None:
        if self._loop.is_closed():  # the caller left and its loop ended (asyncio.run): nobody waits for these
            return
        with contextlib.suppress(RuntimeError):  # …or it closed just now
            self._loop.call_soon_threadsafe(self._target.put_nowait, batch)


class Window:
    """How many items the producer may hand over before the consumer takes them: credit flows back across
    threads. The producer counts what it handed over, the consumer what it took; only a producer that found
    the window full waits, and only then does the consumer wake it (once the window is half empty)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, size: int) -> None:
        if size < 1:
            raise ValueError("the window holds at least one item")
        self.size = size
        self.handed = 0  # written on the loop thread only
        self._taken = 0  # written by the consumer only
        self._loop = loop
        self._lock = threading.Lock()
        self._waiter: asyncio.Future[None] | None = None

    def room(self) -> int:
        return self.size - (self.handed - self._taken)

    def taken(self, count: int) -> None:
        """The consumer took `count` items (any thread)."""
        with self._lock:
            self._taken += count
            waiter = self._waiter
            if waiter is None or self.room() < self.size // 2:
                return
            self._waiter = None
        with contextlib.suppress(RuntimeError):  # the loop thread has been closed: nobody waits any more
            self._loop.call_soon_threadsafe(wake, waiter)

    async def wait_for_room(self) -> None:
        """On the loop thread: return when the consumer has taken enough to make room again."""
        with self._lock:
            if self.room() > 0:
                return
            waiter = self._waiter = self._loop.create_future()
        await waiter


class Receiver:
    """The consumer's side: `items(batch)` credits the window with the batch it took and returns the batch's items.
    A marker ends a batch (END the producer's last one, STOP comes alone); once one came, `marker` is set and the
    consumer leaves after those items."""

    def __init__(self, window: Window) -> None:
        self.window = window
        self.marker: object | None = None

    def items(self, batch: list[Any]) -> list[Any]:
        self.window.taken(len(batch))
        last = batch[-1]
        if last is END or last is STOP:
            self.marker = last
            return batch[:-1]
        return batch


def wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def produce(source: Callable[[], AsyncIterable[Any]], inbox: Any, window: Window) -> None:
    loop = asyncio.get_running_loop()
    pending: list[Any] = []

    def flush() -> None:
        nonlocal pending
        if pending:
            batch, pending = pending, []
            window.handed += len(batch)
            inbox.put(batch)

    iterable = source()
    try:
        budget = window.room()
        async for item in iterable:
            if not pending:
                loop.call_soon(flush)
            pending.append(item)
            budget -= 1
            if budget <= 0:  # the window is full: hand over what is pending, then wait for the consumer
                flush()
                await window.wait_for_room()
                budget = window.room()
    finally:
        try:
            aclose = getattr(iterable, "aclose", None)
            if aclose is not None:  # a producer cancelled while it waited for room: close the stream now
                await aclose()
        finally:
            pending.append(END)
            flush()
