"""OpenAI's `/v1/chat/completions` and `/v1/models` wire shapes, translated to and from puter_magic's types.

Pure: the standard library and puter_magic's types and errors only; no IO, no clock unless asked.

    parse_body(raw) -> Any                    bytes → JSON value (NaN/Infinity and bad UTF-8 refused, lone
                                              surrogates such as `"\\ud83d"` replaced by U+FFFD)
    parse_chat_request(body) -> ChatCall      a validated ChatRequest, plus `stream` / `include_usage`
    completion_object(...), ChunkWriter       answers: `chat.completion`, `chat.completion.chunk` objects
    model_object(...), model_list(...)        `/v1/models` objects
    error_reply(exc) -> ErrorReply            any exception → (status, OpenAI-shaped body, headers); the table
                                              is in openai_errors, re-exported here

Usage numbers are the provider's when it reported them. When it did not, that side is estimated at about four
characters a token and the usage object carries the extension key `"estimated": true` (the openai SDK keeps it,
as `usage.model_extra["estimated"]`).

Accepted, beyond the obvious: role `developer` (sent as `system`); content parts (all-text part lists are joined
into one string, other parts such as images pass through); `max_completion_tokens` (wins over `max_tokens`);
`tools`, `tool_choice`, `parallel_tool_calls` passed on. Unknown fields are ignored; `n` other than 1 is refused.
A string with an unpaired UTF-16 surrogate (valid JSON, but no text: half an emoji) is repaired, not refused: the
half becomes U+FFFD, as a browser's TextEncoder would send it (see `jsontext`). In answers, an emoji that upstream
split across two events is joined again (`ChunkWriter` holds a trailing high surrogate back for one event).
Not carried (puter_magic's Message has only role and content): `tool_calls` of assistant messages and
`tool_call_id` / `name` of messages.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..jsontext import repaired
from ..types import (
    ROLES,
    ChatRequest,
    Completion,
    Finished,
    Message,
    ModelInfo,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from .openai_errors import INVALID, ErrorReply, InvalidRequest, error_body, error_reply

MAX_INT = 2**31 - 1
__all__ = [
    "INVALID",
    "ChatCall",
    "ChunkWriter",
    "ErrorReply",
    "InvalidRequest",
    "completion_object",
    "error_body",
    "error_reply",
    "model_list",
    "model_object",
    "parse_body",
    "parse_chat_request",
]


@dataclass(frozen=True)
class ChatCall:
    """A validated chat request and how the answer should be sent."""

    request: ChatRequest
    stream: bool = False
    include_usage: bool = False


# --- requests -------------------------------------------------------------------------------------


def parse_body(raw: bytes) -> Any:
    """The JSON value of a request body; InvalidRequest when it is not strict JSON in UTF-8."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not valid JSON")

    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=refuse)
        return repaired(value) if _SURROGATE_ESCAPE.search(raw) else value
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise InvalidRequest(f"the request body is not valid JSON: {reason}", code="invalid_json") from None


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # strict UTF-8 cannot carry a surrogate: only escapes can


