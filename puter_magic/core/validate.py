"""Check parsed JSON against a schema of core.schemas, then turn it into the Python types the schema came from.

    check(value, schema, root="people")   raises SchemaMismatch: `people[2].age: expected integer, got "x"`
    problems(value, schema)               the same findings as a list (at most `limit`), one line each
    parse_json(text)                      json.loads, or a one-line SchemaMismatch saying where the JSON breaks
    convert(value, tp)                    dataclass instances (recursively), Enum members, pydantic models (through
                                          `model_validate`), tuples and sets; TypedDicts and dicts stay dicts
    bind(function, arguments)             a tool call's arguments (JSON text or a dict), checked and converted, bound
                                          to the function's parameters
    jsonable(value)                       the inverse of convert: plain JSON data

The keywords understood are those core.schemas writes and pydantic commonly does: type, enum, const, properties,
required, additionalProperties, items, prefixItems, minItems, maxItems, anyOf / oneOf, allOf, $ref into $defs,
minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern. Others are ignored. The
messages are written to be sent back to a model as they are. Pure: standard library only.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import operator
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import SchemaMismatch
from .hints import callable_name, read_signature, type_hints
from .schemas import (
    Schema,
    function_schema,
    is_pydantic_model,
    is_typeddict,
    type_schema,
    unwrap,
)

JSON_TYPE_OF = {str: "string", bool: "boolean", int: "integer", float: "number", type(None): "null", list: "array"}
_IDENTIFIER = re.compile(r"^[A-Za-z_]\w*$")


def check(value: Any, schema: Schema, *, root: str = "", text: str = "") -> None:
    """Raises SchemaMismatch listing (up to three of) the places where `value` does not fit `schema`."""
    found = problems(value, schema, root=root)
    if found:
        more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
        raise SchemaMismatch("; ".join(found[:3]) + more, problems=found, text=text)


def problems(value: Any, schema: Schema, *, root: str = "", limit: int = 10) -> list[str]:
    checker = _Checker(schema, limit)
    checker.check(value, schema, root)
    return checker.found


def parse_json(text: str, what: str = "the answer") -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SchemaMismatch(
            f"{what}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})", text=text
        ) from None


def _where(path: str, message: str) -> str:
    return f"{path}: {message}" if path else message


def _key(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key, ensure_ascii=False)}]"


def show(value: Any, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_type(value: Any) -> str:
    return "object" if isinstance(value, dict) else JSON_TYPE_OF.get(type(value), type(value).__name__)


def is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return (type(value) is int) or (type(value) is float and value.is_integer())
    if name == "number":
        return type(value) in (int, float)
    return json_type(value) == name


def same(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1`."""
    return a == b and (type(a) is bool) == (type(b) is bool)


