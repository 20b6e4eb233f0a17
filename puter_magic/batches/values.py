"""The values of a batch: the rows that go in and what comes back. Pure (standard library and puter_magic only).

Rows: a list, tuple or any iterable (each row is `@{item}`, its label `@{index}`); a mapping row (a dict, a
DataFrame row) is itself the namespace (`@{title}`, also `@{row.title}` and `@{row['a column']}`); a dict's entries
are `@{key}` and `@{value}`. pandas is only looked at when the input already is a pandas object.

What comes back: a BatchResult, a list of values in input order where a failed item is a BatchError (falsy, shown as
"⚠ message"); `errors`, `not_run`, `ok`, `usage`, `retries`, `interrupted` say what happened.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections import ChainMap
from collections.abc import Hashable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from ..core.formats import money
from ..core.interpolate import interpolate, render
from ..datatypes import Answer, Usage
from ..errors import InputError, PuterError

SHOWN_ROWS = 20  # rows of the table a result shows

# --- what comes back ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchError:
    """An item that failed (or, `kind == "NotRun"`, never ran): falsy, and shown as "⚠ message"."""

    message: str
    kind: str

    @classmethod
    def of(cls, error: BaseException) -> BatchError:
        if isinstance(error, PuterError):
            return cls(error.one_line(), type(error).__name__)
        return cls(" ".join(str(error).split()) or type(error).__name__, type(error).__name__)

    @property
    def not_run(self) -> bool:
        return self.kind == "NotRun"

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return f"⚠ {self.message}"


NOT_RUN = BatchError("not run: the batch was interrupted", "NotRun")


class BatchResult(list[Any]):
    """The values in input order (answer text, or a BatchError), with what happened on the way."""

    def __init__(
        self,
        values: Iterable[Any] = (),
        *,
        labels: Sequence[Hashable] | None = None,
        prompts: Sequence[str | None] | None = None,
        answers: Sequence[Answer | None] | None = None,
        interrupted: bool = False,
        retries: int | None = 0,
        elapsed: float = 0.0,
    ) -> None:
        super().__init__(values)
        self.labels: list[Hashable] = list(labels) if labels is not None else list(range(len(self)))
        self.prompts: list[str | None] = list(prompts) if prompts is not None else [None] * len(self)
        self.answers: list[Answer | None] = list(answers) if answers is not None else [None] * len(self)
        self.interrupted = interrupted
        self.retries = retries  # None when the provider's requests could not be watched
        self.elapsed = elapsed

    @property
    def errors(self) -> dict[Hashable, BatchError]:
        """The items that failed, by label (those an interruption stopped are in `not_run`)."""
        return {k: v for k, v in zip(self.labels, self, strict=False) if isinstance(v, BatchError) and not v.not_run}

    @property
    def not_run(self) -> list[Hashable]:
        return [k for k, v in zip(self.labels, self, strict=False) if isinstance(v, BatchError) and v.not_run]

    @property
    def ok(self) -> bool:
        """Every item was answered."""
        return not any(isinstance(v, BatchError) for v in self)

    @property
    def usage(self) -> Usage:
        """Tokens and cost of all the answers, as far as the provider reported them."""
        found = [a.usage for a in self.answers if a is not None]
        costs = [u.cost_usd for u in found if u.cost_usd is not None]
        return Usage(
            sum(u.input_tokens or 0 for u in found),
            sum(u.output_tokens or 0 for u in found),
            sum(costs) if costs else None,
        )

    def to_dict(self) -> dict[Hashable, Any]:
        return dict(zip(self.labels, self, strict=False))

    def summary(self) -> str:
        """`18 answered · 1 failed · 1 not run (interrupted) · 2 retries · $0.0012` (no timings: it is saved)."""
        failed, not_run = len(self.errors), len(self.not_run)
        parts = [f"{len(self) - failed - not_run} answered"]
        if failed:
            parts.append(f"{failed} failed")
        if not_run:
            parts.append(f"{not_run} not run (interrupted)")
        if self.retries:
            parts.append(f"{self.retries} {'retry' if self.retries == 1 else 'retries'}")
        cost = self.usage.cost_usd
        if cost:
            parts.append(money(cost))
        return " · ".join(parts)

    def _rows(self) -> list[tuple[str, str, str]]:
        rows = [
            (str(k), _short(p or "", 40), _short(v, 80))
            for k, p, v in zip(self.labels, self.prompts, self, strict=False)
        ]
        if len(rows) > SHOWN_ROWS:
            rows = [*rows[:SHOWN_ROWS], ("…", "", f"and {len(rows) - SHOWN_ROWS} more")]
        return rows

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        rows = self._rows()
        table = ["| # | prompt | answer |", "|---|---|---|"]
        table += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
        markdown = f"{self.summary()}\n\n" + "\n".join(table) if rows else self.summary()
        return {"text/markdown": markdown, "text/plain": repr(self)}

    def __repr__(self) -> str:
        rows = self._rows()
        width = max((len(row[0]) for row in rows), default=0)
        lines = [f"BatchResult: {self.summary()}"]
        lines += [f"  {k:>{width}}  {v}" for k, _, v in rows]
        return "\n".join(lines)


def _short(value: Any, limit: int) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, BatchError):
        text = str(value)
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = render(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- what goes in ---------------------------------------------------------------------------------


class Row(dict[Any, Any]):
    """A mapping row whose keys are also attributes: `@{row.title}`, `@{row['a column']}`."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass(frozen=True)
