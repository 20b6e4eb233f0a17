"""JSON schemas from Python: a callable's parameters (a tool), a type (a structured answer).

    function_schema(fn)   {"type": "object", "properties": …, "required": […], "additionalProperties": false}
    tool_entry(fn)        {"type": "function", "function": {"name", "description", "parameters"}}: an item of `tools`
    type_schema(tp)       the schema of a type; a dict is taken as a JSON schema already

Types with a JSON form: str, int, float, bool, None, Any, Literal, Enum, Optional / unions (`X | None`), list, tuple,
set, dict[str, X], Annotated (a str in its metadata is the description), NewType, dataclasses, TypedDicts, and
pydantic models (any class with `model_json_schema` and `model_validate`; pydantic itself is never imported).
Descriptions come from the docstring (core.docstrings): the summary describes the tool or the class, the Args /
Parameters / Attributes entries each parameter or field. Nested classes are written inline; a class that contains
itself is written once under "$defs" and referred to with "$ref", and a pydantic model's own "$defs" move to the root.

What has no JSON form — `*args`, `**kwargs`, a parameter without a type hint, a dict keyed by non-strings, any other
class — raises a one-line InputError naming the parameter or field. Pure: standard library only.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..errors import InputError
from .docstrings import parse_docstring
from .hints import callable_name, read_signature, type_hints

Schema = dict[str, Any]
SCALARS: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
SEQUENCES = {list, set, frozenset, Sequence, Iterable, typing.Sequence, typing.Iterable, list, set}
MAPPINGS = {dict, Mapping, typing.Mapping, dict}
UNIONS = {typing.Union, types.UnionType}
_QUALIFIERS = re.compile(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])")
JSON_TYPES = (
    "str, int, float, bool, a Literal, an Enum, a list, a dict[str, …], a dataclass, a TypedDict or a pydantic model"
)


def function_schema(function: Callable[..., Any], name: str | None = None) -> Schema:
    """The JSON schema of `function`'s parameters, as a model is asked to fill them in."""
    name = name or callable_name(function)
    signature, hints = read_signature(function, name)
    _, described = parse_docstring(inspect.getdoc(function))
    builder = _Builder(lambda path: f"{name}({path})")
    properties: Schema = {}
    required = []
    for parameter in signature.parameters.values():
        if parameter.kind is parameter.VAR_POSITIONAL:
            raise InputError(
                f"{name}(*{parameter.name}) cannot be described to a model, which passes arguments by name",
                hint=f"take a list instead, e.g. `{parameter.name}: list[str]`",
            )
        if parameter.kind is parameter.VAR_KEYWORD:
            raise InputError(
                f"{name}(**{parameter.name}) cannot be described to a model, which needs each argument's name",
                hint="name each parameter, or take a `dict[str, str]`",
            )
        if parameter.name not in hints:
            raise InputError(
                f"{name}({parameter.name}) has no type hint, so the model cannot be told what to send",
                hint=f"annotate it, e.g. `{parameter.name}: str`",
            )
        schema = builder.schema(hints[parameter.name], parameter.name)
        if parameter.name in described:
            schema = {**schema, "description": described[parameter.name]}
        if parameter.default is parameter.empty:
            required.append(parameter.name)
        else:
            schema = with_default(schema, parameter.default)
        properties[parameter.name] = schema
    return builder.root(
        {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
    )


def tool_entry(function: Callable[..., Any], name: str | None = None, description: str | None = None) -> Schema:
    """The OpenAI `tools` item for `function`: its name, its docstring's summary and its parameters' schema."""
    name = name or callable_name(function)
    if description is None:
        description, _ = parse_docstring(inspect.getdoc(function))
    entry: Schema = {"name": name, "description": description, "parameters": function_schema(function, name)}
    if not description:
        del entry["description"]
    return {"type": "function", "function": entry}


def type_schema(tp: Any) -> Schema:
    """The JSON schema of values of type `tp` (a structured answer); a dict is returned as it is (a schema)."""
    if isinstance(tp, dict):
        return tp
    label = type_name(tp)
    builder = _Builder(lambda path: f"{label}.{path}" if path else label)
    return builder.root(builder.schema(tp, ""))


def type_name(tp: Any) -> str:
    """`list[Person]`, not `list[__main__.Person]`."""
    return tp.__name__ if isinstance(tp, type) else _QUALIFIERS.sub("", repr(tp))


def is_pydantic_model(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "model_json_schema") and hasattr(tp, "model_validate")


def is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def with_default(schema: Schema, default: Any) -> Schema:
    """`schema` with `"default"` when the default has a JSON form (an Enum member stands for its value)."""
    value = default.value if isinstance(default, enum.Enum) else default
    try:
        if value is not None and type(value) not in SCALARS:
            json.dumps(value)
    except (TypeError, ValueError):
        return schema
    return {**schema, "default": value}


def unwrap(tp: Any) -> tuple[Any, str | None]:
    """(the type under Annotated / NewType layers, the first str found in Annotated metadata)."""
    description = None
    while True:
        if typing.get_origin(tp) is typing.Annotated:
            description = description or next((m for m in tp.__metadata__ if isinstance(m, str)), None)
            tp = tp.__origin__
        elif hasattr(tp, "__supertype__"):
            tp = tp.__supertype__
        else:
            return tp, description


class _Builder:
    """One schema being built: the classes on the way down (to spot a class inside itself) and the "$defs"."""

    def __init__(self, label: Callable[[str], str]) -> None:
        self.label = label
        self.defs: Schema = {}
        self.stack: list[type] = []
        self.recursive: set[type] = set()
        self.built: dict[type, Schema] = {}  # a class used twice is built once

    def root(self, schema: Schema) -> Schema:
        if "$ref" in schema and self.defs:  # the root type contains itself: its body becomes the root
            schema = dict(self.defs[schema["$ref"].rsplit("/", 1)[1]])
        if self.defs:
            schema = {**schema, "$defs": self.defs}
        return schema

    def fail(self, path: str, message: str, hint: str = f"use {JSON_TYPES}") -> typing.NoReturn:
        raise InputError(f"{self.label(path)}: {message}", hint=hint)

    def schema(self, tp: Any, path: str) -> Schema:
        tp, description = unwrap(tp)
        schema = self._bare(tp, path)
        return {**schema, "description": description} if description else schema

    def _bare(self, tp: Any, path: str) -> Schema:
        if tp is Any or tp is object:
            return {}
        if tp is None or tp in SCALARS:
            return {"type": SCALARS[type(None) if tp is None else tp]}
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is typing.Literal:
            return self._literal(args, path)
        if origin in UNIONS:
            return {"anyOf": [self.schema(member, path) for member in args]}
        if tp in SEQUENCES or origin in SEQUENCES:
            return {"type": "array", "items": self.schema(args[0], path)} if args else {"type": "array"}
        if tp is tuple or origin is tuple:
            return self._tuple(args, path)
        if tp in MAPPINGS or origin in MAPPINGS:
            if args and unwrap(args[0])[0] not in (str, Any):
                self.fail(path, f"a dict keyed by {type_name(args[0])} has no JSON form (JSON keys are strings)")
            values = self.schema(args[1], path) if args else {}
            return {"type": "object", "additionalProperties": values} if values else {"type": "object"}
        if isinstance(tp, type) and issubclass(tp, enum.Enum):
            return self._literal(tuple(member.value for member in tp), path)
        if is_pydantic_model(tp):
            schema = dict(tp.model_json_schema())
            self.defs.update(schema.pop("$defs", {}))
            return schema
        if dataclasses.is_dataclass(tp) or is_typeddict(tp):
            return self._class(tp, path)
        self.fail(path, f"the type {type_name(tp)} has no JSON form")

    def _literal(self, values: tuple[Any, ...], path: str) -> Schema:
        kinds = {SCALARS.get(type(value)) for value in values}
        if None in kinds or not values:
            self.fail(path, f"Literal / Enum values must be str, int, float, bool or None, not {values!r}")
        schema: Schema = {"enum": list(values)}
        return {"type": kinds.pop(), **schema} if len(kinds) == 1 else schema

    def _tuple(self, args: tuple[Any, ...], path: str) -> Schema:
        if not args or args == ((),):
            return {"type": "array"} if not args else {"type": "array", "maxItems": 0}
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": self.schema(args[0], path)}
        items = [self.schema(arg, path) for arg in args]
        return {"type": "array", "prefixItems": items, "items": False, "minItems": len(args), "maxItems": len(args)}

    def _class(self, cls: type, path: str) -> Schema:
        if cls in self.built:
            return dict(self.built[cls])
        reference = {"$ref": f"#/$defs/{cls.__name__}"}
        if cls in self.stack:
            self.recursive.add(cls)
            return reference
        self.stack.append(cls)
        try:
            schema = self._class_body(cls, path)
        finally:
            self.stack.pop()
        if cls in self.recursive:
            self.defs[cls.__name__] = schema
            schema = reference
        self.built[cls] = schema
        return dict(schema)

    def _class_body(self, cls: type, path: str) -> Schema:
        hints = type_hints(cls)
        summary, described = parse_docstring(class_doc(cls))
        properties: Schema = {}
        required: list[str] = []
        for name, default, needed in class_fields(cls, hints):
            schema = self.schema(hints[name], f"{path}.{name}" if path else name)
            if name in described:
                schema = {**schema, "description": described[name]}
            if needed:
                required.append(name)
            elif default is not dataclasses.MISSING:
                schema = with_default(schema, default)
            properties[name] = schema
        schema = {"type": "object", "properties": properties, "required": required, "additionalProperties": False}
        return {"description": summary, **schema} if summary else schema


def class_doc(cls: type) -> str | None:
    """A class's own docstring; the one dataclasses writes (its signature) says nothing a model needs."""
    doc = cls.__dict__.get("__doc__")
    return None if not doc or doc.startswith(f"{cls.__name__}(") else doc


def class_fields(cls: type, hints: dict[str, Any]) -> list[tuple[str, Any, bool]]:
    """(name, default or MISSING, required) for each field a dataclass's __init__ or a TypedDict takes."""
    if dataclasses.is_dataclass(cls):
        return [
            (
                field.name,
                field.default,
                field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING,
            )
            for field in dataclasses.fields(cls)
            if field.init
        ]
    required_keys = getattr(cls, "__required_keys__", frozenset(hints))
    return [(name, dataclasses.MISSING, name in required_keys) for name in hints]
