"""The panel's background work: coroutines on the session's loop thread that can be stopped and waited for.

A widget callback runs on the kernel's shell thread and must return at once, so it submits a coroutine here.
The coroutine does its network work on the loop thread and, at its end, puts the result into the widgets by
trait assignment (a thread-safe door: ipywidgets sends the change over the kernel's IOPub thread).

    jobs = Jobs(session.loop, on_error=report)
    jobs.submit("fetch", fetch_models(), done=reset_button)   # returns a concurrent future at once
    jobs.stop()                                               # cancels what is running (the Stop button)
    jobs.wait(10)                                             # tests: until every job (and its widgets) is done

A job's future is done only after its coroutine has updated the widgets, and `wait()` also waits for the jobs
that a finishing job started (a login starts a status check), so tests need no sleeps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from ..core.loop import LoopThread
from ..redact import logger


class _Job:
    """One coroutine on the loop thread; cancellation is decided on the loop thread, so it never races."""

    def __init__(self, name: str, done: Callable[[], None] | None) -> None:
        self.name = name
        self.done_callback = done
        self.finished = threading.Event()
        self.cancelled = False
        self.future: concurrent.futures.Future[Any] | None = None
        self.task: asyncio.Task[Any] | None = None

    def cancel(self) -> None:
        """On the loop thread: cancel the task, or make sure it never starts."""
        self.cancelled = True
        if self.task is not None:
            self.task.cancel()


class Jobs:
    """The panel's jobs on one loop thread. `on_error` hears about unexpected exceptions (not cancellations)."""

    def __init__(self, loop: LoopThread, *, on_error: Callable[[BaseException], None]) -> None:
        self._loop = loop
        self._on_error = on_error
        self._lock = threading.Lock()
        self._jobs: dict[_Job, None] = {}  # an ordered set

    @property
    def busy(self) -> bool:
        with self._lock:
            return bool(self._jobs)

    def running(self, name: str) -> concurrent.futures.Future[Any] | None:
        """The future of the running job called `name`, if any."""
        with self._lock:
            return next((job.future for job in self._jobs if job.name == name and not job.cancelled), None)

    def submit(
        self,
        name: str,
        coro: Coroutine[Any, Any, Any],
        *,
        done: Callable[[], None] | None = None,
        replace: bool = False,
    ) -> concurrent.futures.Future[Any]:
        """Run `coro` on the loop thread; `done` runs there after it, even when it was stopped before starting.

        With `replace`, a running job of the same name is cancelled first (a newer status check wins).
        """
        job = _Job(name, done)
        with self._lock:
            stale = [old for old in self._jobs if old.name == name] if replace else []
            self._jobs[job] = None
        for old in stale:
            self._loop.loop.call_soon_threadsafe(old.cancel)
        # The loop's future settles when the coroutine returned, i.e. after it updated the widgets.
        job.future = self._loop.submit(self._run(job, coro))
        return job.future

    async def _run(self, job: _Job, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            if job.cancelled:  # stopped before it started: close it unstarted
                coro.close()
                raise asyncio.CancelledError
            job.task = asyncio.current_task()
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("panel job %s failed: %r", job.name, error)
            self._on_error(error)
            raise
        finally:
            with self._lock:
                self._jobs.pop(job, None)
            try:
                if job.done_callback is not None:
                    job.done_callback()
            finally:
                job.finished.set()

    def stop(self) -> int:
        """Cancel every running job; returns how many there were."""
        with self._lock:
            jobs = [job for job in self._jobs if not job.cancelled]
        if jobs and self._loop.running:
            for job in jobs:
                self._loop.loop.call_soon_threadsafe(job.cancel)
        return len(jobs)

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until no job is running (including jobs started by finishing ones); False on timeout."""
        if self._loop.in_loop_thread():
            raise RuntimeError("waiting for the panel's jobs on the loop thread that runs them would deadlock")
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._jobs)
            if not pending:
                return True
            for job in pending:
                if not job.finished.wait(max(0.0, deadline - time.monotonic())):
                    return False
                if job.future is not None:  # it settles just after the coroutine's last line
                    concurrent.futures.wait([job.future], max(0.0, deadline - time.monotonic()))
                    if not job.future.done():
                        return False


class Quiet:
    """`with quiet:` marks the panel's own widget updates, so observers (which fire on the assigning thread)
    do not echo them back into the session; `if quiet:` asks whether this thread is inside such a block."""

    def __init__(self) -> None:
        self._local = threading.local()

    def __bool__(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    def __enter__(self) -> None:
        self._local.depth = getattr(self._local, "depth", 0) + 1

    def __exit__(self, *exc: object) -> None:
        self._local.depth -= 1


def done_future(value: Any = None) -> concurrent.futures.Future[Any]:
    """An already finished future, for an action that had nothing to run."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()
    future.set_result(value)
    return future
