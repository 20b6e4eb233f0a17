"""`puter_magic.batch()`: the public face of a batch — rows in, a BatchResult (or pandas Series) out.

It picks the progress view (notebook/progress_bars.py: a widget in a kernel, a line on stderr elsewhere) and
hands the plan to batches/run.py, which does the asking; the module docstring there says how.
"""

from __future__ import annotations

from typing import Any

from ..batches.progress import Reporter
from ..batches.run import DEFAULT_CONCURRENCY, Plan, run
from ..batches.values import Rows, prompts_of
from ..core.sessions import Session
from ..errors import InputError
from .progress_bars import choose


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
        from ..core.sessions import session as current

        session = current()
    options = dict(model=model, system=system, provider=provider, temperature=temperature, max_tokens=max_tokens)
    options = dict(options, history=history, thread=thread)
    plan = Plan(session, source.labels, prompts_of(source, template), options, choose(progress), concurrency)
    return source.shaped(run(plan))
