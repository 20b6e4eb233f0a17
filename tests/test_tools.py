"""Tests for puter_magic.core.tools: the @tool registry, naming tools, and running one call whatever goes wrong."""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import puter_magic
from puter_magic.core import tools
from puter_magic.core.tools import RESULT_BUDGET, Tool, ToolResult, as_tool, registered, resolve, result_text, run, tool
from puter_magic.errors import InputError, NotLoggedIn
from puter_magic.redact import REDACTED, register_secret


@pytest.fixture(autouse=True)
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No registered tools, and no @tool marks left on this module's functions by another test."""
    monkeypatch.setattr(tools, "_REGISTRY", {})
    unmarked()
    yield
    unmarked()


def unmarked() -> None:
    for function in (get_weather, slow_echo, fails):
        function.__dict__.pop("__puter_tool__", None)


class Unit(enum.Enum):
    C = "celsius"
    F = "fahrenheit"


@dataclass
class Place:
    city: str
    country: str = "FR"


@dataclass
class Forecast:
    place: Place
    degrees: float
    unit: Unit


def get_weather(place: Place, unit: Unit = Unit.C) -> Forecast:
    """Get today's weather.

    Args:
        place: where
        unit: the unit of the answer
    """
    return Forecast(place, 21.5, unit)


async def slow_echo(text: str) -> str:
    await asyncio.sleep(0)
    return text


def fails(key: str) -> str:
    return {"a": "b"}[key]


def call(made: Tool, arguments: Any) -> ToolResult:
    return asyncio.run(run(made, arguments))


def test_the_decorator_registers_and_returns_the_function_unchanged():
    decorated = tool(get_weather)
    assert decorated is get_weather
    assert puter_magic.tool is tool
    assert [made.name for made in registered()] == ["get_weather"]
    made = registered()[0]
    assert made.function is get_weather and made.safe is False
    assert made.entry() == {
        "type": "function",
        "function": {"name": "get_weather", "description": "Get today's weather.", "parameters": made.parameters},
    }
    assert made.parameters["required"] == ["place"]


def test_the_decorator_takes_safe_name_and_description_and_a_redefinition_replaces():
    @tool(safe=True, name="echo", description="Say it back.")
    def first(text: str) -> str:
        return text

    @tool
    def other(x: int) -> int:
        return x

    @tool(name="echo")
    def second(text: str) -> str:
        return text * 2

    assert [(made.name, made.function) for made in registered()] == [("other", other), ("echo", second)]
    assert as_tool(first).safe is True and as_tool(first).description == "Say it back."
    assert registered()[1].safe is False


def test_a_tool_needs_a_name_a_model_accepts():
    with pytest.raises(InputError) as raised:
        tool(lambda city: city)
    assert raised.value.one_line() == (
        "'<lambda>' cannot be a tool's name (letters, digits, _ and - only) — "
        'give it one: `puter_magic.tool(function, name="…")`'
    )
    assert as_tool(Tool.of(lambda: 1, name="one")).name == "one"


def test_resolve_names_from_the_namespace_then_the_registry():
    tool(slow_echo, safe=True)
    namespace = {"get_weather": get_weather, "fails": fails, "slow_echo": slow_echo}
    made = resolve(" get_weather, slow_echo ,fails,", namespace)
    assert [m.name for m in made] == ["get_weather", "slow_echo", "fails"]
    assert made[1].safe is True  # the registered Tool, found through the function
    assert [m.name for m in resolve("slow_echo", {})] == ["slow_echo"]
    assert [m.name for m in resolve([get_weather, Tool.of(fails), "slow_echo"])] == [
        "get_weather",
        "fails",
        "slow_echo",
    ]
    assert resolve(None) == [] and resolve("", {}) == []
    assert [m.name for m in resolve("fails,fails", namespace)] == ["fails"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "get_wether",
            "no tool named 'get_wether': there is no such function in the notebook — define it first, or check the "
            "spelling (tools are separated by commas)",
        ),
        ("limit", "limit is not a function (it is a value of type int) — tools are functions"),
        (["x"], "no tool named 'x': there is no such function in the notebook"),
        ([3], "3 is not a function (it is a value of type int)"),
        ("get_weather,other", "two tools are named 'get_weather' — rename one with `@puter_magic.tool(name=\"…\")`"),
        ("untyped", "untyped(x) has no type hint, so the model cannot be told what to send — annotate it"),
    ],
)
def test_resolve_errors_are_one_line(spec, message):
    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    def other(key: str) -> str:  # a function of this test: registering it leaves the module's functions alone
        return key

    tool(other, name="get_weather")  # so `other` is a second tool named get_weather
    namespace = {"limit": 3, "get_weather": get_weather, "other": other, "untyped": untyped}
    with pytest.raises(InputError) as raised:
        resolve(spec, namespace)
    assert raised.value.one_line().startswith(message)


