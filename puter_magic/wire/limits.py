"""Client-side pacing: a rate limiter (requests per window + concurrent requests) and the retry backoff."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Protocol


class SharedLimiter(Protocol):
    """Limits kept outside this process (a cluster's: batches/shared_limits.py): `slot()` is held around each
    attempt, inside this process's own slot."""

    def slot(self) -> AbstractAsyncContextManager[None]: ...


class RateLimiter:
    """At most `requests` starts per `window` seconds and at most `concurrent` requests under way.

    Lives on the loop thread. A slot is held for a request's whole life, a stream included; waiting for
    a slot never fails, it only waits. `shared`, when set, is held too: limits that other processes share.
    """

    def __init__(
        self, requests: int | None, window: float, concurrent: int | None, shared: SharedLimiter | None = None
    ) -> None:
        self.requests = requests
        self.window = window
        self.concurrent = concurrent
        self.shared = shared
        self._starts: deque[float] = deque()
        self._semaphore = asyncio.Semaphore(concurrent) if concurrent else None
        self._lock = asyncio.Lock()

    async def _wait_for_window(self) -> None:
        if not self.requests:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._starts and now - self._starts[0] >= self.window:
                    self._starts.popleft()
                if len(self._starts) < self.requests:
                    self._starts.append(now)
                    return
                await asyncio.sleep(self.window - (now - self._starts[0]))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._semaphore is None:
            await self._wait_for_window()
            async with self._shared_slot():
                yield
            return
        async with self._semaphore:
            await self._wait_for_window()
            async with self._shared_slot():
                yield

    @asynccontextmanager
    async def _shared_slot(self) -> AsyncIterator[None]:
        if self.shared is None:
            yield
            return
        async with self.shared.slot():
            yield


# Our own generator: drawing from the global `random` would change the state of user code that seeded it.
_jitter = random.Random()


@dataclass(frozen=True)
class Backoff:
    """Capped exponential backoff with jitter; a server's Retry-After wins when it gives one."""

    base: float = 0.5
    cap: float = 20.0
    max_wait: float = 60.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before retry number `attempt` (0-based); None when waiting is not worth it."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        ceiling = min(self.cap, self.base * (2**attempt))
        return _jitter.uniform(ceiling / 2, ceiling)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds (fractions allowed) or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
