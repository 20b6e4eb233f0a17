"""Notebook objects as prompt text that fits a budget: DataFrames summarised, long values cut with a marker.

    @{df}            a pandas or polars DataFrame / Series: shape, dtypes, the first and last rows, describe(),
                     as compact Markdown tables
    @{df:rows=50}    the same with 50 sample rows (25 first, 25 last)
    @{df:full}       every row, when the whole table fits the budget (else the summary, and a note says why)
    @{cell:3}        the source of cell In[3];   @{cells:3-7}  cells 3 to 7, each under its number
    @{file:a.py}     a text file (relative to the working directory)

Anything else renders as before (core/interpolate.py's `render`), and text longer than the budget is cut with a
marker that says how much is missing. Whatever was cut is also said in a one-line `note`, for the cell to show.
DataFrames are recognised by their type's module, so neither pandas nor polars is imported here.

Pure: standard library only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError

BUDGET = 12_000  # characters per reference (about 3,000 tokens)
SAMPLE_ROWS = 10  # rows shown by default: half from the head, half from the tail
CELL_WIDTH = 40  # characters per table cell
DESCRIBE_ROWS = 200_000  # describe() of a larger frame runs on its first rows (said in the note)
ROWS_SPEC = re.compile(r"rows=(\d{1,9})")


@dataclass(frozen=True, slots=True)
class Rendered:
    """A value's prompt text, and a one-line note of what was left out (None: nothing was)."""

    text: str
    note: str | None = None


def render_value(value: Any, spec: str | None, budget: int, fallback: Callable[[Any], str]) -> Rendered:
    """`value` as prompt text within `budget` characters; `spec` is what followed a colon (`rows=50`, `full`)."""
    if _is_frame(value):
        return _frame(value, spec, budget)
    if spec is not None:
        raise InputError(f"`:{spec}` applies to DataFrames and Series, not to {type(value).__name__}")
    if isinstance(value, (list, tuple, dict)) and not hasattr(value, "_fields"):
        return _container(value, budget, fallback)
    return cut(fallback(value), budget)


def cut(text: str, budget: int, what: str = "characters") -> Rendered:
    """`text`, or its beginning with a marker saying how much was cut."""
    if len(text) <= budget:
        return Rendered(text)
    missing = len(text) - budget
    return Rendered(f"{text[:budget]}\n… [{missing:,} more {what} cut]", f"cut {missing:,} of {len(text):,} {what}")


def _container(value: Any, budget: int, fallback: Callable[[Any], str]) -> Rendered:
    text = fallback(value)
    if len(text) <= budget:
        return Rendered(text)
    items = list(value.items()) if isinstance(value, dict) else list(value)
    low, high = 0, len(items)  # the most items whose rendering fits
    while low < high:
        middle = (low + high + 1) // 2
        part = dict(items[:middle]) if isinstance(value, dict) else items[:middle]
        if len(fallback(part)) <= budget:
            low = middle
        else:
            high = middle - 1
    if low == 0:
        return cut(text, budget)
    part = dict(items[:low]) if isinstance(value, dict) else items[:low]
    kind = "entries" if isinstance(value, dict) else "items"
    shown = f"{fallback(part)}\n… [{len(items) - low:,} more {kind} cut]"
    return Rendered(shown, f"showed {low:,} of {len(items):,} {kind}")


# --- DataFrames and Series ----------------------------------------------------------------------------------


def _is_frame(value: Any) -> bool:
    module = type(value).__module__
    return module.split(".")[0] in ("pandas", "polars") and type(value).__name__ in ("DataFrame", "Series")


def _frame(value: Any, spec: str | None, budget: int) -> Rendered:
    rows = SAMPLE_ROWS
    if spec is not None and spec != "full":
        found = ROWS_SPEC.fullmatch(spec)
        if not found:
            raise InputError(f"unknown option `:{spec}`", hint="use `:rows=N` or `:full`")
        rows = int(found.group(1))
    table = _Table.of(value)
    if spec == "full":
        whole = table.header() + "\n\n" + markdown(table.columns, table.rows(0, table.length))
        if len(whole) <= budget:
            return Rendered(whole)
        summary = _summary(table, rows, budget)
        note = f"all {table.length:,} rows are {len(whole):,} characters, over the budget of {budget:,}: summarised"
        return Rendered(summary.text, note)
    return _summary(table, rows, budget)