def test_a_call_binds_typed_arguments_and_returns_json_for_the_model():
    result = call(Tool.of(get_weather), '{"place": {"city": "Paris"}, "unit": "fahrenheit"}')
    assert result.ok and result.name == "get_weather"
    assert result.arguments == {"place": {"city": "Paris"}, "unit": "fahrenheit"}
    assert result.value == Forecast(Place("Paris"), 21.5, Unit.F)
    assert json.loads(result.text) == {
        "place": {"city": "Paris", "country": "FR"},
        "degrees": 21.5,
        "unit": "fahrenheit",
    }
    assert result.seconds >= 0


def test_an_async_tool_is_awaited_and_a_str_result_is_sent_as_it_is():
    result = call(Tool.of(slow_echo), {"text": 'say "hi"'})
    assert result.ok and result.text == 'say "hi"'


def test_a_tool_raising_becomes_its_one_line_error_text():
    result = call(Tool.of(fails), '{"key": "zz"}')
    assert (result.ok, result.text, result.value) == (False, "KeyError: 'zz'", None)

    def multiline() -> None:
        raise ValueError("first\n   second")

    assert call(Tool.of(multiline), "").text == "ValueError: first second"

    def bare() -> None:
        raise RuntimeError

    assert call(Tool.of(bare), None).text == "RuntimeError"

    def ours() -> None:
        raise NotLoggedIn("not logged in")

    assert call(Tool.of(ours), "{}").text == NotLoggedIn("not logged in").one_line()


@pytest.mark.parametrize(
    ("arguments", "text"),
    [
        ('{"key": ', "invalid arguments for fails: not valid JSON (Expecting value at column 9)"),
        ('{"key": 1}', "invalid arguments for fails: key: expected string, got 1"),
        ('{"kee": "a"}', 'invalid arguments for fails: missing required "key"; unexpected "kee" (expected only key)'),
        ("[]", "invalid arguments for fails: the arguments must be a JSON object, got []"),
    ],
)
def test_arguments_that_do_not_fit_go_back_to_the_model(arguments, text):
    result = call(Tool.of(fails), arguments)
    assert (result.ok, result.text) == (False, text)
    assert result.arguments == (arguments if arguments == '{"key": ' else json.loads(arguments))


def test_secrets_are_redacted_from_errors_and_results():
    secret = "sk-tool-secret-123456"
    register_secret(secret)

    def leaks(kind: str) -> str:
        if kind == "error":
            raise PermissionError(f"token {secret} refused")
        return f"the token is {secret}"

    assert call(Tool.of(leaks), '{"kind": "error"}').text == f"PermissionError: token {REDACTED} refused"
    assert call(Tool.of(leaks), '{"kind": "result"}').text == f"the token is {REDACTED}"
    assert result_text({"Authorization": "Bearer abcdef123"}) == '{"Authorization": "Bearer [redacted]"}'


def test_a_long_result_is_cut_with_a_marker_and_what_has_no_json_form_is_its_repr():
    assert result_text("x" * (RESULT_BUDGET + 5)) == "x" * RESULT_BUDGET + "… [cut: 5 more characters]"
    assert result_text(list(range(5)), budget=4) == "[0, … [cut: 11 more characters]"

    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError

    assert result_text({"a": Opaque()}) == "{'a': <Opaque>}"
    assert result_text(Broken()) == "<Broken object>"
    assert result_text(None) == "null"


def test_ctrl_c_inside_a_tool_is_not_a_result():
    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        call(Tool.of(interrupted), "{}")
