"""Many prompts at once: `batch()` asks them concurrently and gives the answers back in input order.

    results = puter_magic.batch(["Name a cat", "Name a dog"], model="gpt-5-nano")
    results = puter_magic.batch("Summarise in one line: @{item}", articles)      # a template and its rows
    df["summary"] = puter_magic.batch("Summarise @{title}: @{body}", df)          # a Series aligned to df.index

What a template sees for each row, and what comes back, is in batch_types.py; how progress shows, in progress.py.

- Items run as tasks on the session's loop thread, at most `concurrency` at a time, and every request still
  waits for its provider's own rate limiter: the effective concurrency is min(concurrency, max_concurrent).
  Retries (429 with Retry-After, connection failures) are the provider's own; `retries` counts them.
- A failed item becomes a BatchError (falsy, shown as "⚠ message") and the others carry on.
- Ctrl-C while waiting cancels what is still running and returns what finished: the result has
  `interrupted=True` and the other items are BatchErrors of kind "NotRun". (It is not re-raised: in a
  notebook that is what keeps the finished answers.)
- Nothing enters the conversation unless `history=True`: then all items are asked with the thread as it was
  before the batch, and each answer becomes a turn, in input order, once the batch is over.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from .batch_types import NOT_RUN, BatchError, BatchResult, Rows, prompts_of
from .errors import InputError, PuterError
from .formats import value_of
from .interpolate import resolve
from .progress import Reporter, Snapshot, State, choose
from .redact import logger
from .sessions import Exchange, Session
from .types import Answer, Completion

__all__ = ["BatchError", "BatchResult", "batch", "interrupted_message", "run", "run_map"]

DEFAULT_CONCURRENCY = 8
TICK = 0.1  # seconds between progress updates, at most


# --- the public function --------------------------------------------------------------------------


def batch(
    prompts: Any,
    rows: Any = None,
    *,
    model: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    system: str | None = None,
    provider: str | None = None,
    temperature: float | None = None,
    max_tokens: int | None = None,
    history: bool = False,
    progress: bool | Reporter = True,
    thread: str | None = None,
    session: Session | None = None,
) -> Any:
    """Ask every prompt (or `prompts` as a template over each of `rows`), `concurrency` at a time.

    Returns a BatchResult (a list of answer texts and BatchErrors, in input order), or a pandas Series on the
    input's index for a Series or DataFrame. See the module docstring for rows, errors, Ctrl-C and history.
    """
    if rows is None:
        if isinstance(prompts, str):
            raise InputError("batch() got one prompt", hint="give a list of prompts, or a template and its rows")
        source, template = Rows.of(prompts), None
    else:
        if not isinstance(prompts, str):
            raise InputError("with rows, the first argument must be a template string", hint="batch('… @{item}', rows)")
        source, template = Rows.of(rows), prompts
    if session is None:
        from .sessions import session as current

        session = current()
    options = dict(model=model, system=system, provider=provider, temperature=temperature, max_tokens=max_tokens)
    result = run(
        session,
        source.labels,
        prompts_of(source, template),
        options=dict(options, history=history, thread=thread),
        concurrency=concurrency,
        reporter=choose(progress),
    )
    return source.shaped(result)


# --- running it -----------------------------------------------------------------------------------


def run(
    session: Session,
    labels: Sequence[Hashable],
    prompts: Sequence[str | PuterError],
    *,
    options: Mapping[str, Any],
    concurrency: int = DEFAULT_CONCURRENCY,
    reporter: Reporter,
    present: Callable[[Answer], Any] = lambda answer: answer.text,
    keep_progress: bool = True,
) -> BatchResult:
    """Prepare every item, send them on the loop thread, and assemble the result in input order.

    Ctrl-C while waiting ends the batch early: the result then has `interrupted=True`.
    """
    if concurrency < 1:
        raise InputError(f"concurrency must be at least 1, not {concurrency}")
    if not prompts:
        return BatchResult()
    # What would fail every item (no model, an unknown provider) fails the batch, before anything is sent.
    session.prepare("?", model=options.get("model"), provider=options.get("provider"), history=False)
    tally = Tally(len(prompts))
    exchanges = _prepare_all(session, prompts, options, tally)
    jobs = [
        (position, session.registry.get(exchange.provider), exchange.request)
        for position, exchange in enumerate(exchanges)
        if exchange is not None
    ]
    reporter.start(tally.snapshot())
    try:
        state = _wait(session, jobs, concurrency, tally, reporter)
    except BaseException:
        reporter.finish(tally.snapshot("interrupted"), keep=keep_progress)
        raise
    result = _assemble(session, labels, prompts, exchanges, tally, present, interrupted=state == "interrupted")
    failed = len(result.errors)  # counts answers that arrived but could not be presented (-f json)
    reporter.finish(dataclasses.replace(tally.snapshot(state), failed=failed), keep=keep_progress)
    return result


def _prepare_all(
    session: Session, prompts: Sequence[str | PuterError], options: Mapping[str, Any], tally: Tally
) -> list[Exchange | None]:
    """Each item's Exchange, or None after counting its failure; when every item fails, the first error is raised."""
    exchanges: list[Exchange | None] = []
    first: PuterError | None = None
    for position, prompt in enumerate(prompts):
        exchange: Exchange | None = None
        if isinstance(prompt, str):
            try:
                exchange = session.prepare(prompt, **options)
            except PuterError as error:
                prompt = error
        if isinstance(prompt, PuterError):
            first = first or prompt
            tally.fail(position, BatchError.of(prompt), attempts=0)
        exchanges.append(exchange)
    if first is not None and all(exchange is None for exchange in exchanges):
        raise first  # nothing to send: most likely the same mistake in every item
    return exchanges


