"""Conversations as JSON data (format version 1), checked field by field when read back.

    to_json(active, threads)      {"version": 1, "active": NAME, "threads": {NAME: {"system", "turns"}}}
    from_json(data, default)      (active, threads); a malformed shape raises InputError saying where
    message_to_json / message_from_json   one chat Message (tool calls and results, part lists) as JSON data

`Conversations.to_json()` and `Conversations.from_json()` are built on these.

Pure: standard library, `puter_magic.datatypes`, `puter_magic.errors` and `puter_magic.core.threads` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..datatypes import ROLES, Message, ToolCall, Usage
from ..errors import InputError
from .threads import Thread, Turn

FORMAT_VERSION = 1


def to_json(active: str, threads: Iterable[Thread]) -> dict[str, Any]:
    """Everything, as plain JSON-able data (format version 1)."""
    return {
        "version": FORMAT_VERSION,
        "active": active,
        "threads": {
            thread.name: {"system": thread.system, "turns": [_turn_to_json(turn) for turn in thread.turns]}
            for thread in threads
        },
    }


def from_json(data: Mapping[str, Any], default: str) -> tuple[str, list[Thread]]:
    """The active thread's name and the threads of `to_json()` data (`default`: the thread that always exists
    and is active when the data names none); a malformed shape raises InputError saying where."""
    if not isinstance(data, Mapping):
        raise _malformed("the data", "must be a JSON object")
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise _malformed("'version'", f"must be {FORMAT_VERSION}, not {version!r}")
    raw_threads = data.get("threads")
    if not isinstance(raw_threads, Mapping):
        raise _malformed("'threads'", "must be an object of threads by name")
    threads = [_thread_from_json(_json_thread_name(name), raw) for name, raw in raw_threads.items()]
    active = _get(data, "active", (str,), "the data", default=default)
    if active != default and all(thread.name != active for thread in threads):
        raise _malformed("'active'", f"names no thread: {active!r}")
    return active, threads


def _malformed(where: str, problem: str) -> InputError:
    return InputError(f"{where} {problem}", hint="this is not a puter-magic conversation save, or it was edited")


_MISSING: Any = object()


def _get(data: Mapping[str, Any], name: str, kinds: tuple[type, ...], where: str, *, default: Any = _MISSING) -> Any:
    """data[name], checked to be one of `kinds` (None allowed only through `kinds`); bool never counts as a number."""
    if name not in data:
        if default is _MISSING:
            raise _malformed(where, f"has no {name!r}")
        return default
    value = data[name]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        shown = (kind for kind in kinds if not (kind is int and float in kinds))  # "a number" covers both
        expected = " or ".join(_JSON_TYPES.get(kind, kind.__name__) for kind in shown)
        raise _malformed(f"{where}.{name}", f"must be {expected}, not {_json_type(value)}")
    return value


_JSON_TYPES: dict[type, str] = {
    str: "text",
    int: "an integer",
    float: "a number",
    bool: "true or false",
    list: "a list",
    Mapping: "an object",
    type(None): "null",
}


def _json_type(value: Any) -> str:
    kind = next((kind for kind in (bool, *_JSON_TYPES) if isinstance(value, kind)), type(value))
    return _JSON_TYPES.get(kind, kind.__name__)


def _json_thread_name(name: Any) -> str:
    if not isinstance(name, str) or name != name.strip() or not name or not name.isprintable():
        raise _malformed("'threads'", f"has an invalid thread name: {name!r}")
    return name


def _thread_from_json(name: str, data: Any) -> Thread:
    values = _fields(data, {"system": (_TEXT, None), "turns": ((list,), [])}, f"thread {name!r}")
    turns = [_turn_from_json(raw, f"thread {name!r} turn {number}") for number, raw in enumerate(values["turns"], 1)]
    keys = [turn.key for turn in turns if turn.key is not None]
    if len(keys) != len(set(keys)):
        raise _malformed(f"thread {name!r}", "has two turns with the same cell key")
    return Thread(name, values["system"] or None, turns)


_TEXT = (str, type(None))
_TURN_FIELDS = {
    "prompt": ((str, list), _MISSING),  # a list: text and image parts (images stored beside a file: image_store)
    "answer": ((str,), _MISSING),
    "key": (_TEXT, None),
    "model": (_TEXT, None),
    "provider": (_TEXT, None),
    "usage": ((Mapping, type(None)), None),
    "interrupted": ((bool,), False),
    "created": ((int, float), 0.0),
}
_USAGE_FIELDS = {
    "input_tokens": ((int, type(None)), None),
    "output_tokens": ((int, type(None)), None),
    "cost_usd": ((int, float, type(None)), None),
    "estimated": ((bool,), False),
    "cached_tokens": ((int, type(None)), None),
}


def _turn_to_json(turn: Turn) -> dict[str, Any]:
    data = {name: getattr(turn, name) for name in _TURN_FIELDS}
    if turn.usage is not None:
        usage = {name: getattr(turn.usage, name) for name in _USAGE_FIELDS}
        if usage["cached_tokens"] is None:
            del usage["cached_tokens"]  # files stay as they were unless there is something to say
        data["usage"] = usage
    if turn.steps:  # a question answered with tools: its calls and their results (files without any stay as they were)
        data["steps"] = [message_to_json(message) for message in turn.steps]
    return data


def _fields(data: Any, schema: Mapping[str, tuple[tuple[type, ...], Any]], where: str) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise _malformed(where, "must be an object")
    return {name: _get(data, name, kinds, where, default=default) for name, (kinds, default) in schema.items()}


def _turn_from_json(data: Any, where: str) -> Turn:
    values = _fields(data, _TURN_FIELDS, where)
    values["steps"] = _steps_from_json(data.get("steps", []), f"{where}.steps")
    if isinstance(values["prompt"], list):
        if not all(isinstance(part, Mapping) for part in values["prompt"]):
            raise _malformed(f"{where}.prompt", "must be text or a list of content-part objects")
        values["prompt"] = [dict(part) for part in values["prompt"]]
    if values["usage"] is not None:
        usage = _fields(values["usage"], _USAGE_FIELDS, f"{where}.usage")
        values["usage"] = Usage(**usage)
    values["created"] = float(values["created"])
    return Turn(**values)


def _steps_from_json(raw: Any, where: str) -> tuple[Message, ...]:
    """A tool exchange read back: messages, and every call answered by exactly one tool message after it."""
    if not isinstance(raw, list):
        raise _malformed(where, "must be a list of messages")
    steps = tuple(message_from_json(item, f"{where} message {number}") for number, item in enumerate(raw, 1))
    open_calls: list[str] = []
    for message in steps:
        if message.role == "assistant":
            if open_calls:
                raise _malformed(where, f"has no result for the tool call {open_calls[0]!r}")
            open_calls = [call.id for call in message.tool_calls]
        elif message.role == "tool" and message.tool_call_id in open_calls:
            open_calls.remove(message.tool_call_id)
        else:
            raise _malformed(where, "holds a message that is no tool call or result of one")
    if open_calls:
        raise _malformed(where, f"has no result for the tool call {open_calls[0]!r}")
    return steps


def message_to_json(message: Message) -> dict[str, Any]:
    """One chat message (tool calls, tool results, part lists and reasoning included), as plain JSON data."""
    return message.to_dict()


_MESSAGE_FIELDS = {
    "role": ((str,), _MISSING),
    "content": ((str, list), ""),
    "tool_calls": ((list,), []),
    "tool_call_id": (_TEXT, None),
    "name": (_TEXT, None),
    "reasoning_content": (_TEXT, None),
}
_CALL_FIELDS = {"id": ((str,), _MISSING), "function": ((Mapping,), _MISSING)}
_FUNCTION_FIELDS = {"name": ((str,), _MISSING), "arguments": ((str,), "")}


def message_from_json(data: Any, where: str = "the message") -> Message:
    """A Message from `message_to_json()` data; a malformed shape raises InputError saying where."""
    values = _fields(data, _MESSAGE_FIELDS, where)
    if values["role"] not in ROLES:
        raise _malformed(f"{where} 'role'", f"must be one of {', '.join(ROLES)}")
    if isinstance(values["content"], list) and not all(isinstance(part, Mapping) for part in values["content"]):
        raise _malformed(f"{where} 'content'", "must be text or a list of content-part objects")
    calls = []
    for number, raw in enumerate(values["tool_calls"]):
        call = _fields(raw, _CALL_FIELDS, f"{where} tool call {number}")
        function = _fields(call["function"], _FUNCTION_FIELDS, f"{where} tool call {number} function")
        calls.append(ToolCall.from_text(call["id"], function["name"], function["arguments"]))
    values["content"] = (
        [dict(part) for part in values["content"]] if isinstance(values["content"], list) else values["content"]
    )
    values["tool_calls"] = tuple(calls)
    return Message(**values)