class _Checker:
    def __init__(self, root_schema: Schema, limit: int) -> None:
        self.defs: Schema = root_schema.get("$defs") or root_schema.get("definitions") or {}
        self.limit = limit
        self.found: list[str] = []

    def resolve(self, schema: Any) -> Any:
        while isinstance(schema, dict) and "$ref" in schema:
            schema = self.defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        return schema

    def fits(self, value: Any, schema: Any) -> bool:
        probe = _Checker({}, 1)
        probe.defs = self.defs
        probe.check(value, schema, "")
        return not probe.found

    def add(self, path: str, message: str) -> None:
        if len(self.found) < self.limit:
            self.found.append(_where(path, message))

    def check(self, value: Any, schema: Any, path: str) -> None:
        schema = self.resolve(schema)
        if schema is False:
            return self.add(path, f"no value is allowed here, got {show(value)}")
        if not isinstance(schema, dict) or len(self.found) >= self.limit:
            return None
        for part in schema.get("allOf", ()):
            self.check(value, part, path)
        alternatives = schema.get("anyOf", schema.get("oneOf"))
        if alternatives is not None and not any(self.fits(value, alt) for alt in alternatives):
            return self.no_alternative(value, [self.resolve(alt) for alt in alternatives], path)
        if "const" in schema and not same(value, schema["const"]):
            return self.add(path, f"expected {show(schema['const'])}, got {show(value)}")
        if "enum" in schema and not any(same(value, option) for option in schema["enum"]):
            options = ", ".join(show(option) for option in schema["enum"])
            return self.add(path, f"expected one of {options}, got {show(value)}")
        kinds = schema.get("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if kinds and not any(is_type(value, kind) for kind in kinds):
            return self.add(path, f"expected {' or '.join(kinds)}, got {show(value)}")
        if isinstance(value, str):
            self.check_string(value, schema, path)
        elif type(value) in (int, float):
            self.check_number(value, schema, path)
        elif isinstance(value, list):
            self.check_array(value, schema, path)
        elif isinstance(value, dict):
            self.check_object(value, schema, path)
        return None

    def no_alternative(self, value: Any, alternatives: list[Any], path: str) -> None:
        kinds = [alt.get("type") if isinstance(alt, dict) else None for alt in alternatives]
        matching = [alt for alt, kind in zip(alternatives, kinds, strict=True) if kind and is_type(value, str(kind))]
        if len(matching) == 1:  # the value has the right shape for one alternative: say what is wrong inside it
            return self.check(value, matching[0], path)
        names = [str(kind) if isinstance(kind, str) else "one of the allowed shapes" for kind in kinds]
        return self.add(path, f"expected {' or '.join(dict.fromkeys(names))}, got {show(value)}")

    def check_string(self, value: str, schema: Schema, path: str) -> None:
        if len(value) < schema.get("minLength", 0):
            self.add(path, f"expected at least {schema['minLength']} characters, got {show(value)}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self.add(path, f"expected at most {schema['maxLength']} characters, got {show(value)}")
        if "pattern" in schema and re.search(schema["pattern"], value) is None:
            self.add(path, f"expected text matching {schema['pattern']}, got {show(value)}")

    def check_number(self, value: float, schema: Schema, path: str) -> None:
        for keyword, words, fails in (
            ("minimum", "at least", operator.lt),
            ("maximum", "at most", operator.gt),
            ("exclusiveMinimum", "more than", operator.le),
            ("exclusiveMaximum", "less than", operator.ge),
        ):
            if keyword in schema and fails(value, schema[keyword]):
                self.add(path, f"expected a number {words} {schema[keyword]}, got {show(value)}")

    def check_array(self, value: list[Any], schema: Schema, path: str) -> None:
        if len(value) < schema.get("minItems", 0):
            self.add(path, f"expected at least {schema['minItems']} items, got {len(value)}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            self.add(path, f"expected at most {schema['maxItems']} items, got {len(value)}")
        prefix = schema.get("prefixItems", [])
        for index, item in enumerate(value):
            self.check(item, prefix[index] if index < len(prefix) else schema.get("items", True), f"{path}[{index}]")

    def check_object(self, value: dict[str, Any], schema: Schema, path: str) -> None:
        properties = schema.get("properties", {})
        missing = [name for name in schema.get("required", ()) if name not in value]
        if missing:
            self.add(path, f"missing required {', '.join(json.dumps(name) for name in missing)}")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                self.check(item, properties[key], _key(path, key))
            elif extra is False:
                names = ", ".join(list(properties)[:12]) + (", …" if len(properties) > 12 else "")
                allowed = f" (expected only {names})" if properties else ""
                self.add(path, f"unexpected {json.dumps(key, ensure_ascii=False)}{allowed}")
            else:
                self.check(item, extra, _key(path, key))


def convert(value: Any, tp: Any, path: str = "") -> Any:
    """`value` (which fits type_schema(tp)) as an instance of `tp`; SchemaMismatch when a class refuses it."""
    tp, _ = unwrap(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is float and type(value) is int:
        return float(value)
    if tp is int and type(value) is float:
        return int(value)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        members = [member for member in args if member is not type(None)]
        chosen = next((m for m in members if not problems(value, type_schema(m), limit=1)), members[0])
        return convert(value, chosen, path)
    if isinstance(value, list) and args and (origin in (list, set, frozenset, tuple) or _abstract_sequence(origin)):
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            pairs = enumerate(zip(value, args, strict=True))
            return tuple(convert(item, arg, f"{path}[{i}]") for i, (item, arg) in pairs)
        items = [convert(item, args[0], f"{path}[{i}]") for i, item in enumerate(value)]
        return items if origin is list or _abstract_sequence(origin) else origin(items)
    if isinstance(value, dict) and len(args) == 2 and origin in (dict, Mapping):
        return {key: convert(item, args[1], _key(path, key)) for key, item in value.items()}
    if isinstance(tp, type) and isinstance(value, dict):
        if dataclasses.is_dataclass(tp) or is_pydantic_model(tp):
            return _construct(tp, value, path)
        if is_typeddict(tp):
            hints = type_hints(tp)
            return {key: convert(item, hints.get(key, Any), _key(path, key)) for key, item in value.items()}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _construct(tp, value, path)
    return value


def _abstract_sequence(origin: Any) -> bool:
    return origin is not None and origin.__module__ == "collections.abc" and origin.__name__ in ("Sequence", "Iterable")


def _construct(cls: type, value: Any, path: str) -> Any:
    try:
        if is_pydantic_model(cls):
            return cls.model_validate(value)  # type: ignore[attr-defined]
        if isinstance(value, dict):
            hints = type_hints(cls)
            return cls(**{key: convert(item, hints[key], _key(path, key)) for key, item in value.items()})
        return cls(value)
    except SchemaMismatch:
        raise
    except Exception as error:  # __post_init__, a pydantic validator, …: say why, on one line
        reason = " ".join(str(error).split())[:200]
        raise SchemaMismatch(_where(path, f"{cls.__name__} refused it ({type(error).__name__}: {reason})")) from None


def bind(function: Callable[..., Any], arguments: Any, schema: Schema | None = None) -> inspect.BoundArguments:
    """A tool call's arguments (JSON text, a dict or None), checked against `schema` and converted to the types of
    `function`'s parameters."""
    if isinstance(arguments, str):
        arguments = parse_json(arguments, "the arguments") if arguments.strip() else {}
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise SchemaMismatch(f"the arguments must be a JSON object, got {show(arguments)}")
    name = callable_name(function)
    check(arguments, schema if schema is not None else function_schema(function, name))
    positional: list[Any] = []
    named: dict[str, Any] = {}
    signature, hints = read_signature(function, name)
    for parameter in signature.parameters.values():
        given = parameter.name in arguments
        value = (
            convert(arguments[parameter.name], hints.get(parameter.name, Any), parameter.name)
            if given
            else parameter.default
        )
        if parameter.kind is parameter.POSITIONAL_ONLY:
            positional.append(value)
        elif given:
            named[parameter.name] = value
    return signature.bind(*positional, **named)


def jsonable(value: Any) -> Any:
    """Plain JSON data from typed values: dataclasses and pydantic models as objects, Enums as their values, tuples
    and sets as arrays; TypeError for anything else."""
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if is_pydantic_model(type(value)):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(item) for item in value]
    if value is None or type(value) in (str, int, float, bool):
        return value
    raise TypeError(f"{type(value).__name__} has no JSON form")