def _wait(
    session: Session, jobs: list[tuple[int, Any, Any]], concurrency: int, tally: Tally, reporter: Reporter
) -> State:
    """Run the jobs on the loop thread; Ctrl-C (cancelled there by LoopThread.run) ends the wait early."""
    try:
        session.loop.run(send_all(jobs, concurrency, tally, reporter))
        return "finished"
    except KeyboardInterrupt:
        return "interrupted"
    finally:
        tally.close()


def _assemble(
    session: Session,
    labels: Sequence[Hashable],
    prompts: Sequence[str | PuterError],
    exchanges: Sequence[Exchange | None],
    tally: Tally,
    present: Callable[[Answer], Any],
    *,
    interrupted: bool,
) -> BatchResult:
    """Answers in input order; with history, each one is recorded now, in that order."""
    values: list[Any] = []
    answers: list[Answer | None] = []
    for position, exchange in enumerate(exchanges):
        completion = tally.completions.get(position)
        if exchange is None or completion is None:
            answers.append(None)
            values.append(tally.failures.get(position, NOT_RUN))
            continue
        answer = session.record(exchange, completion.text, usage=completion.usage, model=completion.model)
        answers.append(answer)
        try:
            values.append(present(answer))
        except PuterError as error:  # e.g. -f json and an answer that is not JSON: the answer is still kept
            values.append(BatchError.of(error))
    shown = [p if isinstance(p, str) else None for p in prompts]
    return BatchResult(
        values,
        labels=labels,
        prompts=shown,
        answers=answers,
        interrupted=interrupted,
        retries=tally.retries if tally.watched else None,
        elapsed=tally.elapsed,
    )


