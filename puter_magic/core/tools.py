"""Notebook functions a model may call: the Tool, the @tool registry, naming tools, and running one call.

    @puter_magic.tool                      registers the function for the notebook (returned unchanged)
    @puter_magic.tool(safe=True)           … and lets it run without asking (`--approve ask` skips it)
    @puter_magic.tool(name="weather")      … under another name
    registered()                           the registered Tools, in the order they were defined
    resolve("get_weather,df_query", ns)    Tools from names in a namespace (then the registry), or from callables
    await run(tool, '{"city": "Paris"}')   a ToolResult: the text for the model, ok or not, the time it took

A call never raises for what the model or the tool did wrong: arguments that are not JSON or do not fit the schema,
and any exception inside the tool, become the result's text (one line, redacted) so the model can read it and try
again. A result is the string itself when the tool returns a str, otherwise JSON (dataclasses, Enums and pydantic
models included), otherwise its repr; redacted, and cut at `budget` characters with a marker saying how much is
left out. A sync function runs in the calling thread; an async one (or one returning an awaitable) is awaited.
KeyboardInterrupt and cancellation pass through: they stop the loop, not the call.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from ..errors import InputError, PuterError, SchemaMismatch
from ..redact import redact
from .docstrings import parse_docstring
from .hints import not_a_function
from .schemas import Schema, function_schema
from .validate import bind, jsonable

RESULT_BUDGET = 16_000  # characters of one result sent back to the model
ERROR_BUDGET = 500
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI-compatible servers accept
Function = TypeVar("Function", bound=Callable[..., Any])


@dataclass(frozen=True)
class Tool:
    """A callable a model may call: its name, its description and the JSON schema of its parameters."""

    function: Callable[..., Any]
    name: str
    description: str
    parameters: Schema = field(repr=False)
    safe: bool = False  # runs without asking for approval

    @classmethod
    def of(
        cls,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        safe: bool = False,
    ) -> Tool:
        """A Tool for `function`; a one-line InputError when it cannot be described to a model."""
        if isinstance(function, Tool):
            return function
        name = name or str(getattr(function, "__name__", ""))
        if not _TOOL_NAME.match(name):
            raise InputError(
                f"{name or type(function).__name__!r} cannot be a tool's name (letters, digits, _ and - only)",
                hint='give it one: `puter_magic.tool(function, name="…")`',
            )
        parameters = function_schema(function, name)
        if description is None:
            description, _ = parse_docstring(inspect.getdoc(function))
        return cls(function, name, description, parameters, safe)

    def entry(self) -> Schema:
        """The OpenAI `tools` item: {"type": "function", "function": {name, description, parameters}}."""
        function: Schema = {"name": self.name, "description": self.description, "parameters": self.parameters}
        if not self.description:
            del function["description"]
        return {"type": "function", "function": function}


@dataclass(frozen=True)
class ToolResult:
    """One call's outcome. `text` goes back to the model; `value` is what the tool returned (None on failure)."""

    name: str
    arguments: Any  # the parsed arguments, or the text as it came when it was not JSON
    text: str
    ok: bool
    seconds: float
    value: Any = None


_REGISTRY: dict[str, Tool] = {}


@overload
def tool(
    function: Function, *, name: str | None = ..., safe: bool = ..., description: str | None = ...
) -> Function: ...
@overload
def tool(
    function: None = ..., *, name: str | None = ..., safe: bool = ..., description: str | None = ...
) -> Callable[[Function], Function]: ...
def tool(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    safe: bool = False,
    description: str | None = None,
) -> Any:
    """Register `function` as a tool for the notebook (a decorator, with or without arguments); the function comes
    back unchanged. Defining it again under the same name replaces it, as re-running a cell should."""

    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        made = Tool.of(function, name=name, description=description, safe=safe)
        _REGISTRY.pop(made.name, None)  # a redefinition moves to the end, where a new cell would put it
        _REGISTRY[made.name] = made
        # a bound method or a builtin takes no attribute: then the registry alone knows it
        with contextlib.suppress(AttributeError, TypeError):
            function.__puter_tool__ = made  # type: ignore[attr-defined]
        return function

    return register if function is None else register(function)


