"""`puter_magic.batch()`: the public face of a batch — rows in, a BatchResult (or pandas Series) out.

It picks the progress view (notebook/progress_bars.py: a widget in a kernel, a line on stderr elsewhere) and
hands the plan to batches/run.py, which does the asking; the module docstring there says how. Rows that are a
Dask collection go to batches/cluster.py instead: the result is a lazy collection answered on the cluster.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..batches.progress import Reporter
from ..batches.run import DEFAULT_CONCURRENCY, Plan, run
from ..batches.values import Rows, prompts_of
from ..config import Settings
from ..core.sessions import Session
from ..core.structured import Wanted
from ..errors import InputError
from .progress_bars import choose

DASK_ONLY = {"checkpoint": "checkpoint=", "settings": "settings="}


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
    checkpoint: str | os.PathLike[str] | None = None,
    settings: Settings | None = None,
    schema: Any = None,
    namespace: Mapping[str, Any] | None = None,
) -> Any:
    """Ask every prompt (or `prompts` as a template over each of `rows`), `concurrency` at a time.

    Returns a BatchResult (a list of answer texts and BatchErrors, in input order), or a pandas Series on the
    input's index for a Series or DataFrame. See the module docstring for rows, errors, Ctrl-C and history.

    Over a Dask DataFrame, Series or Bag: a lazy Dask collection of the answers (batches/cluster.py), resumable
    from the `checkpoint` folder; `settings` (or the session's) are shipped to the workers once, outside the
    task graph, and without either the workers read their own environment.

    With `schema=Person` (a dataclass, TypedDict, pydantic model, `list[…]` of one, or a JSON-schema dict) each
    answer is asked for as JSON that fits it (core/structured.py: checked, asked again once) and comes back as that
    type; a row that never fits is a BatchError. A DataFrame input then gets a DataFrame of the fields, on its index
    (an `error` column when a row failed; the BatchResult in `.attrs["batch"]`). Over a Dask DataFrame or Series:
    a lazy DataFrame with a typed column per field and `error`; over a Bag, a Bag of the typed values.

    A template sees each row's fields and, under them, `namespace` (say `globals()`; the %%puter --map cell passes
    the notebook's): on a cluster only the values the template names go to the workers.
    """
    from ..batches.cluster import is_dask_collection

    source = prompts if rows is None else rows
    if is_dask_collection(source):
        template = None if rows is None else prompts
        if history or thread is not None:
            raise InputError("a batch on a Dask cluster keeps no history", hint="leave out history= and thread=")
        return _on_cluster(
            template,
            source,
            model,
            concurrency,
            system,
            provider,
            temperature,
            max_tokens,
            progress,
            session,
            checkpoint,
            settings,
            schema,
            namespace,
        )
    for name, option in DASK_ONLY.items():
        if locals()[name] is not None:
            raise InputError(f"{option} is for a Dask collection", hint="give a Dask DataFrame, Series or Bag")
    if rows is None:
        if isinstance(prompts, str):
            raise InputError("batch() got one prompt", hint="give a list of prompts, or a template and its rows")
        source, template = Rows.of(prompts), None
    else:
        if not isinstance(prompts, str):
            raise InputError("with rows, the first argument must be a template string", hint="batch('… @{item}', rows)")
        source, template = Rows.of(rows), prompts
    if session is None:
        from ..core.sessions import session as current

        session = current()
    options: dict[str, Any] = dict(
        model=model, system=system, provider=provider, temperature=temperature, max_tokens=max_tokens
    )
    options = dict(options, history=history, thread=thread)
    present: Any = {}
    if schema is not None:
        wanted = Wanted.of(schema)  # a schema that cannot be described fails here, before anything is sent
        options["schema"] = wanted
        present = {"present": lambda answer: wanted.read(answer.text)}  # the text has been checked already
    prompts = prompts_of(source, template, namespace)
    plan = Plan(session, source.labels, prompts, options, choose(progress), concurrency, **present)
    return source.shaped(run(plan), fields=schema is not None)


def _on_cluster(
    template: Any,
    collection: Any,
    model: str | None,
    concurrency: int,
    system: str | None,
    provider: str | None,
    temperature: float | None,
    max_tokens: int | None,
    progress: bool | Reporter,
    session: Session | None,
    checkpoint: str | os.PathLike[str] | None,
    settings: Settings | None,
    schema: Any,
    namespace: Mapping[str, Any] | None,
) -> Any:
    """The kernel's model and provider go with the job (the workers have no notebook state)."""
    from ..batches.cluster import cluster_batch

    if template is not None and not isinstance(template, str):
        raise InputError("with rows, the first argument must be a template string", hint="batch('… @{item}', ddf)")
    if session is None:
        from ..core.sessions import session as current

        kernel = current()
    else:
        kernel = session
        settings = settings or session.settings
    if provider is None and kernel.provider_name != "puter":  # the workers know presets and URLs, not names
        provider = getattr(kernel.provider, "base_url", kernel.provider_name)
    if model is None and (provider is None or provider == kernel.provider_name):
        model = kernel.model
    if not model:
        raise InputError("no model chosen", hint="pass model=…, or pick one with `%puter model NAME`")
    options = dict(model=model, system=system, provider=provider, temperature=temperature, max_tokens=max_tokens)
    return cluster_batch(
        template,
        collection,
        options={k: v for k, v in options.items() if v is not None},
        concurrency=concurrency,
        settings=settings,
        checkpoint=checkpoint,
        progress=None if progress is False else (lambda link: choose(progress, link=link)),
        schema=schema,
        namespace=namespace,
    )