class Tally:
    """What has finished so far: written on the loop thread, read by the caller once the batch is over."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.completions: dict[int, Completion] = {}
        self.failures: dict[int, BatchError] = {}
        self.retries = 0
        self.watched = True  # False once an answer arrived without a counted attempt (not sent through http.py)
        self.cost: float | None = None
        self.started = time.monotonic()
        self.elapsed = 0.0
        self._closed = False
        self._lock = threading.Lock()

    def succeed(self, position: int, completion: Completion, attempts: int) -> None:
        with self._lock:
            if not self._closed:
                self.completions[position] = completion
                self.retries += max(0, attempts - 1)
                self.watched = self.watched and attempts > 0
                if completion.usage.cost_usd is not None:
                    self.cost = (self.cost or 0.0) + completion.usage.cost_usd

    def fail(self, position: int, error: BatchError, attempts: int) -> None:
        with self._lock:
            if not self._closed:
                self.failures[position] = error
                self.retries += max(0, attempts - 1)

    def close(self) -> None:
        """No more writes (a cancelled request that finishes late changes nothing)."""
        with self._lock:
            self._closed = True
            self.elapsed = time.monotonic() - self.started

    def snapshot(self, state: State = "running") -> Snapshot:
        with self._lock:
            elapsed = self.elapsed if self._closed else time.monotonic() - self.started
            done = len(self.completions) + len(self.failures)
            return Snapshot(self.total, done, len(self.failures), self.retries, self.cost, elapsed, state)


# --- on the loop thread ---------------------------------------------------------------------------


async def send_all(jobs: list[tuple[int, Any, Any]], concurrency: int, tally: Tally, reporter: Reporter) -> None:
    """`concurrency` workers take the items in input order; each request also waits for its provider's limiter."""
    queue = iter(jobs)

    async def worker() -> None:
        for position, provider, request in queue:
            await _send_one(position, provider, request, tally)

    workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(jobs)))]
    ticker = asyncio.create_task(_tick(tally, reporter))
    try:
        await asyncio.gather(*workers)
    finally:
        for task in (*workers, ticker):
            task.cancel()
        await asyncio.gather(*workers, ticker, return_exceptions=True)


async def _send_one(position: int, provider: Any, request: Any, tally: Tally) -> None:
    from .http import counting_attempts  # here, not at import: %load_ext imports this module and must stay light

    with counting_attempts() as attempts:
        try:
            completion = await provider.complete(request)
        except Exception as error:  # PuterErrors, and anything unexpected: it belongs to this item, not the batch
            tally.fail(position, BatchError.of(error), attempts[0])
        else:
            tally.succeed(position, completion, attempts[0])


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


# --- %%puter --map --------------------------------------------------------------------------------

_NOT_WITH_MAP = {
    "insert": "--insert",
    "raw": "--raw",
    "thread": "-t/--thread",
    "new": "--new",
}


def run_map(
    session: Session, args: Any, template: str, namespace: Mapping[str, Any], *, fmt: str, terminal: bool
) -> tuple[Any, BatchResult]:
    """`%%puter --map VAR`: the cell is a template over the items of VAR (notebook variables are seen too).

    Returns what -o stores (a BatchResult, or a Series for pandas input) and the BatchResult.
    """
    for name, option in _NOT_WITH_MAP.items():
        if getattr(args, name, None):
            raise InputError(
                f"{option} does not go with --map",
                hint="--map answers are not kept in a thread; use puter_magic.batch(..., history=True) for that",
            )
    source = Rows.of(resolve(args.map, namespace))
    result = run(
        session,
        source.labels,
        prompts_of(source, template, namespace),
        options=dict(
            model=args.model,
            system=args.system,
            provider=args.provider,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            history=False,
        ),
        concurrency=args.concurrency or DEFAULT_CONCURRENCY,
        reporter=choose(True, terminal=terminal),
        present=lambda answer: value_of(answer, fmt),
        keep_progress=bool(args.quiet) or terminal,
    )
    return source.shaped(result), result


def interrupted_message(result: BatchResult, out: str | None) -> str:
    ran = len(result) - len(result.not_run)
    kept = f"the {ran} results are kept in {out}" if out else "add -o VAR to keep the results"
    return f"interrupted after {ran} of {len(result)}; {kept}"
