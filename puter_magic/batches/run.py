"""Many prompts at once: `batch()` asks them concurrently and gives the answers back in input order.

    results = puter_magic.batch(["Name a cat", "Name a dog"], model="gpt-5-nano")
    results = puter_magic.batch("Summarise in one line: @{item}", articles)      # a template and its rows
    df["summary"] = puter_magic.batch("Summarise @{title}: @{body}", df)          # a Series aligned to df.index

What a template sees for each row, and what comes back, is in values.py; the progress model is in
progress.py, its views (a widget, a terminal line) in notebook/progress_bars.py.

- Items run as tasks on the session's loop thread, at most `concurrency` at a time, and every request still
  waits for its provider's own rate limiter: the effective concurrency is min(concurrency, max_concurrent).
  Retries (429 with Retry-After, connection failures) are the provider's own; `retries` counts them.
- A failed item becomes a BatchError (falsy, shown as "⚠ message") and the others carry on.
- Ctrl-C while waiting, or `session.stop()` (the panel's Stop), cancels what is still running and returns what
  finished: the result has `interrupted=True` and the other items are BatchErrors of kind "NotRun". (It is not
  re-raised: in a notebook that is what keeps the finished answers.)
- Nothing enters the conversation unless `history=True`: then all items are asked with the thread as it was
  before the batch, and each answer becomes a turn, in input order, once the batch is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from collections.abc import AsyncIterator, Callable, Hashable, Iterator, Mapping, Sequence
from typing import Any

from ..core.bridged import Bridged
from ..core.loop import Stop
from ..core.reply import Reply
from ..core.sessions import Session
from ..datatypes import Answer
from ..errors import InputError, PuterError
from ..redact import logger
from .progress import Reporter, Snapshot, State
from .values import NOT_RUN, BatchError, BatchResult

__all__ = ["Batch", "Plan", "run", "start"]

DEFAULT_CONCURRENCY = 8
TICK = 0.1  # seconds between progress updates, at most


# --- running it -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to ask and how: the items (labels and prompts, or the error that made a prompt), the options every
    request gets, the concurrency, where progress goes and how an answer becomes its item's value."""

    session: Session
    labels: Sequence[Hashable]
    prompts: Sequence[str | PuterError]
    options: Mapping[str, Any]
    reporter: Reporter
    concurrency: int = DEFAULT_CONCURRENCY
    present: Callable[[Answer], Any] = lambda answer: answer.text
    keep_progress: bool = True
    # Told each item as it finishes, on the loop thread: its position and its Reply or BatchError (a cluster's
    # partition writes it to its checkpoint). It must not raise.
    on_item: Callable[[int, Reply | BatchError], None] | None = None


def run(plan: Plan) -> BatchResult:
    """Prepare every item, send them on the loop thread, and assemble the result in input order.

    Ctrl-C while waiting, or `session.stop()`, ends the batch early: the result then has `interrupted=True`.
    """
    return start(plan).wait().result()


def start(plan: Plan) -> Batch:
    """The batch, prepared (nothing sent yet): `wait()` for it, or `await` it from another event loop (an awaited
    %%puter --map cell, whose interrupt arrives as CancelledError); then `result()`."""
    if plan.concurrency < 1:
        raise InputError(f"concurrency must be at least 1, not {plan.concurrency}")
    if plan.prompts:
        # What would fail every item (no model, an unknown provider) fails the batch, before anything is sent.
        options = plan.options
        plan.session.ask("?", model=options.get("model"), provider=options.get("provider"), history=False, held=True)
    return Batch(plan)