def registered() -> list[Tool]:
    return list(_REGISTRY.values())


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def as_tool(thing: Any) -> Tool:
    """A Tool from a Tool, a function registered with @tool (its name and `safe` kept), or any other callable."""
    if isinstance(thing, Tool):
        return thing
    made = getattr(thing, "__puter_tool__", None)
    if isinstance(made, Tool) and made.function is thing:
        return made
    for candidate in _REGISTRY.values():
        if candidate.function == thing:
            return candidate
    return Tool.of(thing)


def resolve(spec: str | Iterable[Any] | None, namespace: Mapping[str, Any] | None = None) -> list[Tool]:
    """Tools from "a,b" (names looked up in `namespace`, then among registered tools) or from a list of names,
    callables and Tools. A one-line InputError for an unknown name, a value that is not callable, or two tools
    with one name."""
    if spec is None:
        return []
    items = [part.strip() for part in spec.split(",") if part.strip()] if isinstance(spec, str) else list(spec)
    tools: dict[str, Tool] = {}
    for item in items:
        if isinstance(item, str):
            item = _lookup(item, namespace or {})
        made = as_tool(item if isinstance(item, Tool) else _callable(item, repr(item)))
        if made.name in tools and tools[made.name].function != made.function:
            raise InputError(f"two tools are named {made.name!r}", hint='rename one with `@puter_magic.tool(name="…")`')
        tools[made.name] = made
    return list(tools.values())


def _lookup(name: str, namespace: Mapping[str, Any]) -> Any:
    if name in namespace:
        return _callable(namespace[name], name)
    if name in _REGISTRY:
        return _REGISTRY[name]
    raise InputError(
        f"no tool named {name!r}: there is no such function in the notebook",
        hint="define it first, or check the spelling (tools are separated by commas)",
    )


def _callable(value: Any, label: str) -> Any:
    if not callable(value):
        raise InputError(not_a_function(label, value), hint="tools are functions")
    return value


async def run(tool: Tool, arguments: str | Mapping[str, Any] | None, *, budget: int = RESULT_BUDGET) -> ToolResult:
    """Call `tool` with a model's arguments; whatever goes wrong becomes the result's text (see the module's doc)."""
    started = time.perf_counter()
    parsed: Any = arguments

    def result(text: str, ok: bool, value: Any = None) -> ToolResult:
        return ToolResult(tool.name, parsed, text, ok, time.perf_counter() - started, value)

    try:
        if isinstance(arguments, str) and arguments.strip():
            parsed = json.loads(arguments)
        bound = bind(tool.function, parsed, tool.parameters)
    except json.JSONDecodeError as error:
        return result(f"invalid arguments for {tool.name}: not valid JSON ({error.msg} at column {error.colno})", False)
    except SchemaMismatch as mismatch:
        return result(f"invalid arguments for {tool.name}: {mismatch.message}", False)
    try:
        value = tool.function(*bound.args, **bound.kwargs)
        if inspect.isawaitable(value):
            value = await value
    except Exception as error:
        return result(error_text(error), False)
    return result(result_text(value, budget), True, value)


def result_text(value: Any, budget: int = RESULT_BUDGET) -> str:
    """What a model reads of a tool's return value: a str as it is, else JSON, else repr; redacted and cut."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(jsonable(value), ensure_ascii=False)
        except (TypeError, ValueError, RecursionError):
            text = _repr(value)
    return cut(redact(text), budget)


def error_text(error: BaseException) -> str:
    """An exception as one redacted line: `KeyError: 'Paris'`, or a PuterError's own one-line text."""
    if isinstance(error, PuterError):
        return cut(error.one_line(), ERROR_BUDGET)
    message = " ".join(_str(error).split())
    return cut(redact(f"{type(error).__name__}: {message}" if message else type(error).__name__), ERROR_BUDGET)


def cut(text: str, budget: int) -> str:
    if len(text) <= budget:
        return text
    return f"{text[:budget]}… [cut: {len(text) - budget:,} more characters]"


def _repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<{type(value).__name__} object>"


def _str(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:
        return ""
