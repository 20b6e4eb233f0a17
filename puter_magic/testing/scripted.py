"""Scripts for the local servers' tool-calling models: each request takes the next reply a test enqueued.

A reply is some text, tool calls, or both, as JSON (the control API) or built in Python::

    {"text": "Let me look."}                                          a final answer
    {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}   one call
    {"text": "Both:", "tool_calls": [{...}, {...}]}                    text, then parallel calls (in this order)
    {"tool_calls": [{"name": "get_weather", "arguments": "{city: Paris"}]}       arguments as raw text: not JSON
    {"tool_calls": [...], "repeat": true}                              never leaves the script: a model that never
                                                                       stops calling

    state.script.enqueue(ScriptedReply.calling(ScriptedCall("get_weather", {"city": "Paris"})), "Sunny, 18 °C.")

``arguments`` that are not a string are sent as compact JSON; a string is sent exactly as written. A call without
an ``id`` gets a fresh one each time it is served (repeated replies too), in the style of the server answering.
"""

from __future__ import annotations

import json
import random
import string
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

EMPTY_SCRIPT_TEXT = "(the script of this scripted model is empty)"
_ALPHANUMERIC = string.ascii_letters + string.digits
REPLY_KEYS = frozenset({"text", "tool_calls", "repeat"})
CALL_KEYS = frozenset({"name", "arguments", "id"})


def random_id(rng: random.Random, prefix: str, length: int) -> str:
    return prefix + "".join(rng.choice(_ALPHANUMERIC) for _ in range(length))


def compact_json(value: Any) -> str:
    """What JavaScript's JSON.stringify writes: no spaces, non-ASCII as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class ScriptedCall:
    """One tool call: ``arguments`` is a JSON value, or a string sent as written (possibly not JSON)."""

    name: str
    arguments: Any = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_text(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else compact_json(self.arguments)

    def parsed_arguments(self) -> tuple[bool, Any]:
        """(True, value) if the arguments are JSON, as Puter parses them (blank text is ``{}``); else (False, text)."""
        text = self.arguments_text
        if not text.strip():
            return True, {}
        try:
            return True, json.loads(text)
        except ValueError:
            return False, text

    @classmethod
    def from_json(cls, data: Any) -> ScriptedCall:
        if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
            raise ValueError("each tool call needs a `name` (a non-empty string)")
        unknown = set(data) - CALL_KEYS
        if unknown:
            raise ValueError(f"unknown tool call field(s): {', '.join(sorted(unknown))}")
        if data.get("id") is not None and not isinstance(data["id"], str):
            raise ValueError("a tool call's `id` must be a string")
        return cls(data["name"], data.get("arguments", {}), data.get("id"))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments, "id": self.id}


@dataclass(frozen=True)
class ScriptedReply:
    """What the model answers to one request: ``text`` first, then ``calls`` in order."""

    text: str = ""
    calls: tuple[ScriptedCall, ...] = ()
    repeat: bool = False  # stays at the head of the script, so every later request gets it again

    @classmethod
    def calling(cls, *calls: ScriptedCall, text: str = "", repeat: bool = False) -> ScriptedReply:
        return cls(text, calls, repeat)

    @classmethod
    def from_json(cls, data: Any) -> ScriptedReply:
        if isinstance(data, str):
            return cls(data)
        if not isinstance(data, dict):
            raise ValueError("a scripted reply is a string or an object with `text` and/or `tool_calls`")
        unknown = set(data) - REPLY_KEYS
        if unknown:
            raise ValueError(f"unknown scripted reply field(s): {', '.join(sorted(unknown))}")
        text, calls, repeat = data.get("text", ""), data.get("tool_calls", []), data.get("repeat", False)
        if not isinstance(text, str) or not isinstance(calls, list) or not isinstance(repeat, bool):
            raise ValueError("`text` must be a string, `tool_calls` a list and `repeat` a boolean")
        if not text and not calls:
            raise ValueError("a scripted reply needs `text` or `tool_calls`")
        return cls(text, tuple(ScriptedCall.from_json(call) for call in calls), repeat)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "tool_calls": [call.to_json() for call in self.calls], "repeat": self.repeat}

    def with_ids(self, rng: random.Random, prefix: str, length: int) -> ScriptedReply:
        """This reply with an id on every call that has none."""
        calls = tuple(call if call.id else replace(call, id=random_id(rng, prefix, length)) for call in self.calls)
        return replace(self, calls=calls)


def as_reply(item: ScriptedReply | str | Mapping[str, Any]) -> ScriptedReply:
    return item if isinstance(item, ScriptedReply) else ScriptedReply.from_json(item)


class Script:
    """A thread-safe queue of replies (the server's loop takes, the test thread enqueues)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._replies: deque[ScriptedReply] = deque()
        self.served = 0

    def enqueue(self, *replies: ScriptedReply | str | Mapping[str, Any]) -> None:
        """Add replies (a string is a text reply; a mapping is parsed as the control API's JSON)."""
        parsed = [as_reply(reply) for reply in replies]  # all or nothing
        with self._lock:
            self._replies.extend(parsed)

    def next(self) -> ScriptedReply | None:
        """The next reply (a repeating one stays), or None when the script is empty."""
        with self._lock:
            if not self._replies:
                return None
            self.served += 1
            return self._replies[0] if self._replies[0].repeat else self._replies.popleft()

    @property
    def pending(self) -> list[ScriptedReply]:
        with self._lock:
            return list(self._replies)

    def clear(self) -> None:
        with self._lock:
            self._replies.clear()
            self.served = 0


def v8_json_error(text: str) -> str:
    """The message of Node 20's ``JSON.parse(text)`` for the usual mistakes (checked against Node 20.20)."""
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        position = error.pos
        if error.msg.startswith("Unterminated string"):
            return f"Unterminated string in JSON at position {len(text)}"
        if position >= len(text):
            return "Unexpected end of JSON input"
        if error.msg.startswith("Expecting property name"):
            if text[:position].rstrip().endswith(","):
                return f"Expected double-quoted property name in JSON at position {position}"
            return f"Expected property name or '}}' in JSON at position {position}"
        if error.msg.startswith("Expecting value") or error.msg == "Extra data":
            return f"Unexpected token '{text[position]}', \"{text}\" is not valid JSON"
        return f"{error.msg} in JSON at position {position}"
    return ""