class Batch(Bridged[None, None]):
    """One batch: the items' Replies, their tally and the Stop that ends it. Read through core/bridged.py's bridge
    (its producer sends everything and yields nothing); Ctrl-C, CancelledError and its Stop end it early,
    keeping what finished."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.loop = plan.session.loop
        self.stop = Stop()
        self.state: State = "running"
        self.tally = Tally(len(plan.prompts), plan.on_item)
        self.replies = _prepare_all(plan.session, plan.prompts, plan.options, self.tally)
        if plan.prompts:
            plan.reporter.start(self.tally.snapshot())

    async def _source(self) -> AsyncIterator[None]:
        """On the loop thread: every prepared item, `concurrency` at a time."""
        jobs = [(position, reply) for position, reply in enumerate(self.replies) if reply is not None]
        try:
            await send_all(jobs, self.plan.concurrency, self.tally, self.plan.reporter)
        finally:
            self.tally.close()
        return
        yield  # the answers go to the tally: this producer hands nothing over

    def _take(self, item: None) -> None:
        return None

    @contextlib.contextmanager
    def _flight(self) -> Iterator[None]:
        if not self.plan.prompts:
            yield
            return
        try:
            with self.plan.session.answering.tracking(self.stop):
                yield
            self.state = "interrupted" if self.stop.requested else "finished"
        except (KeyboardInterrupt, asyncio.CancelledError):
            self.state = "interrupted"
        except BaseException:
            self.abandon()
            raise

    def abandon(self) -> None:
        self.tally.close()
        self.plan.reporter.finish(self.tally.snapshot("interrupted"), keep=self.plan.keep_progress)

    def result(self) -> BatchResult:
        """The answers in input order (with history, each recorded now, in that order); the progress ends."""
        if not self.plan.prompts:
            return BatchResult()
        self.tally.close()  # a batch stopped before it started never ran its producer
        result = _assemble(self.plan, self.replies, self.tally, interrupted=self.state == "interrupted")
        failed = len(result.errors)  # counts answers that arrived but could not be presented (-f json)
        snapshot = dataclasses.replace(self.tally.snapshot(self.state), failed=failed)
        self.plan.reporter.finish(snapshot, keep=self.plan.keep_progress)
        return result


def _prepare_all(
    session: Session, prompts: Sequence[str | PuterError], options: Mapping[str, Any], tally: Tally
) -> list[Reply | None]:
    """Each item's Reply (held: recorded by the batch), or None after counting its failure; when every item fails,
    the first error is raised."""
    replies: list[Reply | None] = []
    first: PuterError | None = None
    for position, prompt in enumerate(prompts):
        reply: Reply | None = None
        if isinstance(prompt, str):
            try:
                reply = session.ask(prompt, stream=False, held=True, **options)
            except PuterError as error:
                prompt = error
        if isinstance(prompt, PuterError):
            first = first or prompt
            tally.fail(position, BatchError.of(prompt), attempts=0)
        replies.append(reply)
    if first is not None and all(reply is None for reply in replies):
        raise first  # nothing to send: most likely the same mistake in every item
    return replies


def _assemble(plan: Plan, replies: Sequence[Reply | None], tally: Tally, *, interrupted: bool) -> BatchResult:
    """Answers in input order; with history, each one is recorded now, in that order."""
    values: list[Any] = []
    answers: list[Answer | None] = []
    for position, reply in enumerate(replies):
        if reply is None or position not in tally.answered:
            answers.append(None)
            values.append(tally.failures.get(position, NOT_RUN))
            continue
        reply.keep()
        answer = reply.answer()
        answers.append(answer)
        try:
            values.append(plan.present(answer))
        except PuterError as error:  # e.g. -f json and an answer that is not JSON: the answer is still kept
            values.append(BatchError.of(error))
    shown = [p if isinstance(p, str) else None for p in plan.prompts]
    return BatchResult(
        values,
        labels=plan.labels,
        prompts=shown,
        answers=answers,
        interrupted=interrupted,
        retries=tally.retries if tally.watched else None,
        elapsed=tally.elapsed,
    )


class Tally:
    """What has finished so far: written on the loop thread, read by the caller once the batch is over."""

    def __init__(self, total: int, on_item: Callable[[int, Reply | BatchError], None] | None = None) -> None:
        self.total = total
        self.on_item = on_item
        self.answered: set[int] = set()
        self.failures: dict[int, BatchError] = {}
        self.retries = 0
        self.watched = True  # False once an answer arrived without a counted attempt (not sent through the transport)
        self.cost: float | None = None
        self.started = time.monotonic()
        self.elapsed = 0.0
        self._closed = False
        self._lock = threading.Lock()

    def succeed(self, position: int, reply: Reply, attempts: int) -> None:
        with self._lock:
            if self._closed:
                return
            self.answered.add(position)
            self.retries += max(0, attempts - 1)
            self.watched = self.watched and attempts > 0
            if reply.usage.cost_usd is not None:
                self.cost = (self.cost or 0.0) + reply.usage.cost_usd
        if self.on_item is not None:
            self.on_item(position, reply)

    def fail(self, position: int, error: BatchError, attempts: int) -> None:
        with self._lock:
            if self._closed:
                return
            self.failures[position] = error
            self.retries += max(0, attempts - 1)
        if self.on_item is not None:
            self.on_item(position, error)

    def close(self) -> None:
        """No more writes (a cancelled request that finishes late changes nothing)."""
        with self._lock:
            self._closed = True
            self.elapsed = time.monotonic() - self.started

    def snapshot(self, state: State = "running") -> Snapshot:
        with self._lock:
            elapsed = self.elapsed if self._closed else time.monotonic() - self.started
            done = len(self.answered) + len(self.failures)
            return Snapshot(self.total, done, len(self.failures), self.retries, self.cost, elapsed, state)


# --- on the loop thread ---------------------------------------------------------------------------


async def send_all(jobs: list[tuple[int, Reply]], concurrency: int, tally: Tally, reporter: Reporter) -> None:
    """`concurrency` workers take the items in input order; each request also waits for its provider's limiter."""
    queue = iter(jobs)

    async def worker() -> None:
        for position, reply in queue:
            await _send_one(position, reply, tally)

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(jobs)))]
    ticker = asyncio.create_task(_tick(tally, reporter))
    try:
        await asyncio.gather(*workers)
    finally:
        for task in (*workers, ticker):
            task.cancel()
        await asyncio.gather(*workers, ticker, return_exceptions=True)


async def _send_one(position: int, reply: Reply, tally: Tally) -> None:
    """One item; its attempts come back on the Reply, or on the error (None: not sent through the wire)."""
    try:
        await reply
    except Exception as error:  # PuterErrors, and anything unexpected: it belongs to this item, not the batch
        tally.fail(position, BatchError.of(error), getattr(error, "attempts", None) or 0)
    else:
        tally.succeed(position, reply, reply.attempts or 0)


async def _tick(tally: Tally, reporter: Reporter) -> None:
    """Progress, at most every TICK seconds: when something finished, and every second for the rate and ETA."""
    shown: tuple[int, int, int] | None = None
    shown_at = 0.0
    while True:
        await asyncio.sleep(TICK)
        snapshot = tally.snapshot()
        now = time.monotonic()
        if (snapshot.done, snapshot.failed, snapshot.retries) == shown and now - shown_at < 1.0:
            continue
        try:
            reporter.update(snapshot)
        except Exception as error:  # a broken display must not stop the batch
            logger.warning("batch progress display failed, no more updates: %s", error)
            return
        shown, shown_at = (snapshot.done, snapshot.failed, snapshot.retries), now
