"""`batch()` over a Dask DataFrame, Series or Bag: a lazy collection of the same partitions, each answered by
the in-process batch (run.py) on whichever Dask worker runs it (cluster_worker.py).

    labels = puter_magic.batch("Label in one word: @{title}", ddf)     # lazy: columns answer and error
    ddf.assign(label=labels.answer).to_parquet("out/")                 # runs on the cluster

- Nothing is sent until Dask computes it: `.compute()`, `.persist()`, `.to_parquet()`, any Client.
- The graph holds the template (with the notebook values it names), the options and the name of the settings,
  never a token: explicit Settings are shipped once through the client as a WorkerPlugin (so a worker that joins
  later gets them too); without them each worker reads its own environment and credentials file, as a kernel
  would.
- The provider's limits hold for the whole cluster (shared_limits.py); `concurrency` is per partition running.
- `checkpoint=` (a folder every worker can write) makes a run resumable (checkpoints.py).
- Progress: one bar in the kernel for the whole run (cluster_progress.py), with Dask's dashboard link.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from ..config import Settings
from ..core.structured import Wanted
from ..errors import InputError
from .cluster_progress import ClusterProgress, listen_locally
from .cluster_schema import fields_meta
from .cluster_worker import PLUGIN_PREFIX, Job, SettingsPlugin, _shipped_here, answer_partition
from .progress import Reporter

ReporterFor = Callable[[str | None], Reporter]  # the dashboard's link (None: no dashboard) → a progress view


def is_dask_collection(value: Any) -> bool:
    """A Dask DataFrame, Series or Bag (looked at without importing Dask)."""
    return type(value).__module__.startswith("dask.") and hasattr(value, "__dask_graph__")


def cluster_batch(
    template: str | None,
    collection: Any,
    *,
    options: Mapping[str, Any],
    concurrency: int,
    settings: Settings | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    progress: ReporterFor | None = None,
    schema: Any = None,
    namespace: Mapping[str, Any] | None = None,
) -> Any:
    """The lazy collection of answers: for a DataFrame or Series, a DataFrame with the string columns `answer`
    (missing where the row failed) and `error` (the one-line error, missing where it was answered), on the
    input's partitions and index; for a Bag, a Bag of answers and BatchErrors. With `schema`, the answers are
    its typed values, and a frame has a typed column per field instead of `answer` (cluster_schema.py)."""
    if concurrency < 1:
        raise InputError(f"concurrency must be at least 1, not {concurrency}")
    shape = _shape(collection, template)
    wanted = Wanted.of(schema) if schema is not None else None  # one that cannot be described fails here
    client = current_client()
    job = Job(
        template,
        dict(options),
        concurrency,
        topic=f"puter-magic-progress-{uuid.uuid4().hex}",
        settings=_ship(settings, client) if settings is not None else None,
        checkpoint=os.fspath(checkpoint) if checkpoint is not None else None,
        shape=shape,
        wanted=wanted,
        around=_named_in(template, namespace, collection) if template and namespace else None,
    )
    if progress is not None:
        link = _dashboard(client)
        watcher = ClusterProgress(collection.npartitions, lambda: progress(link))
        if client is not None:
            client.subscribe_topic(job.topic, watcher.on_event)
        else:
            listen_locally(job.topic, watcher)
    if shape == "values":
        return _over_bag(collection, job)
    meta = answers_meta() if wanted is None else fields_meta(wanted)
    return collection.map_partitions(answer_partition, job, meta=meta, enforce_metadata=False)


def _named_in(template: str, namespace: Mapping[str, Any], collection: Any) -> dict[str, Any] | None:
    """What of `namespace` the template names beyond the row's fields: these values (and IPython's `In`, for
    `@{cell:N}`) go into the graph, not the whole namespace."""
    from ..core.interpolate import references

    paths = references(template)
    columns = set(getattr(collection, "columns", ()))
    wanted = {re.split(r"[.\[]", path, maxsplit=1)[0] for path in paths}
    if any(path.startswith(("cell:", "cells:")) for path in paths):
        wanted.add("In")
    found = {name: namespace[name] for name in sorted(wanted - columns) if name in namespace}
    return found or None


def answers_meta() -> Any:
    import pandas

    return pandas.DataFrame({"answer": pandas.array([], dtype="string"), "error": pandas.array([], dtype="string")})


def _shape(collection: Any, template: str | None) -> str:
    import dask.bag
    import dask.dataframe

    if isinstance(collection, dask.bag.Bag):
        return "values"
    if isinstance(collection, dask.dataframe.DataFrame):
        if template is None:
            raise InputError("a DataFrame needs a template", hint="batch('… @{column} …', ddf)")
        return "frame"
    if isinstance(collection, dask.dataframe.Series):
        return "frame"
    raise InputError(
        f"cannot run a batch over a Dask {type(collection).__name__}",
        hint="give a Dask DataFrame, Series or Bag",
    )


def _over_bag(bag: Any, job: Job) -> Any:
    """A Bag has no partition_info: each partition is told its number through the graph instead."""
    from dask.bag import from_delayed
    from dask.delayed import delayed

    parts = bag.to_delayed()
    answered = [delayed(answer_partition)(part, job, {"number": n}) for n, part in enumerate(parts)]
    return from_delayed(answered)  # type: ignore[no-untyped-call]


def current_client() -> Any:
    """The distributed Client in use, or None (Dask's own threads or processes)."""
    try:
        from distributed import get_client
    except ImportError:
        return None
    try:
        return get_client()
    except ValueError:
        return None


def _ship(settings: Settings, client: Any) -> str:
    """Hand the settings to every worker, once, outside the task graph; returns the name the graph carries."""
    text = repr([(f.name, getattr(settings, f.name)) for f in fields(settings) if f.name != "sources"])
    name = PLUGIN_PREFIX + hashlib.sha256(text.encode()).hexdigest()[:16]
    if client is None:
        _shipped_here[name] = settings
    else:
        client.register_plugin(SettingsPlugin(settings), name=name)
    return name


def _dashboard(client: Any) -> str | None:
    if client is None:
        return None
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        link: str = client.dashboard_link
    except Exception:  # no dashboard is no reason to stop a batch
        return None
    return link
