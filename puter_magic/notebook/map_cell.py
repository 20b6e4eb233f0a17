"""`%%puter --map VAR`: the cell is a template asked once per item of VAR, as a batch (see batches/run.py)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from ..batches.run import DEFAULT_CONCURRENCY, Plan
from ..batches.values import BatchResult, Rows, prompts_of
from ..core.formats import value_of
from ..core.interpolate import resolve
from ..core.sessions import Session
from ..errors import InputError
from .cell_options import request_options
from .progress_bars import choose

_NOT_WITH_MAP = {
    "insert": "--insert",
    "raw": "--raw",
    "thread": "-t/--thread",
    "new": "--new",
}


def map_plan(
    session: Session, args: Any, template: str, namespace: Mapping[str, Any], *, fmt: str, terminal: bool
) -> tuple[Plan, Rows]:
    """The batch a --map cell asks for (notebook variables are seen too), and the rows its result is shaped by."""
    for name, option in _NOT_WITH_MAP.items():
        if getattr(args, name, None):
            raise InputError(
                f"{option} does not go with --map",
                hint="--map answers are not kept in a thread; use puter_magic.batch(..., history=True) for that",
            )
    source = Rows.of(resolve(args.map, namespace))
    options = request_options(args) | {"history": False}
    notes: list[str] = []
    prompts = prompts_of(source, template, namespace, notes)
    if notes:  # one line per kind of cut, however many items it happened to
        unique = list(dict.fromkeys(notes))
        shown = unique[:3] + ([f"… and {len(unique) - 3} more"] if len(unique) > 3 else [])
        print("\n".join(f"note: {note}" for note in shown), file=sys.stderr)
    plan = Plan(
        session,
        source.labels,
        prompts,
        options,
        choose(True, terminal=terminal),
        args.concurrency or DEFAULT_CONCURRENCY,
        present=lambda answer: value_of(answer, fmt),
        keep_progress=bool(args.quiet) or terminal,
    )
    return plan, source


def interrupted_message(result: BatchResult, out: str | None) -> str:
    ran = len(result) - len(result.not_run)
    kept = f"the {ran} results are kept in {out}" if out else "add -o VAR to keep the results"
    return f"interrupted after {ran} of {len(result)}; {kept}"


def dask_map(magics: Any, args: Any, template: str) -> Plan | None:
    """`--map` over a Dask collection (None for anything else): its answers, a lazy collection (batches/cluster.py),
    go to -o VAR — persisted when a distributed Client is up, so the run starts now and its bar shows here. Returns
    the empty Plan the cell runs in the meantime. The template sees the row's fields and, under them, the
    notebook's values it names (shipped with the job: the workers have no notebook)."""
    from ..batches.cluster import current_client, is_dask_collection
    from ..batches.progress import NoProgress
    from .batch_call import batch

    source = resolve(args.map, magics.namespace())
    if not is_dask_collection(source):
        return None
    if not args.out:
        raise InputError("--map over a Dask collection needs -o VAR", hint="%%puter --map ddf -o answers")
    answers = batch(
        template,
        source,
        **request_options(args),
        concurrency=args.concurrency or DEFAULT_CONCURRENCY,
        progress=not args.quiet,
        session=magics.session,
        namespace=magics.namespace(),
    )
    if current_client() is not None:
        answers = answers.persist()
    magics.namespace()[args.out] = answers
    return Plan(magics.session, [], [], {}, NoProgress())
