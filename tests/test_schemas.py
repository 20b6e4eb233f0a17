"""Tests for puter_magic.core.schemas and core.docstrings: JSON schemas from signatures, hints, classes and docstrings,
and a one-line error naming what cannot be described."""

from __future__ import annotations

import datetime
import enum
import functools
import typing
from dataclasses import dataclass, field, make_dataclass
from typing import Annotated, Any, Literal, NewType, Optional, TypedDict, Union

import pydantic
import pytest
from sample_enums import Color, Level

from puter_magic.core.docstrings import parse_docstring
from puter_magic.core.schemas import function_schema, tool_entry, type_schema
from puter_magic.errors import InputError

OBJECT = {"type": "object", "additionalProperties": False}


class Mixed(enum.Enum):
    ONE = 1
    TWO = "two"


@dataclass
class Place:
    """A place on Earth.

    Attributes:
        city: the city's name
        country: an ISO 3166 code
    """

    city: str
    country: str = "FR"


@dataclass
class Person:
    name: str
    age: int
    tags: list[str] = field(default_factory=list)
    color: Color = Color.RED
    home: Place | None = None
    secret: str = field(default="x", init=False)


@dataclass
class Tree:
    label: str
    children: list[Tree] = field(default_factory=list)


class Movie(TypedDict, total=False):
    title: str
    year: int


class Book(TypedDict):
    title: str
    pages: int


class Film(pydantic.BaseModel):
    title: str
    year: int = 2000
    place: Place


@dataclass
class Diary:
    when: list[datetime.date]


UserId = NewType("UserId", int)


@pytest.mark.parametrize(
    ("tp", "schema"),
    [
        (str, {"type": "string"}),
        (int, {"type": "integer"}),
        (float, {"type": "number"}),
        (bool, {"type": "boolean"}),
        (None, {"type": "null"}),
        (Any, {}),
        (UserId, {"type": "integer"}),
        (Literal["C", "F"], {"type": "string", "enum": ["C", "F"]}),
        (Literal[1, "x"], {"enum": [1, "x"]}),
        (Color, {"type": "string", "enum": ["red", "blue"]}),
        (Level, {"type": "integer", "enum": [1, 2]}),
        (Mixed, {"enum": [1, "two"]}),
        (Optional[int], {"anyOf": [{"type": "integer"}, {"type": "null"}]}),  # noqa: UP045
        (int | None, {"anyOf": [{"type": "integer"}, {"type": "null"}]}),
        (Union[int, str], {"anyOf": [{"type": "integer"}, {"type": "string"}]}),  # noqa: UP007
        (list[int], {"type": "array", "items": {"type": "integer"}}),
        (typing.List[str], {"type": "array", "items": {"type": "string"}}),  # noqa: UP006
        (typing.Sequence[str], {"type": "array", "items": {"type": "string"}}),
        (set[int], {"type": "array", "items": {"type": "integer"}}),
        (list, {"type": "array"}),
        (tuple[int, ...], {"type": "array", "items": {"type": "integer"}}),
        (
            tuple[int, str],
            {
                "type": "array",
                "prefixItems": [{"type": "integer"}, {"type": "string"}],
                "items": False,
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (dict[str, float], {"type": "object", "additionalProperties": {"type": "number"}}),
        (dict, {"type": "object"}),
        (Annotated[str, "the city"], {"type": "string", "description": "the city"}),
        ({"type": "string", "maxLength": 3}, {"type": "string", "maxLength": 3}),
    ],
)
def test_types_map_to_their_json_schema(tp, schema):
    assert type_schema(tp) == schema


def test_a_dataclass_is_an_object_with_its_required_fields_defaults_and_descriptions():
    assert type_schema(Place) == {
        "description": "A place on Earth.",
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "the city's name"},
            "country": {"type": "string", "description": "an ISO 3166 code", "default": "FR"},
        },
        "required": ["city"],
        "additionalProperties": False,
    }


def test_nested_classes_are_inline_fields_not_in_init_are_left_out_and_enum_defaults_are_values():
    schema = type_schema(Person)
    assert "description" not in schema  # the docstring dataclasses writes says nothing
    assert schema["required"] == ["name", "age"]
    assert list(schema["properties"]) == ["name", "age", "tags", "color", "home"]
    assert schema["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}  # no default: a factory
    assert schema["properties"]["color"] == {"type": "string", "enum": ["red", "blue"], "default": "red"}
    assert schema["properties"]["home"]["anyOf"][0] == type_schema(Place)
    assert schema["properties"]["home"]["default"] is None


def test_a_class_inside_itself_is_written_once_under_defs():
    schema = type_schema(list[Tree])
    assert schema["items"] == {"$ref": "#/$defs/Tree"}
    assert schema["$defs"]["Tree"]["properties"]["children"] == {"type": "array", "items": {"$ref": "#/$defs/Tree"}}
    root = type_schema(Tree)
    assert root["properties"]["label"] == {"type": "string"} and "Tree" in root["$defs"]


def test_typeddicts_know_their_required_keys():
    assert type_schema(Movie) == {
        **OBJECT,
        "properties": {"title": {"type": "string"}, "year": {"type": "integer"}},
        "required": [],
    }
    assert type_schema(Book)["required"] == ["title", "pages"]


def test_a_pydantic_model_brings_its_own_schema_and_its_defs_move_to_the_root():
    schema = type_schema(list[Film])
    assert schema["items"]["required"] == ["title", "place"]
    assert schema["items"]["properties"]["place"] == {"$ref": "#/$defs/Place"}
    assert schema["$defs"]["Place"]["required"] == ["city"]
    assert "$defs" not in schema["items"]


def weather(city: str, days: int = 3, unit: Literal["C", "F"] = "C", *, color: Color = Color.BLUE) -> str:
    """Get the weather forecast.

    A longer explanation that is not the summary.

    Args:
        city (str): the city, in English,
            as it is spelled on a map
        days: how many days
        unit: the unit

    Returns:
        the forecast
    """
    return city


def test_a_function_becomes_an_openai_tool_entry():
    assert tool_entry(weather) == {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Get the weather forecast.",
            "parameters": {
                **OBJECT,
                "properties": {
                    "city": {"type": "string", "description": "the city, in English, as it is spelled on a map"},
                    "days": {"type": "integer", "description": "how many days", "default": 3},
                    "unit": {"type": "string", "enum": ["C", "F"], "description": "the unit", "default": "C"},
                    "color": {"type": "string", "enum": ["red", "blue"], "default": "blue"},
                },
                "required": ["city"],
            },
        },
    }


