"""Tests for puter_magic.core.validate: one-line findings that say where, typed objects from checked JSON, tool
arguments bound to a function, and round trips of generated values."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

import pydantic
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sample_enums import Color, Level

from puter_magic.core.schemas import function_schema, type_schema
from puter_magic.core.validate import bind, check, convert, jsonable, parse_json, problems
from puter_magic.errors import SchemaMismatch


@dataclass
class Place:
    city: str
    point: tuple[float, float] = (0.0, 0.0)


@dataclass
class Person:
    name: str
    age: int
    color: Color = Color.RED
    level: Level | None = None
    home: Place | None = None
    tags: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    badges: set[int] = field(default_factory=set)
    mood: Literal["calm", "busy"] = "calm"

    def __post_init__(self) -> None:
        if self.age < 0:
            raise ValueError("age must not be negative,\n  says the class")


class Movie(TypedDict, total=False):
    title: str
    place: Place


class Film(pydantic.BaseModel):
    title: str
    year: int = pydantic.Field(default=2000, ge=1888)
    place: Place | None = None


PEOPLE = type_schema(list[Person])


@pytest.mark.parametrize(
    ("value", "finding"),
    [
        ([{"name": "a", "age": "x"}], 'people[0].age: expected integer, got "x"'),
        ([{"name": "a", "age": True}], "people[0].age: expected integer, got true"),
        ([{"name": "a", "age": 1.5}], "people[0].age: expected integer, got 1.5"),
        ([{"age": 1}], 'people[0]: missing required "name"'),
        ([{"name": "a", "age": 1, "agee": 2}], 'people[0]: unexpected "agee" (expected only name, age, color,'),
        ([{"name": "a", "age": 1, "color": "green"}], 'people[0].color: expected one of "red", "blue", got "green"'),
        ([{"name": "a", "age": 1, "level": 3}], "people[0].level: expected one of 1, 2, got 3"),
        ([{"name": "a", "age": 1, "level": "x"}], 'people[0].level: expected integer or null, got "x"'),
        ([{"name": "a", "age": 1, "home": {}}], 'people[0].home: missing required "city"'),
        ([{"name": "a", "age": 1, "home": {"city": "P", "point": [1]}}], "people[0].home.point: expected at least 2"),
        (
            [{"name": "a", "age": 1, "home": {"city": "P", "point": [1, "2"]}}],
            "people[0].home.point[1]: expected number",
        ),
        ([{"name": "a", "age": 1, "tags": ["ok", 3]}], "people[0].tags[1]: expected string, got 3"),
        ([{"name": "a", "age": 1, "scores": {"a b": "x"}}], 'people[0].scores["a b"]: expected number, got "x"'),
        ({"name": "a"}, 'people: expected array, got {"name": "a"}'),
        ([None], "people[0]: expected object, got null"),
        (
            [{"name": "a" * 80, "age": "b" * 80}],
            'people[0].age: expected integer, got "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb…',
        ),
    ],
)
def test_each_finding_is_one_line_saying_where(value, finding):
    found = problems(value, PEOPLE, root="people")
    assert any(line.startswith(finding) for line in found), found
    assert all("\n" not in line for line in found)


def test_a_good_value_has_no_findings_and_integers_may_be_written_as_floats():
    good = [{"name": "a", "age": 3.0, "level": None, "home": {"city": "P", "point": [1, 2.5]}, "badges": [1, 2]}]
    assert problems(good, PEOPLE) == []


@pytest.mark.parametrize(
    ("schema", "value", "finding"),
    [
        ({"const": "x"}, "y", 'expected "x", got "y"'),
        ({"type": "string", "minLength": 2}, "a", 'expected at least 2 characters, got "a"'),
        ({"type": "string", "maxLength": 2}, "abc", 'expected at most 2 characters, got "abc"'),
        ({"type": "string", "pattern": "^[0-9]+$"}, "12a", 'expected text matching ^[0-9]+$, got "12a"'),
        ({"type": "integer", "minimum": 1}, 0, "expected a number at least 1, got 0"),
        ({"type": "number", "maximum": 1.5}, 2, "expected a number at most 1.5, got 2"),
        ({"exclusiveMinimum": 0}, 0, "expected a number more than 0, got 0"),
        ({"exclusiveMaximum": 0}, 0.5, "expected a number less than 0, got 0.5"),
        ({"type": "array", "maxItems": 1}, [1, 2], "expected at most 1 items, got 2"),
        ({"type": ["string", "null"]}, 1, "expected string or null, got 1"),
        ({"anyOf": [{"type": "object"}, {"type": "array"}]}, 1, "expected object or array, got 1"),
        ({"anyOf": [{"enum": [1]}, {"enum": [2]}]}, 3, "expected one of the allowed shapes, got 3"),
        ({"oneOf": [{"type": "integer"}, {"type": "boolean"}]}, "x", 'expected integer or boolean, got "x"'),
        ({"allOf": [{"type": "integer"}, {"minimum": 5}]}, 4, "expected a number at least 5, got 4"),
        ({"type": "object", "additionalProperties": {"type": "integer"}}, {"a": "b"}, 'a: expected integer, got "b"'),
        ({"type": "array", "items": False}, [1], "[0]: no value is allowed here, got 1"),
        ({"enum": [1]}, True, "expected one of 1, got true"),
    ],
)
def test_the_other_keywords(schema, value, finding):
    assert problems(value, schema) == [finding]


def test_refs_resolve_into_defs_and_pydantic_constraints_are_checked():
    film = type_schema(Film)
    # pydantic writes no additionalProperties for a dataclass: an unknown key is let through
    assert problems({"title": "x", "place": {"town": "P"}}, film) == ['place: missing required "city"']
    assert problems({"title": "x", "year": 1700}, film) == ["year: expected a number at least 1888, got 1700"]


def test_check_raises_one_line_with_at_most_three_findings_and_keeps_the_text():
    with pytest.raises(SchemaMismatch) as raised:
        check([{"name": 1, "age": "x", "color": 3, "mood": "z"}], PEOPLE, root="people", text="[...]")
    error = raised.value
    assert error.message.startswith('people[0].name: expected string, got 1; people[0].age: expected integer, got "x"')
    assert error.message.endswith("(and 1 more)")
    assert len(error.problems) == 4 and error.text == "[...]"
    assert "\n" not in error.one_line()


def test_findings_stop_at_the_limit():
    assert len(problems(["x"] * 100, {"type": "array", "items": {"type": "integer"}}, limit=5)) == 5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": 1', "the answer: not valid JSON (Expecting ',' delimiter at line 1, column 8)"),
        ("", "the answer: not valid JSON (Expecting value at line 1, column 1)"),
        ("[1]\n[2]", "the answer: not valid JSON (Extra data at line 2, column 1)"),
    ],
)
def test_text_that_is_not_json_is_one_line_saying_where(text, message):
    with pytest.raises(SchemaMismatch) as raised:
        parse_json(text)
    assert raised.value.message == message and raised.value.text == text


def test_convert_builds_typed_objects():
    value = {
        "name": "Ada",
        "age": 36.0,
        "color": "blue",
        "level": 2,
        "home": {"city": "London", "point": [51, -0.1]},
        "badges": [1, 2],
    }
    person = convert(value, Person)
    assert person == Person("Ada", 36, Color.BLUE, Level.HIGH, Place("London", (51.0, -0.1)), badges={1, 2})
    assert type(person.age) is int and type(person.home.point[0]) is float
    assert convert([value], list[Person]) == [person]
    assert convert({"k": value}, dict[str, Person]) == {"k": person}
    assert convert(None, Person | None) is None
    assert convert([1, "x", "red"], tuple[float, str, Color]) == (1.0, "x", Color.RED)
    assert convert([1, 2], tuple[float, ...]) == (1.0, 2.0)


def test_a_typeddict_stays_a_dict_and_a_pydantic_model_is_validated_by_pydantic():
    movie = convert({"title": "M", "place": {"city": "P"}}, Movie)
    assert movie == {"title": "M", "place": Place("P")} and type(movie) is dict
    film = convert({"title": "F", "place": {"city": "P"}}, Film)
    assert isinstance(film, Film) and film.place == Place("P") and film.year == 2000


def test_a_class_that_refuses_its_value_is_one_line_saying_where():
    with pytest.raises(SchemaMismatch) as raised:
        convert([{"name": "a", "age": -1}], list[Person])
    assert raised.value.message == ("[0]: Person refused it (ValueError: age must not be negative, says the class)")
    with pytest.raises(SchemaMismatch, match=r"^Film refused it \(ValidationError: "):
        convert({"title": "x", "year": 1}, Film)


def forecast(city: str, /, days: int = 3, *, place: Place | None = None, color: Color = Color.RED) -> Any:
    return city, days, place, color


def no_arguments() -> str:
    return "ok"


def test_bind_checks_and_converts_a_tool_calls_arguments():
    bound = bind(forecast, '{"city": "Paris", "place": {"city": "Paris"}, "color": "blue"}')
    assert forecast(*bound.args, **bound.kwargs) == ("Paris", 3, Place("Paris"), Color.BLUE)
    bound = bind(forecast, {"city": "Rome", "days": 1})
    assert forecast(*bound.args, **bound.kwargs) == ("Rome", 1, None, Color.RED)
    for empty in ("", "  ", None, {}):
        bound = bind(no_arguments, empty)
        assert bound.args == () and bound.kwargs == {}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ('{"city": 1}', "city: expected string, got 1"),
        ("{}", 'missing required "city"'),
        ('{"city": "x", "dayz": 2}', 'unexpected "dayz" (expected only city, days, place, color)'),
        ('{"city": "x", "place": {"city": 2}}', "place.city: expected string, got 2"),
        ("[1, 2]", "the arguments must be a JSON object, got [1, 2]"),
        ('{"city": ', "the arguments: not valid JSON (Expecting value at line 1, column 10)"),
    ],
)
def test_arguments_that_do_not_fit_are_one_line(arguments, message):
    with pytest.raises(SchemaMismatch) as raised:
        bind(forecast, arguments, function_schema(forecast))
    assert raised.value.message == message


def test_jsonable_refuses_what_has_no_json_form():
    assert jsonable((Color.RED, {1: Level.LOW}, frozenset())) == ["red", {"1": 1}, []]
    with pytest.raises(TypeError, match="object has no JSON form"):
        jsonable(object())


def json_floats() -> st.SearchStrategy[float]:
    return st.floats(allow_nan=False, allow_infinity=False)


places = st.builds(Place, city=st.text(), point=st.tuples(json_floats(), json_floats()))
people = st.builds(
    Person,
    name=st.text(),
    age=st.integers(min_value=0),
    color=st.sampled_from(Color),
    level=st.none() | st.sampled_from(Level),
    home=st.none() | places,
    tags=st.lists(st.text(), max_size=3),
    scores=st.dictionaries(st.text(), json_floats(), max_size=3),
    badges=st.sets(st.integers(), max_size=3),
    mood=st.sampled_from(["calm", "busy"]),
)


@given(st.lists(people, max_size=4))
def test_round_trip_a_generated_value_through_json_validates_and_converts_back_equal(original):
    text = json.dumps(jsonable(original))
    value = parse_json(text)
    check(value, PEOPLE)
    assert convert(value, list[Person]) == original


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | json_floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(json_values)
def test_any_json_value_gets_findings_not_a_crash(value):
    found = problems(value, PEOPLE, root="people")
    assert all(isinstance(line, str) and "\n" not in line for line in found)