def _summary(table: _Table, rows: int, budget: int) -> Rendered:
    notes = []
    head = min(table.length, (rows + 1) // 2)
    tail = min(table.length - head, rows // 2)
    sample = table.rows(0, head) + ([["…"] * len(table.columns)] if head + tail < table.length else [])
    sample += table.rows(table.length - tail, table.length) if tail else []
    parts = [table.header(), f"First {head} and last {tail} rows:\n" + markdown(table.columns, sample)]
    if head + tail < table.length:
        notes.append(f"{head + tail:,} of {table.length:,} rows shown")
    described = table.describe()
    if described is not None:
        parts.append("describe():\n" + markdown(*described))
        if table.length > DESCRIBE_ROWS:
            notes.append(f"describe() of the first {DESCRIBE_ROWS:,} rows")
    rendered = cut("\n\n".join(parts), budget)
    notes += [rendered.note] if rendered.note else []
    return Rendered(rendered.text, "; ".join(notes) or None)


class _Table:
    """The few operations needed on a pandas or polars DataFrame or Series, whichever it is."""

    def __init__(self, frame: Any, polars: bool, series: bool) -> None:
        self.frame, self.polars, self.series = frame, polars, series
        self.length = len(frame)
        if series:
            self.columns = [str(frame.name) if frame.name is not None else "value"]
        else:
            self.columns = [str(c) for c in frame.columns]

    @classmethod
    def of(cls, value: Any) -> _Table:
        return cls(value, type(value).__module__.startswith("polars"), type(value).__name__ == "Series")

    def header(self) -> str:
        kind = "Series" if self.series else "DataFrame"
        if self.series:
            return f"{kind} {self.columns[0]!r}: {self.length:,} values, dtype {self.frame.dtype}"
        if self.polars:
            types = ", ".join(f"{name}: {kind_}" for name, kind_ in self.frame.schema.items())
        else:
            types = ", ".join(f"{name}: {kind_}" for name, kind_ in self.frame.dtypes.items())
        return f"{kind}: {self.length:,} rows × {len(self.columns)} columns ({types})"

    def rows(self, start: int, stop: int) -> list[list[str]]:
        if stop <= start:
            return []
        part = self.frame[start:stop] if self.polars else self.frame.iloc[start:stop]
        if self.series:
            return [[_cell(v)] for v in part.to_list()]
        if self.polars:
            return [[_cell(v) for v in row] for row in part.rows()]
        return [[_cell(v) for v in row] for row in part.itertuples(index=False, name=None)]

    def describe(self) -> tuple[list[str], list[list[str]]] | None:
        try:
            part = self.frame[:DESCRIBE_ROWS] if self.polars else self.frame.iloc[:DESCRIBE_ROWS]
            described = part.describe()
        except Exception:  # a frame of objects pandas cannot describe
            return None
        if self.polars:
            columns = [str(c) for c in described.columns]
            return columns, [[_cell(v) for v in row] for row in described.rows()]
        if self.series:
            return ["", self.columns[0]], [[str(k), _cell(v)] for k, v in described.items()]
        columns = ["", *(str(c) for c in described.columns)]
        body = described.itertuples(index=True, name=None)
        return columns, [[str(row[0]), *(_cell(v) for v in row[1:])] for row in body]


def _cell(value: Any) -> str:
    text = f"{value:.6g}" if isinstance(value, float) else str(value)
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 1] + "…"


def markdown(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A compact Markdown table (cells already text)."""
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# --- cells and files ----------------------------------------------------------------------------------------


def render_source(kind: str, argument: str, namespace: Mapping[str, Any], budget: int) -> Rendered:
    """`@{cell:N}`, `@{cells:A-B}` (IPython's `In` list in `namespace`) or `@{file:PATH}` as text in the budget."""
    if kind == "file":
        path = Path(argument).expanduser()
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError as error:
            raise InputError(f"cannot read @{{file:{argument}}}: {error.strerror or error}") from None
        return cut(f"{argument}:\n```\n{text}\n```", budget)
    history = namespace.get("In")
    if not isinstance(history, list):
        raise InputError(f"@{{{kind}:{argument}}} needs IPython's cell history (In)", hint="use it in a notebook")
    first, _, last = argument.partition("-")
    numbers = range(int(first), int(last or first) + 1)
    missing = [n for n in numbers if not 0 < n < len(history)]
    if missing or not numbers:
        raise InputError(f"there is no cell In[{missing[0] if missing else argument}]", hint="check the number")
    text = "\n\n".join(f"In [{n}]:\n```python\n{history[n]}\n```" for n in numbers)
    return cut(text, budget)
