"""The checks both OpenAI request bodies (chat completions and responses) make of a field: its type and range,
refused with a 400 that names it (`param`). Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..datatypes import RANGES
from .openai_errors import InvalidRequest

MAX_INT = 2**31 - 1
RESPONSE_FORMATS = ("text", "json_object", "json_schema")


def requested_model(body: Any) -> str:
    """The `model` of a request body, which must be a JSON object."""
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > 256:
        raise InvalidRequest("`model` must be a non-empty string (a model id)", param="model")
    return model


def number(body: Mapping[str, Any], name: str) -> float | None:
    """A number within its RANGES."""
    value = body.get(name)
    if value is None:
        return None
    low, high = RANGES[name]
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(f"`{name}` must be a number from {low:g} to {high:g}", param=name, code="invalid_value")
    return float(value)


def integer(body: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        raise InvalidRequest(f"`{name}` must be an integer from {low} to {high}", param=name, code="invalid_value")
    return value


def flag(body: Mapping[str, Any], name: str, prefix: str = "") -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(f"`{prefix}{name}` must be true or false", param=prefix + name)
    return bool(value)


def string(body: Mapping[str, Any], name: str, prefix: str = "") -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"`{prefix}{name}` must be a string", param=prefix + name)
    return value


def format_kind(value: Any, param: str) -> str:
    """The `type` of an answer format object, one of RESPONSE_FORMATS; `param` names the object in the error."""
    if not isinstance(value, dict):
        raise InvalidRequest(f"`{param}` must be an object with a `type`", param=param)
    kind = value.get("type")
    if kind not in RESPONSE_FORMATS:
        raise InvalidRequest(
            f"`{param}.type` must be one of {', '.join(RESPONSE_FORMATS)}",
            param=f"{param}.type",
            code="unsupported_value",
        )
    return str(kind)


def unsupported(param: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="unsupported_parameter")