def parse_chat_request(body: Any) -> ChatCall:
    """Validate a `/v1/chat/completions` body and translate it; raises InvalidRequest naming the bad field."""
    if not isinstance(body, dict):
        raise InvalidRequest("the request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model.strip() or len(model) > 256:
        raise InvalidRequest("`model` must be a non-empty string (a model id)", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("`messages` must be a non-empty array of messages", param="messages")
    n = body.get("n")
    if n is not None and (type(n) is not int or n != 1):
        raise InvalidRequest("only `n` = 1 is supported", param="n", code="unsupported_value")
    max_tokens = _integer(body, "max_completion_tokens", 1, MAX_INT)
    if max_tokens is None:
        max_tokens = _integer(body, "max_tokens", 1, MAX_INT)
    stream = _flag(body, "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("`stream_options` must be an object", param="stream_options")
    include_usage = _flag(options or {}, "include_usage", "stream_options.")
    request = ChatRequest(
        tuple(_message(raw, index) for index, raw in enumerate(messages)),
        model.strip(),
        temperature=_number(body, "temperature", 0, 2),
        max_tokens=max_tokens,
        top_p=_number(body, "top_p", 0, 1),
        stop=_stop(body.get("stop")),
        seed=_integer(body, "seed", -(2**63), 2**63 - 1),
        tools=_tools(body.get("tools")),
        extra=_tool_options(body),
    )
    return ChatCall(request, stream, include_usage and stream)


def _message(raw: Any, index: int) -> Message:
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise InvalidRequest(f"`{where}` must be an object with `role` and `content`", param=where)
    role = "system" if raw.get("role") == "developer" else raw.get("role")
    if role not in ROLES:
        raise InvalidRequest(f"`{where}.role` must be one of {', '.join(ROLES)}", param=f"{where}.role")
    content = raw.get("content")
    if content is None and role == "assistant":
        content = ""  # an assistant turn that only called tools
    if isinstance(content, list):
        content = _parts(content, f"{where}.content")
    elif not isinstance(content, str):
        raise InvalidRequest(
            f"`{where}.content` must be a string or an array of content parts", param=f"{where}.content"
        )
    return Message(role, content)


def _parts(parts: list[Any], where: str) -> str | list[dict[str, Any]]:
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise InvalidRequest(f"`{where}[{index}]` must be an object with a `type`", param=f"{where}[{index}]")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise InvalidRequest(f"`{where}[{index}].text` must be a string", param=f"{where}[{index}].text")
    if all(part["type"] == "text" for part in parts):
        return "".join(part["text"] for part in parts)
    return [dict(part) for part in parts]


def _number(body: Mapping[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(f"`{name}` must be a number from {low:g} to {high:g}", param=name, code="invalid_value")
    return float(value)


def _integer(body: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if type(value) is not int or not low <= value <= high:
        raise InvalidRequest(f"`{name}` must be an integer from {low} to {high}", param=name, code="invalid_value")
    return value


def _flag(body: Mapping[str, Any], name: str, prefix: str = "") -> bool:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(f"`{prefix}{name}` must be true or false", param=prefix + name)
    return bool(value)


def _stop(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value) or None
    raise InvalidRequest("`stop` must be a string or an array of strings", param="stop")


def _tools(value: Any) -> tuple[Mapping[str, Any], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(tool, dict) for tool in value):
        raise InvalidRequest("`tools` must be an array of tool objects", param="tools")
    return tuple(value) or None


def _tool_options(body: Mapping[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, str | dict):
            raise InvalidRequest("`tool_choice` must be a string or an object", param="tool_choice")
        extra["tool_choice"] = choice
    if body.get("parallel_tool_calls") is not None:
        extra["parallel_tool_calls"] = _flag(body, "parallel_tool_calls")
    return extra


# --- answers --------------------------------------------------------------------------------------

_FINISH = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
}


def new_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def estimate_tokens(chars: int) -> int:
    """About four characters a token (what Puter's own fake provider assumes too)."""
    return math.ceil(chars / 4)


def finish_reason(raw: str | None, *, tool_calls: bool = False) -> str:
    return _FINISH.get(raw or "", "tool_calls" if tool_calls else "stop")


def usage_object(usage: Usage, *, prompt_chars: int, completion_chars: int) -> dict[str, Any]:
    """OpenAI's usage object from the provider's numbers, estimating (and saying so) what it did not report."""
    prompt = usage.input_tokens if usage.input_tokens is not None else estimate_tokens(prompt_chars)
    completion = usage.output_tokens if usage.output_tokens is not None else estimate_tokens(completion_chars)
    data: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if usage.estimated or usage.input_tokens is None or usage.output_tokens is None:
        data["estimated"] = True
    return data


def prompt_chars(request: ChatRequest) -> int:
    return sum(len(message.text) for message in request.messages)


def _tool_call(call: ToolCall, index: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {} if index is None else {"index": index}
    arguments = json.dumps(call.arguments, ensure_ascii=False, default=str)
    data.update({"id": call.id, "type": "function", "function": {"name": call.name, "arguments": arguments}})
    return data


def completion_object(
    completion: Completion, request: ChatRequest, *, created: int, id: str | None = None
) -> dict[str, Any]:
    """A whole `chat.completion` answer."""
    message: dict[str, Any] = {"role": "assistant", "content": completion.text}
    if completion.tool_calls:
        message["tool_calls"] = [_tool_call(call) for call in completion.tool_calls]
        message["content"] = completion.text or None
    if completion.reasoning:
        message["reasoning_content"] = completion.reasoning
    out_chars = len(completion.text) + len(completion.reasoning)
    out_chars += sum(len(json.dumps(call.arguments, default=str)) for call in completion.tool_calls)
    reason = finish_reason(completion.finish_reason, tool_calls=bool(completion.tool_calls))
    return {
        "id": id or new_id(),
        "object": "chat.completion",
        "created": created,
        "model": completion.model or request.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reason}],
        "usage": usage_object(completion.usage, prompt_chars=prompt_chars(request), completion_chars=out_chars),
    }


@dataclass
class ChunkWriter:
    """Stream events in, `chat.completion.chunk` objects out (sans-IO: the caller frames and sends them)."""

    request: ChatRequest
    created: int
    include_usage: bool = False
    id: str = field(default_factory=new_id)
    finished: bool = False
    _chars: int = 0
    _tools: int = 0
    _held: dict[str, str] = field(default_factory=dict)

    def _chunk(self, delta: dict[str, Any], reason: str | None = None, model: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        return self._frame([choice], model)

    def _frame(self, choices: list[Any], model: str | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": model or self.request.model,
            "choices": choices,
        }

    def start(self) -> dict[str, Any]:
        """The first chunk: the assistant role, no text yet."""
        return self._chunk({"role": "assistant", "content": ""})

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        if self.finished:
            return []
        if isinstance(event, TextDelta):
            text = self._joined("content", event.text)
            return [self._chunk({"content": text})] if text else []
        if isinstance(event, ReasoningDelta):
            text = self._joined("reasoning_content", event.text)
            return [self._chunk({"reasoning_content": text})] if text else []
        if isinstance(event, ToolCall):
            call = _tool_call(event, self._tools)
            self._tools += 1
            self._chars += len(call["function"]["arguments"])
            return [self._chunk({"tool_calls": [call]})]
        return self.finish(event)

    def _joined(self, key: str, text: str) -> str:
        """`text` after what was held back; a trailing high surrogate (half an emoji) waits for its other half."""
        self._chars += len(text)
        held = self._held.pop(key, "")
        if held:
            text = held + text
        if text and "\ud800" <= text[-1] <= "\udbff":
            self._held[key], text = text[-1], text[:-1]
        return text

    def finish(self, event: Finished | None = None) -> list[dict[str, Any]]:
        """The closing chunk (and the usage chunk when asked); `event` None when the stream ended without one."""
        if self.finished:
            return []
        self.finished = True
        event = event or Finished()
        reason = finish_reason(event.finish_reason, tool_calls=self._tools > 0)
        chunks = [self._chunk({key: half}) for key, half in self._held.items()]  # sent as U+FFFD
        chunks.append(self._chunk({}, reason, event.model))
        if self.include_usage:
            usage = usage_object(event.usage, prompt_chars=prompt_chars(self.request), completion_chars=self._chars)
            chunks.append(self._frame([], event.model) | {"usage": usage})
        return chunks


def model_object(info: ModelInfo, owner: str) -> dict[str, Any]:
    """A `/v1/models` entry. `created` is 0: no provider says when a model was made."""
    return {"id": info.id, "object": "model", "created": 0, "owned_by": info.provider or owner}


def model_list(models: list[ModelInfo], owner: str) -> dict[str, Any]:
    return {"object": "list", "data": [model_object(info, owner) for info in models]}