def no_docstring(a: int, /, b: Place) -> None:
    pass


def test_without_a_docstring_there_is_no_description_and_positional_only_parameters_are_named():
    entry = tool_entry(no_docstring)["function"]
    assert "description" not in entry
    assert entry["parameters"]["required"] == ["a", "b"]
    assert entry["parameters"]["properties"]["b"] == type_schema(Place)


def test_a_default_with_no_json_form_is_left_out():
    def stamped(when: str = typing.cast(str, object())) -> None:
        pass

    assert function_schema(stamped)["properties"]["when"] == {"type": "string"}


NUMPY = """Summarize the table.

Parameters
----------
table : str
    The table's name,
    in the database.
rows, columns : int
    How many.
*extra : str
    Ignored.

Returns
-------
str
    Not a parameter.
"""

REST = """Convert money.

:param amount: how much,
    in cents
:param str currency: the ISO code
:returns: the converted amount
"""

GOOGLE_MIXED = """Two lines of
summary, joined.

Arguments:
    first: one

    second: two
Note:
    third: not a parameter
"""


@pytest.mark.parametrize(
    ("doc", "summary", "descriptions"),
    [
        (
            NUMPY,
            "Summarize the table.",
            {
                "table": "The table's name, in the database.",
                "rows": "How many.",
                "columns": "How many.",
                "extra": "Ignored.",
            },
        ),
        (REST, "Convert money.", {"amount": "how much, in cents", "currency": "the ISO code"}),
        (GOOGLE_MIXED, "Two lines of summary, joined.", {"first": "one", "second": "two"}),
        (None, "", {}),
        ("   ", "", {}),
        ("\n    Args:\n        x: only parameters\n    ", "", {"x": "only parameters"}),
    ],
)
def test_docstring_styles(doc, summary, descriptions):
    assert parse_docstring(doc) == (summary, descriptions)


def untyped(a, b: int) -> None:
    pass


def star_args(*cities: str) -> None:
    pass


def star_kwargs(**options: str) -> None:
    pass


def dated(when: datetime.datetime) -> None:
    pass


def int_keys(table: dict[int, str]) -> None:
    pass


def bad_literal(mode: Literal[b"x"]) -> None:
    pass


def deep(diary: Diary) -> None:
    pass


def unresolvable(x: Nowhere) -> None:  # type: ignore[name-defined]  # noqa: F821
    pass


@pytest.mark.parametrize(
    ("describe", "message"),
    [
        (lambda: function_schema(untyped), "untyped(a) has no type hint, so the model cannot be told what to send"),
        (lambda: function_schema(star_args), "star_args(*cities) cannot be described to a model"),
        (lambda: function_schema(star_kwargs), "star_kwargs(**options) cannot be described to a model"),
        (lambda: function_schema(dated), "dated(when): the type datetime has no JSON form"),
        (lambda: function_schema(int_keys), "int_keys(table): a dict keyed by int has no JSON form"),
        (lambda: function_schema(bad_literal), "bad_literal(mode): Literal / Enum values must be str, int"),
        (lambda: function_schema(deep), "deep(diary.when): the type date has no JSON form"),
        (lambda: function_schema(unresolvable), "the type hints of unresolvable cannot be read (NameError"),
        (lambda: function_schema(42), "42 is not a function (it is a value of type int)"),  # type: ignore[arg-type]
        (lambda: type_schema(list[Diary]), "list[Diary].when: the type date has no JSON form"),
        (lambda: type_schema(datetime.date), "date: the type date has no JSON form"),
    ],
)
def test_what_cannot_be_described_is_a_one_line_error_naming_it(describe, message):
    with pytest.raises(InputError) as raised:
        describe()
    line = raised.value.one_line()
    assert message in line
    assert "\n" not in line
    assert " — " in line  # and says what to do


class Service:
    def lookup(self, key: str, place: Place | None = None) -> str:
        """Look a key up."""
        return key


def test_hints_written_as_objects_partials_methods_and_classes_are_read():
    point = make_dataclass("Point", [("x", float), ("tags", list["str"])])  # real objects, a ForwardRef inside
    assert type_schema(point)["properties"] == {
        "x": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
    }
    assert function_schema(functools.partial(weather, "Paris"))["required"] == []
    assert list(function_schema(functools.partial(weather, "Paris"))["properties"]) == ["days", "unit", "color"]
    method = function_schema(Service().lookup)
    assert method["required"] == ["key"] and method["properties"]["place"]["anyOf"][0] == type_schema(Place)
    assert function_schema(Place)["properties"]["city"] == {"type": "string", "description": "the city's name"}
