"""What runs on a Dask worker: one partition of a cluster batch (cluster.py builds the graph).

Each worker process makes one Session, on first use, from the settings the kernel shipped once through the
client (a WorkerPlugin: they are never in the task graph) or else from its own environment and credentials
file, and shares its provider's limits with the cluster (shared_limits.py). A partition is then an in-process
batch (run.py) over its rows, with its checkpoint (checkpoints.py) read first and written as rows finish.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..core.reply import Reply
from ..core.sessions import Session
from ..core.structured import Wanted
from ..errors import ConfigurationError, PuterError
from ..redact import register_secret
from .checkpoints import Outcome, PartitionCheckpoint, partition_key
from .cluster_progress import Offset, PartitionReporter
from .cluster_schema import fields_frame
from .run import Plan, run
from .values import BatchError, Rows, prompts_of

try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # Dask without distributed: settings stay in this process (_shipped_here)
    WorkerPlugin = object  # type: ignore[assignment,misc]

PLUGIN_PREFIX = "puter-magic-settings-"


@dataclass(frozen=True)
class Job:
    """Everything a partition needs, and nothing secret: this is pickled into the task graph."""

    template: str | None
    options: Mapping[str, Any]  # model, system, provider, temperature, max_tokens
    concurrency: int
    topic: str  # where progress goes
    settings: str | None = None  # the name of the shipped settings; None: the worker's environment
    checkpoint: str | None = None  # the checkpoint folder
    shape: str = "frame"  # "frame" (answer and error columns) or "values" (a Bag's items)
    wanted: Wanted | None = None  # schema=: its type travels by value (cloudpickle), fields become columns
    around: Mapping[str, Any] | None = None  # the notebook's values the template names beyond the row's fields


class SettingsPlugin(WorkerPlugin):
    """Carries Settings to every worker, the ones that join later included (a replacement for a lost one)."""

    idempotent = True  # its name is a hash of the settings: registered once, however many batches use them

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def setup(self, worker: Any) -> None:
        register_secret(self.settings.token)


_shipped_here: dict[str, Settings] = {}  # without distributed, the "workers" are this process's threads
_sessions: dict[str | None, Session] = {}
_sessions_lock = threading.Lock()


def current_worker() -> Any:
    """The distributed Worker running this task, or None (Dask's own schedulers)."""
    try:
        from distributed import get_worker
    except ImportError:
        return None
    try:
        return get_worker()
    except ValueError:
        return None


def worker_session(name: str | None, worker: Any) -> Session:
    """This process's Session for the settings called `name` (None: the environment's), made once."""
    with _sessions_lock:
        session = _sessions.get(name)
        if session is None:
            session = _sessions[name] = Session(_settings(name, worker))
            if worker is not None:
                from .shared_limits import share

                provider = session.registry.get("puter")
                share(getattr(provider, "limiter", None), worker, session.settings.api_origin)
        return session


def _settings(name: str | None, worker: Any) -> Settings:
    if name is None:
        return Settings.load()
    plugin = worker.plugins.get(name) if worker is not None else None
    settings = plugin.settings if plugin is not None else _shipped_here.get(name)
    if settings is None:
        raise ConfigurationError(
            "the batch's settings did not reach this Dask worker",
            hint="run puter_magic.batch() again with the same client, or set PUTER_TOKEN in the workers' environment",
        )
    return settings


def answer_partition(part: Any, job: Job, partition_info: Mapping[str, Any] | None = None) -> Any:
    """One partition's answers in its rows' order: a frame (answer, error; with a schema its fields, error) on its
    index, or a list of values."""
    number = int(partition_info["number"]) if partition_info else 0
    rows = Rows.of(part)
    prompts = prompts_of(rows, job.template, job.around)
    worker = current_worker()
    checkpoint = (
        PartitionCheckpoint(job.checkpoint, number, partition_key(prompts, job.options, job.wanted))
        if job.checkpoint
        else None
    )
    outcomes = _answer(rows, prompts, job, number, checkpoint, worker)
    return _shaped(rows, outcomes, job)


def _answer(
    rows: Rows,
    prompts: Sequence[str | PuterError],
    job: Job,
    number: int,
    checkpoint: PartitionCheckpoint | None,
    worker: Any,
) -> list[Outcome]:
    done = checkpoint.finished() if checkpoint is not None else None
    if done is not None and len(done) == len(prompts):
        failed = sum(1 for o in done if o.error is not None)
        PartitionReporter(job.topic, number, len(prompts), Offset(), worker).skipped(len(done), failed)
        return done
    known = checkpoint.partial() if checkpoint is not None else {}
    todo = [position for position in range(len(prompts)) if position not in known]
    offset = Offset(len(known), sum(1 for o in known.values() if o.error is not None))
    reporter = PartitionReporter(job.topic, number, len(prompts), offset, worker)
    outcomes: dict[int, Outcome] = dict(known)
    if todo:
        session = worker_session(job.settings, worker)

        def finished(index: int, result: Reply | BatchError) -> None:
            if checkpoint is not None:
                checkpoint.record(todo[index], _outcome(result))

        labels: list[Hashable] = [rows.labels[p] for p in todo]
        plan = Plan(
            session,
            labels,
            [prompts[p] for p in todo],
            dict(job.options, history=False, schema=job.wanted),
            reporter,
            job.concurrency,
            on_item=finished,
        )
        result = run(plan)
        if result.interrupted:
            raise RuntimeError(f"partition {number} was interrupted")
        for position, value in zip(todo, result, strict=True):
            outcomes[position] = _outcome(value)
    else:
        reporter.skipped(offset.done, offset.failed)
    ordered = [outcomes[position] for position in range(len(prompts))]
    if checkpoint is not None:
        checkpoint.finish(ordered)
    return ordered


def _outcome(result: Reply | BatchError | str) -> Outcome:
    if isinstance(result, BatchError):
        return Outcome(error=result.message, kind=result.kind)
    if isinstance(result, Reply):
        return Outcome(answer=result.answer().text)
    return Outcome(answer=result)


def _shaped(rows: Rows, outcomes: list[Outcome], job: Job) -> Any:
    if job.shape == "values":
        if job.wanted is not None:
            return [
                job.wanted.read(o.answer or "") if o.error is None else BatchError(o.error, o.kind or "Error")
                for o in outcomes
            ]
        return [o.answer if o.error is None else BatchError(o.error, o.kind or "Error") for o in outcomes]
    if job.wanted is not None:
        return fields_frame(outcomes, job.wanted, rows.index)
    import pandas

    return pandas.DataFrame(
        {
            "answer": pandas.array([o.answer for o in outcomes], dtype="string"),
            "error": pandas.array([o.error for o in outcomes], dtype="string"),
        },
        index=rows.index,
    )
