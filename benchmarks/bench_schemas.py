"""The schema builder on a 50-field model, and checking and converting an answer of that model.

In this process, nothing cached between calls: each call builds the schema again from the class (type hints read
and evaluated from strings, docstring parsed), as `%%puter --tools` / `--schema` do for each cell. Cases, each
timed per call over 15 rounds of 200 calls, interleaved: `type_schema` on a 50-field dataclass (str, int,
float, bool, Optional, list, Literal, Enum and nested dataclass fields, `from __future__ import annotations`, an
Attributes section describing every field); `function_schema` on a function with the same 50 parameters and a
Google docstring; pydantic's own `model_json_schema()` on the equivalent 50-field pydantic model (a reference);
and `check` + `convert` of one JSON answer of the dataclass. The best round is given beside the median: on this
shared 2-core machine it is the figure least moved by other processes.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from common import Measurement, median_and_iqr

from puter_magic.core.schemas import function_schema, type_schema
from puter_magic.core.validate import check, convert, jsonable

FIELDS = 50
RUNS = 15  # the module's docstring says these two numbers
CALLS = 200
TARGET_MS = 1.0
KINDS = [
    ("str", '"x"'),
    ("int", "1"),
    ("float", "1.5"),
    ("bool", "True"),
    ("int | None", "None"),
    ("list[str]", None),
    ('Literal["a", "b", "c"]', '"a"'),
    ("Color", "Color.RED"),
    ("Inner | None", "None"),
    ("dict[str, float]", None),
]


def source() -> str:
    """A module with the 50-field dataclass, the 50-parameter function and the pydantic model."""
    kinds = [KINDS[i % len(KINDS)] for i in range(FIELDS)]
    required = [f"field_{i}: {hint}" for i, (hint, default) in enumerate(kinds) if default is None]
    optional = [f"field_{i}: {hint} = {default}" for i, (hint, default) in enumerate(kinds) if default is not None]
    described = "\n".join(f"        field_{i}: what field {i} holds, in a few words" for i in range(FIELDS))
    fields = "\n".join(f"    {line}" for line in required + optional)
    return f'''from __future__ import annotations
import enum
from dataclasses import dataclass
from typing import Literal
import pydantic

class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"

@dataclass
class Inner:
    name: str
    score: float = 0.0

@dataclass
class Model:
    """A record with fifty fields.

    Attributes:
{described}
    """
{fields}

def record({", ".join(required + optional)}) -> None:
    """Store a record with fifty fields.

    Args:
{described}
    """

class PydanticModel(pydantic.BaseModel):
{fields}
'''


def build() -> ModuleType:
    module = ModuleType("bench_schemas_model")
    sys.modules[module.__name__] = module  # dataclasses and get_type_hints find the module's names through it
    exec(compile(source(), "bench_schemas_model", "exec"), module.__dict__)
    module.PydanticModel.model_rebuild(_types_namespace=module.__dict__)
    return module


def per_call(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    for _ in range(CALLS):
        fn()
    return (time.perf_counter() - started) / CALLS


def run() -> dict[str, Measurement]:
    module = build()
    model = module.Model
    schema = type_schema(model)
    required = {f"field_{i}": ["a", "b"] if i % 10 == 5 else {"k": 1.5} for i in range(FIELDS) if i % 10 in (5, 9)}
    answer = json.loads(json.dumps(jsonable(model(**required, field_8=module.Inner("n", 2.0)))))

    def check_and_convert() -> None:
        check(answer, schema)
        convert(answer, model)

    cases: dict[str, Callable[[], Any]] = {
        "type_schema(50-field dataclass)": lambda: type_schema(model),
        "function_schema(50-parameter function)": lambda: function_schema(module.record),
        "pydantic model_json_schema() (reference)": module.PydanticModel.model_json_schema,
        "check + convert one answer": check_and_convert,
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()  # warm up
    for _ in range(RUNS):
        for name, fn in cases.items():
            samples[name].append(per_call(fn))
    return {name: Measurement(name, values) for name, values in samples.items()}


def report(result: dict[str, Measurement]) -> str:
    lines = ["| case | per call (median) | IQR | best round |", "|---|---|---|---|"]
    for name, measurement in result.items():
        lines.append(f"| {name} | {median_and_iqr(measurement, digits=3)} | {min(measurement.samples) * 1000:.3f} ms |")
    figures = headline(result)
    lines += [
        "",
        f"The schema builder takes **{figures['type_schema ms']:.3f} ms** for the 50-field dataclass "
        f"(best round {figures['type_schema best ms']:.3f} ms) and {figures['function_schema ms']:.3f} ms for the "
        f"50-parameter function (best round {figures['function_schema best ms']:.3f} ms). Target: ≤ {TARGET_MS:g} ms.",
    ]
    return "\n".join(lines)


def headline(result: dict[str, Measurement]) -> dict[str, float]:
    medians = [m.median * 1000 for m in result.values()]
    best = [min(m.samples) * 1000 for m in result.values()]
    return {
        "type_schema ms": medians[0],
        "function_schema ms": medians[1],
        "pydantic ms": medians[2],
        "check convert ms": medians[3],
        "type_schema best ms": best[0],
        "function_schema best ms": best[1],
    }


if __name__ == "__main__":
    print(report(run()))
