"""`puter_magic.batch(…, schema=Person)` on the in-memory provider: typed rows back in input order, the one retry per
row, a row that never fits as a BatchError, and a DataFrame in → a DataFrame of the fields out, on its index."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from puter_magic.batches.values import BatchError
from puter_magic.errors import InputError
from puter_magic.notebook.batch_call import batch


@dataclasses.dataclass
class Person:
    name: str
    age: int


def answer_for(request) -> list[str]:
    """The model's answer to a row (asked again too): `{"name": <the row's text>, "age": <its length>}`, prose for
    "Nobody"."""
    asked = request.messages[0].text.split("\n\n")[0].removeprefix("Who is ").removesuffix("?")
    if asked == "Nobody":
        return ["I do not know who that is."]
    return [json.dumps({"name": asked, "age": len(asked)})]


def test_typed_rows_in_input_order(memory_session, memory_provider):
    memory_provider.otherwise = answer_for
    result = batch("Who is @{item}?", ["Ada", "Grace", "Alan"], schema=Person, session=memory_session, progress=False)
    assert result == [Person("Ada", 3), Person("Grace", 5), Person("Alan", 4)]
    assert result.ok and memory_session.conversations.thread().turns == []


def test_a_dataframe_gives_a_dataframe_of_the_fields_on_its_index(memory_session, memory_provider):
    memory_provider.otherwise = answer_for
    frame = pd.DataFrame({"who": ["Ada", "Nobody", "Grace"]}, index=["a", "b", "c"])
    people = batch("Who is @{who}?", frame, schema=Person, session=memory_session, progress=False, concurrency=1)
    assert list(people.index) == ["a", "b", "c"] and list(people.columns) == ["name", "age", "error"]
    assert people.loc["a", "name"] == "Ada" and people.loc["c", "age"] == 5
    assert pd.isna(people.loc["b", "name"]) and people.loc["b", "error"].startswith(
        "⚠ the answer does not fit Person, even when asked again: the answer: not valid JSON"
    )
    assert pd.isna(people.loc["a", "error"])
    assert people.attrs["batch"].summary() == "2 answered · 1 failed"
    nobody = [r for r in memory_provider.requests if r.messages[0].text.startswith("Who is Nobody?")]
    assert len(nobody) == 2, "asked again once, then given up"


def test_a_schema_that_cannot_be_described_fails_before_anything_is_sent(memory_session, memory_provider):
    class Opaque:
        pass

    with pytest.raises(InputError, match="the type Opaque has no JSON form"):
        batch("Who is @{item}?", ["Ada"], schema=Opaque, session=memory_session, progress=False)
    assert memory_provider.requests == []


def test_without_a_schema_a_dataframe_still_gives_a_series(memory_session, memory_provider):
    frame = pd.DataFrame({"who": ["Ada"]})
    answers = batch("Who is @{who}?", frame, session=memory_session, progress=False)
    assert isinstance(answers, pd.Series) and not isinstance(answers.iloc[0], BatchError)
