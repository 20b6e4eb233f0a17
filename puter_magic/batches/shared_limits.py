"""A provider's limits for a whole Dask cluster, not per worker: Puter's 30 requests per 10 s and 3 in flight
hold however many workers ask.

Both are `distributed.Semaphore`s, kept by the scheduler (so they outlive any worker, and a lost worker's leases
lapse after `distributed.scheduler.locks.lease-timeout`):
- in flight: one lease per attempt, returned when the attempt's response closes;
- the rate: one lease per attempt started, returned `window` seconds after it was taken. At most `requests`
  leases are out at once, so at most `requests` attempts start in any `window` seconds — a sliding window.

Each worker's PuterProvider holds a ClusterLimits as its RateLimiter's `shared` limiter (wire/limits.py), so
every attempt, retries included, takes its slots. The semaphores live on the worker's event loop; the requests
run on the session's loop thread, which hands each call over and waits for it.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any

from ..wire.limits import RateLimiter


class ClusterLimits:
    """The shared half of one provider's RateLimiter, on a distributed worker."""

    def __init__(self, worker: Any, origin: str, requests: int | None, window: float, concurrent: int | None) -> None:
        self.worker = worker
        self.requests, self.window, self.concurrent = requests, window, concurrent
        tag = hashlib.sha256(f"{origin} {requests}/{window} {concurrent}".encode()).hexdigest()[:16]
        self.names = (f"puter-magic-in-flight-{tag}", f"puter-magic-rate-{tag}")
        self._in_flight: Any = None
        self._rate: Any = None
        self._ready: asyncio.Future[None] | None = None  # made once, on the worker's loop

    @property
    def _loop(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop = self.worker.loop.asyncio_loop
        return loop

    async def _on_worker(self, call: Coroutine[Any, Any, Any]) -> Any:
        """Run `call` on the worker's event loop (where the semaphores talk to the scheduler) and wait for it."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call, self._loop))

    async def _semaphores(self) -> None:
        from distributed import Semaphore

        where = {"scheduler_rpc": self.worker.scheduler, "loop": self.worker.loop}
        if self.concurrent:
            self._in_flight = await Semaphore(max_leases=self.concurrent, name=self.names[0], **where)  # type: ignore[no-untyped-call]
        if self.requests:
            self._rate = await Semaphore(max_leases=self.requests, name=self.names[1], **where)  # type: ignore[no-untyped-call]

    async def _take(self) -> None:
        if self._ready is None:
            self._ready = asyncio.ensure_future(self._semaphores())
        await asyncio.shield(self._ready)
        if self._in_flight is not None:
            await self._in_flight.acquire()
        if self._rate is not None:
            await self._rate.acquire()
            rate = self._rate
            asyncio.get_running_loop().call_later(self.window, lambda: asyncio.ensure_future(rate.release()))

    async def _give_back(self) -> None:
        if self._in_flight is not None:
            await self._in_flight.release()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self._on_worker(self._take())
        try:
            yield
        finally:
            # Handed over, not awaited: an attempt that is being cancelled must not wait for the scheduler.
            asyncio.run_coroutine_threadsafe(self._give_back(), self._loop)


def share(limiter: RateLimiter | None, worker: Any, origin: str) -> None:
    """Make `limiter` (a provider's) hold the cluster's slots too; nothing to share when it has no limits."""
    if limiter is None or limiter.shared is not None or not (limiter.requests or limiter.concurrent):
        return
    limiter.shared = ClusterLimits(worker, origin, limiter.requests, limiter.window, limiter.concurrent)
