"""Typed columns for a cluster batch with `schema=`: the Dask meta (one column per field of the schema, with its
dtype, then `error`) and each partition's frame of the fields, read back from the checked answers' texts.

A field's JSON type gives its column's dtype: string → "string", integer → "Int64", number → "Float64",
boolean → "boolean" (nullable: a failed row has none), anything else (an array, an object, a choice of types)
→ object. A schema whose root is not an object (`list[Person]`) gives one object column, `value`.

The schema's type travels in the task graph by value when it is a notebook's class (cloudpickle). Unpickling such
a class where it was defined (the scheduler of a LocalCluster runs in the kernel) resets its fields, and cloudpickle
copies the `dataclasses.MISSING` sentinel: every field then looks as if it had a default (cloudpickle issue 424).
Importing this module makes MISSING pickle by name, in the kernel and on each worker.
"""

from __future__ import annotations

import copyreg
import dataclasses
from collections.abc import Sequence
from typing import Any

from ..core.structured import Wanted
from .checkpoints import Outcome
from .values import record_of

DTYPES = {"string": "string", "integer": "Int64", "number": "Float64", "boolean": "boolean"}


def _missing_by_name(missing: Any) -> str:
    return "MISSING"  # a name: pickle stores dataclasses.MISSING as that global, and finds the same object again


copyreg.pickle(type(dataclasses.MISSING), _missing_by_name)


def field_dtypes(wanted: Wanted) -> dict[str, str]:
    """Each column's name and pandas dtype, in the schema's order (`error` not included)."""
    properties = wanted.schema.get("properties") if wanted.schema.get("type") == "object" else None
    if not isinstance(properties, dict) or not properties:
        return {"value": "object"}
    return {name: _dtype(spec) for name, spec in properties.items()}


def _dtype(spec: Any) -> str:
    """The dtype of one property: its one JSON type other than null, else object."""
    if not isinstance(spec, dict):
        return "object"
    choices = spec["anyOf"] if isinstance(spec.get("anyOf"), list) else [spec]
    kinds: set[Any] = set()
    for choice in choices:
        kind = choice.get("type") if isinstance(choice, dict) else None
        kinds |= set(kind) if isinstance(kind, list) else {kind}
    kinds.discard("null")
    (kind,) = kinds if len(kinds) == 1 else (None,)
    return DTYPES.get(kind, "object") if isinstance(kind, str) else "object"


def fields_meta(wanted: Wanted) -> Any:
    """The empty frame Dask is told the result looks like."""
    import pandas

    columns = {name: pandas.array([], dtype=dtype) for name, dtype in field_dtypes(wanted).items()}
    return pandas.DataFrame({**columns, "error": pandas.array([], dtype="string")})


def fields_frame(outcomes: Sequence[Outcome], wanted: Wanted, index: Any) -> Any:
    """A partition's rows: the fields of each answer (read again from its checked text), or its error."""
    import pandas

    records = [record_of(wanted.read(o.answer)) if o.error is None and o.answer is not None else {} for o in outcomes]
    columns = {
        name: pandas.array([record.get(name) for record in records], dtype=dtype)
        for name, dtype in field_dtypes(wanted).items()
    }
    errors = pandas.array([o.error for o in outcomes], dtype="string")
    return pandas.DataFrame({**columns, "error": errors}, index=index)
