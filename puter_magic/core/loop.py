"""One private asyncio loop on a daemon thread: it owns every httpx client, and all network I/O runs there.

A cell magic is synchronous while the kernel's own loop is already running on the main thread, and an
httpx.AsyncClient must never move between loops. So callers on any other thread hand coroutines to this
loop: `run()` blocks for a result, `iterate()` turns an async stream into a plain iterator, and
`run_async()`/`aiterate()` await it from another loop (a notebook's top-level `await`) without binding
anything to that loop. A KeyboardInterrupt in the caller cancels the work on the loop thread; a `Stop` lets
any other thread end a stream early, as if its consumer had left the loop.
A stream's hand-off is bounded (handoff.py: `WINDOW` items handed over and not yet taken); `Bridged` (bridged.py)
reads one producer from any thread or event loop.
No nest-asyncio: nothing here touches any other event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Coroutine, Iterator
from typing import Any, Generic, TypeVar

from .handoff import END, STOP, WINDOW, Receiver, ThreadsafeInbox, Window, produce

T = TypeVar("T")
CANCEL_GRACE = 2.0  # seconds we wait for cancelled work to close its connections


class Stop:
    """Ends iterations early from any thread: `request()` makes the consumer leave its loop at the next hand-off,
    even while it waits for an item, and that cancels the producer like a `break` would."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requested = False
        self._callbacks: list[Callable[[], object]] = []

    @property
    def requested(self) -> bool:
        return self._requested

    def request(self) -> None:
        with self._lock:
            if self._requested:
                return
            self._requested = True
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()

    def on_request(self, callback: Callable[[], object]) -> None:
        """Call `callback` (which must be thread-safe) on request, or now if it was already requested."""
        with self._lock:
            if not self._requested:
                self._callbacks.append(callback)
                return
        callback()


