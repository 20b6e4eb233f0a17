"""Notebook objects that fit (core/render_objects.py through `@{…}`): DataFrames summarised within the budget,
long values cut with a marker and a note, other cells' sources and files."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from puter_magic.core.interpolate import interpolate, references
from puter_magic.errors import InputError


def expand(text: str, namespace: dict, budget: int = 12_000) -> tuple[str, list[str]]:
    notes: list[str] = []
    return interpolate(text, namespace, budget=budget, notes=notes), notes


@pytest.fixture
def big() -> pd.DataFrame:
    rng = np.random.default_rng(17)
    n = 1_000_000
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "price": rng.normal(100, 15, n).round(2),
            "city": rng.choice(["Paris", "Oslo", "Lima"], n),
            "ok": rng.random(n) > 0.5,
        }
    )


def test_a_million_row_frame_is_a_summary_within_the_budget(big):
    text, notes = expand("Explain @{df}", {"df": big})
    assert len(text) <= 12_000 + len("Explain ")
    assert "1,000,000 rows × 4 columns" in text and "price: float64" in text and "city: " in text
    assert "| 0 |" in text and "| 999999 |" in text  # the first and the last rows
    assert "describe():" in text and "| mean |" in text
    assert notes == ["@{df}: 10 of 1,000,000 rows shown; describe() of the first 200,000 rows"]


def test_rows_chooses_the_sample_and_full_sends_everything_that_fits():
    df = pd.DataFrame({"x": range(100), "y": [f"v{i}" for i in range(100)]})
    text, notes = expand("@{df:rows=50}", {"df": df})
    assert "First 25 and last 25 rows" in text and "| 24 | v24 |" in text and "| 75 | v75 |" in text
    assert "| 30 | v30 |" not in text
    assert notes == ["@{df:rows=50}: 50 of 100 rows shown"]
    text, notes = expand("@{df:full}", {"df": df})
    assert all(f"| {i} | v{i} |" in text for i in range(100)) and notes == []


def test_full_that_does_not_fit_is_summarised_and_says_so(big):
    text, notes = expand("@{df:full}", {"df": big.head(5000)}, budget=4000)
    assert len(text) <= 4000 + 60
    assert notes and "over the budget of 4,000: summarised" in notes[0]


def test_a_series_and_a_frame_of_objects():
    text, _ = expand("@{s}", {"s": pd.Series([1.5, 2.5, 3.5], name="w")})
    assert "Series 'w': 3 values, dtype float64" in text and "| mean | 2.5 |" in text
    odd = pd.DataFrame({"a": [object(), object()]})
    assert "2 rows × 1 columns" in expand("@{odd}", {"odd": odd})[0]


def test_polars_when_installed():
    import polars as pl

    text, _ = expand("@{df}", {"df": pl.DataFrame({"x": list(range(30))})})
    assert "30 rows × 1 columns" in text and "describe():" in text


def test_long_lists_dicts_and_strings_are_cut_with_a_marker_never_silently():
    text, notes = expand("@{xs}", {"xs": list(range(10_000))}, budget=1000)
    assert len(text) < 1100 and text.rstrip().endswith("more items cut]")
    assert notes and notes[0].startswith("@{xs}: showed ") and "of 10,000 items" in notes[0]
    text, notes = expand("@{d}", {"d": {f"k{i}": i for i in range(5000)}}, budget=500)
    assert text.endswith("more entries cut]") and "of 5,000 entries" in notes[0]
    text, notes = expand("@{s}", {"s": "x" * 5000}, budget=1000)
    assert text == "x" * 1000 + "\n… [4,000 more characters cut]"
    assert notes == ["@{s}: cut 4,000 of 5,000 characters"]
    assert expand("@{s}", {"s": "short"}) == ("short", [])


def test_cells_and_files(tmp_path, monkeypatch):
    history = ["", "import pandas as pd", "df = pd.read_csv('x.csv')", "df.plot()"]
    text, _ = expand("Why does @{cell:2} fail?", {"In": history})
    assert "In [2]:\n```python\ndf = pd.read_csv('x.csv')\n```" in text
    text, _ = expand("@{cells:1-3}", {"In": history})
    assert [line for line in text.splitlines() if line.startswith("In [")] == ["In [1]:", "In [2]:", "In [3]:"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.py").write_text("print('hi')\n")
    assert "print('hi')" in expand("@{file:a.py}", {})[0]
    assert references("@{cell:2} @{df:rows=5} @{file:a.py}") == ["cell:2", "df", "file:a.py"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("@{cell:9}", "no cell In[9]"),
        ("@{file:missing.py}", "cannot read @{file:missing.py}"),
        ("@{xs:rows=5}", "applies to DataFrames"),
    ],
)
def test_what_cannot_be_shown_is_one_line(text, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match=re.escape(words)):
        expand(text, {"In": ["", "x = 1"], "xs": [1, 2]})


def test_other_uses_of_colons_are_left_alone():
    for text in ("@{key:value}", "@{ x : 1 }", "@{df:rows}", "@{cell:x}"):
        assert interpolate(text, {}) == text