class Rows:
    """The input, flattened: one label and one value per item; `index` is a pandas input's index."""

    labels: list[Hashable]
    values: list[Any]
    kind: str  # "list", "dict", "series" or "frame"
    index: Any = None

    @classmethod
    def of(cls, source: Any) -> Rows:
        pandas = _pandas_of(source)
        if pandas is not None and isinstance(source, pandas.DataFrame):
            columns = list(source.columns)
            values = [Row(zip(columns, row, strict=True)) for row in source.itertuples(index=False, name=None)]
            return cls(list(source.index), values, "frame", source.index)
        if pandas is not None and isinstance(source, pandas.Series):
            return cls(list(source.index), list(source), "series", source.index)
        if isinstance(source, Mapping):
            return cls(list(source), list(source.values()), "dict")
        if isinstance(source, (str, bytes)) or not isinstance(source, Iterable):
            raise InputError(
                f"cannot run a batch over a {type(source).__name__}",
                hint="give a list (or tuple, dict, Series, DataFrame) of prompts, or a template and such rows",
            )
        values = list(source)
        return cls(list(range(len(values))), values, "list")

    def namespace(self, position: int) -> Mapping[str, Any]:
        """What a template's `@{…}` see for one item."""
        label, value = self.labels[position], self.values[position]
        if self.kind == "dict":
            return {"key": label, "value": value, "item": value, "row": value, "index": position}
        if isinstance(value, Mapping):
            row = value if isinstance(value, Row) else Row(value)
            return ChainMap(row, {"row": row, "index": label})
        return {"item": value, "row": value, "index": label}

    def prompt(self, position: int) -> str:
        """An item used as the prompt itself (no template)."""
        if self.kind == "frame":
            raise InputError("a DataFrame needs a template", hint="batch('… @{column} …', df)")
        return render(self.values[position])

    def shaped(self, result: BatchResult, *, fields: bool = False) -> Any:
        """A pandas input gets a Series on its own index (with `fields`, a DataFrame input gets a DataFrame of the
        answers' fields: structured answers); anything else the BatchResult."""
        if self.index is None:
            return result
        pandas = sys.modules["pandas"]  # the input is a pandas object: pandas is imported
        if fields and self.kind == "frame":
            return fields_frame(pandas, result, self.index)
        return pandas.Series(list(result), index=self.index, dtype=object)


def fields_frame(pandas: Any, result: BatchResult, index: Any) -> Any:
    """One row per input row, a column per field of the typed answers (dataclasses, pydantic models, dicts); a
    failed row has no fields, and its error in an `error` column (there only when some row failed)."""
    records = [{} if isinstance(value, BatchError) else record_of(value) for value in result]
    frame = pandas.DataFrame.from_records(records, index=index)
    if any(isinstance(value, BatchError) for value in result):
        frame["error"] = [str(value) if isinstance(value, BatchError) else None for value in result]
    frame.attrs["batch"] = result  # retries, usage, interrupted…
    return frame


def record_of(value: Any) -> dict[str, Any]:
    """A typed answer's fields, their values as they are (a list answer is one `value`)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    model_fields = getattr(type(value), "model_fields", None)  # a pydantic model
    if isinstance(model_fields, dict):
        return {name: getattr(value, name) for name in model_fields}
    return dict(value) if isinstance(value, Mapping) else {"value": value}


def _layers(*maps: Mapping[str, Any]) -> Mapping[str, Any]:
    """Look up in each map in turn, copying none (a notebook's namespace can be large)."""
    return ChainMap(*(cast("MutableMapping[str, Any]", m) for m in maps))


def _pandas_of(source: Any) -> Any:
    """The pandas module when `source` is a pandas object (never imports pandas otherwise)."""
    if "pandas" not in sys.modules or not type(source).__module__.startswith("pandas"):
        return None
    return sys.modules["pandas"]


def prompts_of(
    rows: Rows, template: str | None, around: Mapping[str, Any] | None = None, notes: list[str] | None = None
) -> list[str | PuterError]:
    """Each item's prompt, or the error that kept it from being one; `notes` gets a line per value cut to fit."""
    prompts: list[str | PuterError] = []
    for position in range(len(rows.values)):
        try:
            if template is None:
                prompts.append(rows.prompt(position))
            else:
                namespace = rows.namespace(position)
                scope = _layers(namespace, around) if around else namespace
                prompts.append(interpolate(template, scope, notes=notes))
        except PuterError as error:
            prompts.append(error)
    return prompts
