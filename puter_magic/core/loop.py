"""One private asyncio loop on a daemon thread: it owns every httpx client, and all network I/O runs there.

A cell magic is synchronous while the kernel's own loop is already running on the main thread, and an
httpx.AsyncClient must never move between loops. So callers on any other thread hand coroutines to this
loop: `run()` blocks for a result, `iterate()` turns an async stream into a plain iterator, and
`run_async()`/`aiterate()` await it from another loop (a notebook's top-level `await`) without binding
anything to that loop. A KeyboardInterrupt in the caller cancels the work on the loop thread; a `Stop` lets
any other thread end a stream early, as if its consumer had left the loop.
A stream's hand-off is bounded (`WINDOW` items handed over and not yet taken): a consumer that reads slowly
pauses the producer, and so the network read behind it, instead of piling the whole answer up in memory.
No nest-asyncio: nothing here touches any other event loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import queue
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Coroutine, Generator, Iterator
from contextlib import AbstractContextManager, aclosing
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")
U = TypeVar("U")
_END = object()
_STOP = object()
CANCEL_GRACE = 2.0  # seconds we wait for cancelled work to close its connections
WINDOW = 4096  # stream items handed to a consumer and not yet taken, before the producer waits


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
        credit = _Window(self.loop, window)
        job: _Job[None] | None = None
        finished = False
        if stop is not None:
            stop.on_request(lambda: inbox.put([_STOP]))
        try:
            job = self._spawn(_produce(source, inbox, credit))
            while True:
                batch = inbox.get()
                credit.taken(len(batch))
                for item in batch:
                    if item is _STOP:
                        return
                    if item is _END:
                        finished = True
                        job.future.result()  # re-raises the producer's exception, if any
                        return
                    yield item
        finally:
            if not finished and job is not None:
                job.cancel_and_wait()

    async def aiterate(
        self, source: Callable[[], AsyncIterable[T]], stop: Stop | None = None, *, window: int = WINDOW
    ) -> AsyncGenerator[T, None]:
        """Like iterate(), for a caller on another event loop. Close it (`contextlib.aclosing`) when leaving
        early: that is what cancels the producer on the loop thread."""
        inbox: asyncio.Queue[Any] = asyncio.Queue()
        caller = asyncio.get_running_loop()
        threadsafe = _ThreadsafeInbox(caller, inbox)
        credit = _Window(self.loop, window)
        future = self.submit(_produce(source, threadsafe, credit))
        finished = False
        if stop is not None:
            stop.on_request(lambda: threadsafe.put([_STOP]))
        try:
            while True:
                batch = await inbox.get()
                credit.taken(len(batch))
                for item in batch:
                    if item is _STOP:
                        return
                    if item is _END:
                        finished = True
                        await asyncio.wrap_future(future)
                        return
                    yield item
        finally:
            if not finished:
                future.cancel()


B = TypeVar("B", bound="Bridged[Any, Any]")


class Bridged(Generic[T, U]):
    """One producer on the loop thread, consumed on any thread or event loop: the sync/async bridge, written once.

    A subclass gives `_source()` (the producer, run on the loop thread), `_take(item)` (what the consumer sees of an
    item; None: nothing) and `_flight()` (a context manager around one consumption: where its error and interrupt
    policy lives), and sets `loop` and `stop`. Then `for x in obj`, `async for x in obj`, `obj.wait()` and
    `await obj` all run that one producer through `LoopThread.iterate()` / `aiterate()`.
    """

    loop: LoopThread
    stop: Stop

    def _source(self) -> AsyncIterable[T]:
        raise NotImplementedError

    def _take(self, item: T) -> U | None:
        raise NotImplementedError

    def _flight(self) -> AbstractContextManager[None]:
        raise NotImplementedError

    @property
    def consumed(self) -> bool:
        return getattr(self, "_consumed", False)

    def _begin(self) -> AbstractContextManager[None]:
        if self.consumed:
            raise RuntimeError(f"this {type(self).__name__} has been read already")
        self._consumed = True
        return self._flight()

    def __iter__(self) -> Iterator[U]:
        with self._begin():
            for item in self.loop.iterate(self._source, stop=self.stop):
                if (taken := self._take(item)) is not None:
                    yield taken

    async def __aiter__(self) -> AsyncGenerator[U, None]:
        with self._begin():
            # On the loop thread itself (a batch's items) the producer is read directly: nothing to hand over,
            # and cancelling the reading task (not `stop`) is what ends it there.
            direct = self.loop.in_loop_thread()
            source = self._source() if direct else self.loop.aiterate(self._source, stop=self.stop)
            async with aclosing(cast(AsyncGenerator[T, None], source)) as items:
                async for item in items:
                    if (taken := self._take(item)) is not None:
                        yield taken

    def wait(self: B) -> B:
        """Consume it (on this thread) unless that happened already; returns it."""
        if not self.consumed:
            for _ in self:
                pass
        return self

    def __await__(self: B) -> Generator[Any, None, B]:
        """`await obj`: wait() for async code, on its own event loop."""
        return self._await().__await__()

    async def _await(self: B) -> B:
        if not self.consumed:
            async for _ in self:
                pass
        return self


class _ThreadsafeInbox:
    """Lets the producer put batches into an asyncio.Queue that belongs to another loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, target: asyncio.Queue[Any]) -> None:
        self._loop, self._target = loop, target

    def put(self, batch: list[Any]) -> None:
        if self._loop.is_closed():  # the caller left and its loop ended (asyncio.run): nobody waits for these
            return
        with contextlib.suppress(RuntimeError):  # …or it closed just now
            self._loop.call_soon_threadsafe(self._target.put_nowait, batch)


class _Window:
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
            self._loop.call_soon_threadsafe(_wake, waiter)

    async def wait_for_room(self) -> None:
        """On the loop thread: return when the consumer has taken enough to make room again."""
        with self._lock:
            if self.room() > 0:
                return
            waiter = self._waiter = self._loop.create_future()
        await waiter


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


async def _produce(source: Callable[[], AsyncIterable[Any]], inbox: Any, window: _Window) -> None:
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
            pending.append(_END)
            flush()


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


_default: LoopThread | None = None
_default_lock = threading.Lock()


def default_loop() -> LoopThread:
    """The process-wide loop thread every session shares."""
    global _default
    with _default_lock:
        if _default is None:
            _default = LoopThread()
        return _default