class LoopThread:
    """A lazily started event loop on a daemon thread, stopped at interpreter exit."""

    def __init__(self, name: str = "puter-magic-loop") -> None:
        self.name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            with self._lock:
                if self._loop is None:
                    self._start()
        assert self._loop is not None
        return self._loop

    def _start(self) -> None:
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        def main() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            try:
                loop.run_forever()
            finally:
                _drain(loop)

        thread = threading.Thread(target=main, name=self.name, daemon=True)
        thread.start()
        ready.wait()
        self._loop, self._thread = loop, thread
        weakref.finalize(self, _stop, loop, thread)

    def close(self) -> None:
        """Stop the loop: pending work is cancelled and given a moment to clean up."""
        with self._lock:
            if self._loop is not None and self._thread is not None:
                _stop(self._loop, self._thread)
            self._loop = self._thread = None

    @property
    def running(self) -> bool:
        return self._loop is not None and self._loop.is_running()

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    def _guard(self) -> None:
        if self.in_loop_thread():
            raise RuntimeError("blocking on the loop thread from the loop thread itself would deadlock")

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule a coroutine on the loop thread; returns at once."""
        return self._spawn(coro).future

    def _spawn(self, coro: Coroutine[Any, Any, T]) -> _Job[T]:
        return _Job(self.loop, coro)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None, stop: Stop | None = None) -> T:
        """Run a coroutine on the loop thread and wait; Ctrl-C cancels it, then re-raises. A `stop` request
        cancels it too: the caller sees concurrent.futures.CancelledError."""
        if self.in_loop_thread():
            coro.close()
            self._guard()
        job: _Job[T] | None = None
        try:
            job = self._spawn(coro)
            if stop is not None:
                stop.on_request(job.future.cancel)
            return job.future.result(timeout)
        except BaseException:
            if job is not None:
                job.cancel_and_wait()
            raise

    async def run_async(self, coro: Coroutine[Any, Any, T], stop: Stop | None = None) -> T:
        """Await a coroutine that runs on the loop thread, from any other event loop. A `stop` request cancels
        it: the caller sees CancelledError, and `stop.requested` tells it apart from its own cancellation."""
        future = self.submit(coro)
        waiter = asyncio.wrap_future(future)
        if stop is not None:
            caller = asyncio.get_running_loop()
            stop.on_request(lambda: caller.call_soon_threadsafe(waiter.cancel))
        try:
            return await waiter
        except asyncio.CancelledError:
            future.cancel()
            raise

    def iterate(
        self, source: Callable[[], AsyncIterable[T]], stop: Stop | None = None, *, window: int = WINDOW
    ) -> Iterator[T]:
        """Iterate, on this thread, over an async iterable produced on the loop thread.

        Items are handed over in batches (all that arrived in one loop turn), so a fast stream costs one
        thread hand-off per network read, not one per item. At most `window` items wait to be taken: a
        consumer that falls behind pauses the producer. Leaving the loop early (break, an exception,
        Ctrl-C, a `stop` request) cancels the producer and closes its connection.
        """
        self._guard()
        inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        receiver = Receiver(Window(self.loop, window))
        job: _Job[None] | None = None
        if stop is not None:
            stop.on_request(lambda: inbox.put([STOP]))
        try:
            job = self._spawn(produce(source, inbox, receiver.window))
            while receiver.marker is None:
                yield from receiver.items(inbox.get())
            if receiver.marker is END:
                job.future.result()  # re-raises the producer's exception, if any
        finally:
            if receiver.marker is not END and job is not None:  # after END there is nothing left to cancel
                job.cancel_and_wait()

    async def aiterate(
        self, source: Callable[[], AsyncIterable[T]], stop: Stop | None = None, *, window: int = WINDOW
    ) -> AsyncGenerator[T, None]:
        """Like iterate(), for a caller on another event loop. Close it (`contextlib.aclosing`) when leaving
        early: that is what cancels the producer on the loop thread."""
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        caller = asyncio.get_running_loop()
        threadsafe = ThreadsafeInbox(caller, inbox)
        receiver = Receiver(Window(self.loop, window))
        future = self.submit(produce(source, threadsafe, receiver.window))
        if stop is not None:
            stop.on_request(lambda: threadsafe.put([STOP]))
        try:
            while receiver.marker is None:
                for item in receiver.items(await inbox.get()):
                    yield item
            if receiver.marker is END:
                await asyncio.wrap_future(future)
        finally:
            if receiver.marker is not END:
                future.cancel()


class _Job(Generic[T]):
    """A coroutine on the loop thread that can be cancelled and waited for until its cleanup has run.

    A cancelled concurrent future reports "done" at once, before the coroutine's `finally` blocks (which
    close HTTP streams) have run on the loop thread; `cancel_and_wait()` waits for those, boundedly.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> None:
        self._loop = loop
        self._coro = coro
        self.started = threading.Event()
        self.settled = threading.Event()
        self.future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(self._run(coro), loop)

    async def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        self.started.set()
        try:
            return await coro
        finally:
            self.settled.set()

    def cancel_and_wait(self) -> None:
        if not self.future.cancel():
            return
        barrier = threading.Event()
        # Callbacks run in order: once the barrier is set, the cancellation has reached the task, and a
        # coroutine that had not started by then never will.
        self._loop.call_soon_threadsafe(barrier.set)
        barrier.wait(CANCEL_GRACE)
        if self.started.is_set():
            self.settled.wait(CANCEL_GRACE)
        else:
            self._coro.close()


def _stop(loop: asyncio.AbstractEventLoop, thread: threading.Thread) -> None:
    if loop.is_running():
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=CANCEL_GRACE)


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    """On the loop thread, after it stopped: cancel what is left, let it clean up, close the loop."""
    try:
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.wait(pending, timeout=CANCEL_GRACE))
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()


def once(make: Callable[[], T]) -> Callable[[], T]:
    """A process-wide value made on first use: `make` runs on the first call only, under a lock, whatever the
    threads; every call returns what it made."""
    made: list[T] = []
    lock = threading.Lock()

    def made_once() -> T:
        with lock:
            if not made:
                made.append(make())
            return made[0]

    return made_once


_default = once(LoopThread)


def default_loop() -> LoopThread:
    """The process-wide loop thread every session shares."""
    return _default()
