"""`Bridged`: one producer on the loop thread, consumed on any thread or event loop — the sync/async bridge,
written once, that a Reply, a cell run and a batch are read through."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable, Callable, Generator, Iterator
from contextlib import AbstractContextManager, aclosing, contextmanager, nullcontext
from typing import Any, Generic, Protocol, TypeVar, cast

from ..errors import PuterError
from .loop import LoopThread, Stop

T = TypeVar("T")
U = TypeVar("U")
B = TypeVar("B", bound="Bridged[Any, Any]")


class _Reader(Protocol):
    stop: Stop
    error: PuterError | None


@contextmanager
def one_reading(
    reader: _Reader,
    tracking: Callable[[Stop], AbstractContextManager[Any]] | None,
    ended: Callable[[bool], None],
) -> Iterator[None]:
    """Around one reading of a Reply or a ToolLoop, inside `tracking(reader.stop)` when given: a PuterError is kept
    as `reader.error` and raised, and nothing more happens; anything else that leaves — Ctrl-C, CancelledError, a
    consumer that left (GeneratorExit) — calls `ended(True)` and goes on; a reading that completes, `ended(False)`."""
    with tracking(reader.stop) if tracking is not None else nullcontext():
        try:
            yield
        except PuterError as error:
            reader.error = error
            raise
        except BaseException:
            ended(True)
            raise
        ended(False)


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
