"""Notebook objects in a prompt: `@{df}` on a 1,000,000-row DataFrame, and the token estimate.

In this process: a pandas DataFrame of 10⁶ rows × 4 columns (int64, float64, str, bool), and the same as polars
when it is installed, each rendered through `interpolate("@{df}", …)` with the default budget (12,000
characters) — shape, dtypes, 10 sample rows and describe() of the first 200,000 rows — median of 15 calls,
interleaved; and `estimate_tokens` on tests/fixtures/tokens/ (code, prose, JSON) in characters per second.
Target: rendering under 50 ms.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from common import Measurement, median_and_iqr

from puter_magic.core.interpolate import interpolate
from puter_magic.core.tokens import estimate_tokens

ROWS = 1_000_000
RUNS = 15
TARGET_MS = 50.0
CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tokens"


def frame() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    return pd.DataFrame(
        {
            "id": np.arange(ROWS),
            "price": rng.normal(100, 15, ROWS).round(2),
            "city": rng.choice(["Paris", "Oslo", "Lima", "Kyoto"], ROWS),
            "ok": rng.random(ROWS) > 0.5,
        }
    )


def timed(fn: Callable[[], Any]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run() -> dict[str, Measurement]:
    df = frame()
    cases: dict[str, Callable[[], Any]] = {"pandas @{df}, 10⁶ rows": lambda: interpolate("@{df}", {"df": df})}
    try:
        import polars as pl

        pf = pl.DataFrame({name: df[name].to_numpy() for name in df.columns})
        cases["polars @{df}, 10⁶ rows"] = lambda: interpolate("@{df}", {"df": pf})
    except ImportError:
        pass
    text = "".join(path.read_text() for path in sorted(CORPUS.glob("*")) if path.name != "smollm2-counts.json")
    cases[f"estimate_tokens, {len(text):,} characters"] = lambda: estimate_tokens(text)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():
        fn()  # warm up
    for _ in range(RUNS):
        for name, fn in cases.items():
            samples[name].append(timed(fn))
    result = {name: Measurement(name, values) for name, values in samples.items()}
    result["characters"] = Measurement("characters", [float(len(text))])
    result["rendered"] = Measurement("rendered", [float(len(interpolate("@{df}", {"df": df})))])
    return result


def report(result: dict[str, Measurement]) -> str:
    lines = ["| case | median | IQR |", "|---|---|---|"]
    for name, measurement in result.items():
        if name in ("characters", "rendered"):
            continue
        lines.append(f"| {name} | {median_and_iqr(measurement)} |")
    figures = headline(result)
    lines += [
        "",
        f"`@{{df}}` on 10⁶ rows takes **{figures['pandas ms']:.1f} ms** ({figures['rendered chars']:,.0f} "
        f"characters sent). The estimate reads {figures['estimate MB/s']:.1f} MB of text per second. "
        f"Target: rendering under {TARGET_MS:g} ms.",
    ]
    return "\n".join(lines)


def headline(result: dict[str, Measurement]) -> dict[str, float]:
    estimate = next(m for name, m in result.items() if name.startswith("estimate_tokens"))
    return {
        "pandas ms": result["pandas @{df}, 10⁶ rows"].median * 1000,
        "rendered chars": result["rendered"].median,
        "estimate MB/s": result["characters"].median / estimate.median / 1e6,
    }


if __name__ == "__main__":
    print(report(run()))
