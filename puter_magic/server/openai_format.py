"""OpenAI's `/v1/chat/completions` and `/v1/models` answers, translated from puter_magic's types.

Pure: the standard library and puter_magic's types and errors only; no IO, no clock unless asked.

    parse_body, parse_chat_request, ChatCall  requests: see openai_request (re-exported here)
    completion_object(...), ChunkWriter       answers: `chat.completion`, `chat.completion.chunk` objects
    model_object(...), model_list(...)        `/v1/models` objects
    error_reply(exc) -> ErrorReply            any exception → (status, OpenAI-shaped body, headers); the table
                                              is in openai_errors, re-exported here

Usage numbers are the provider's when it reported them. When it did not, that side is estimated at about four
characters a token and the usage object carries the extension key `"estimated": true` (the openai SDK keeps it,
as `usage.model_extra["estimated"]`). Cache reads the upstream reported go in
`usage.prompt_tokens_details.cached_tokens` (and are counted in `prompt_tokens`, as OpenAI counts them).

Tool calls go out as OpenAI's `tool_calls` (streamed: one whole call per chunk, with its `index`), with their
arguments exactly as the model wrote them; `finish_reason` is `tool_calls` whenever the model called a tool,
even where upstream says `stop` (Puter's Claude path always does).
In answers, an emoji that upstream split across two events is joined again (`ChunkWriter` holds a trailing high
surrogate back for one event).
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from ..datatypes import (
    ChatRequest,
    Completion,
    Finished,
    ModelInfo,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
)
from .openai_errors import INVALID, ErrorReply, InvalidRequest, error_body, error_reply
from .openai_request import ChatCall, parse_body, parse_chat_request

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
    reason = _FINISH.get(raw or "", "stop")
    return "tool_calls" if tool_calls and reason == "stop" else reason


def usage_object(usage: Usage, *, prompt_chars: int, completion_chars: int) -> dict[str, Any]:
    """OpenAI's usage object from the provider's numbers, estimating (and saying so) what it did not report."""
    prompt = usage.input_tokens if usage.input_tokens is not None else estimate_tokens(prompt_chars)
    completion = usage.output_tokens if usage.output_tokens is not None else estimate_tokens(completion_chars)
    data: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if usage.cached_tokens is not None and usage.input_tokens is not None:
        data["prompt_tokens_details"] = {"cached_tokens": usage.cached_tokens}
    if usage.estimated or usage.input_tokens is None or usage.output_tokens is None:
        data["estimated"] = True
    return data


def prompt_chars(request: ChatRequest) -> int:
    return sum(len(message.text) for message in request.messages)


def _tool_call(call: ToolCall, index: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {} if index is None else {"index": index}
    return data | call.to_dict()


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
    out_chars += sum(len(call.arguments_json) for call in completion.tool_calls)
    reason = finish_reason(completion.finish_reason, tool_calls=bool(completion.tool_calls))
    return {
        "id": id or new_id(),
        "object": "chat.completion",
        "created": created,
        "model": completion.model or request.model,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reason}],
        "usage": usage_object(completion.usage, prompt_chars=prompt_chars(request), completion_chars=out_chars),
    }


class StreamWriter:
    """Stream events in, an API's stream objects out (sans-IO: the caller frames and sends them); nothing once it
    finished. A writer says how it writes a delta of text or reasoning, a tool call, and the end."""

    finished: bool

    def feed(self, event: StreamEvent) -> list[dict[str, Any]]:
        if self.finished:
            return []
        if isinstance(event, TextDelta | ReasoningDelta):
            return self._delta(event)
        if isinstance(event, ToolCall):
            return self._tool_call(event)
        return self.finish(event)

    def finish(self, event: Finished | None = None) -> list[dict[str, Any]]:
        """The closing objects; `event` None when the stream ended without a Finished."""
        if self.finished:
            return []
        self.finished = True
        return self._end(event or Finished())

    def _delta(self, event: TextDelta | ReasoningDelta) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _tool_call(self, call: ToolCall) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _end(self, event: Finished) -> list[dict[str, Any]]:
        raise NotImplementedError


@dataclass
class ChunkWriter(StreamWriter):
    """Stream events in, `chat.completion.chunk` objects out."""

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

    def _delta(self, event: TextDelta | ReasoningDelta) -> list[dict[str, Any]]:
        key = "content" if isinstance(event, TextDelta) else "reasoning_content"
        text = self._joined(key, event.text)
        return [self._chunk({key: text})] if text else []

    def _tool_call(self, event: ToolCall) -> list[dict[str, Any]]:
        call = _tool_call(event, self._tools)
        self._tools += 1
        self._chars += len(call["function"]["arguments"])
        return [self._chunk({"tool_calls": [call]})]

    def _joined(self, key: str, text: str) -> str:
        """`text` after what was held back; a trailing high surrogate (half an emoji) waits for its other half."""
        self._chars += len(text)
        held = self._held.pop(key, "")
        if held:
            text = held + text
        if text and "\ud800" <= text[-1] <= "\udbff":
            self._held[key], text = text[-1], text[:-1]
        return text

    def _end(self, event: Finished) -> list[dict[str, Any]]:
        """The closing chunk, and the usage chunk when asked."""
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
