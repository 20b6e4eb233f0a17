"""OpenAI's `/v1/responses` answers, translated from puter_magic's types. Pure (no IO, no clock unless asked).

    response_object(completion, call, created_at=...)   a whole `response` (non-streamed)
    ResponseEventWriter(call, created_at)               stream events in, Responses stream events out (sans-IO)

Output items: the model's reasoning becomes a `reasoning` item with one `summary_text` part (upstream's reasoning
is what a reasoning summary is for a client); text a `message` item with one `output_text` part; each tool call a
`function_call` item (`call_id` the upstream's call id). A streamed answer goes

    response.created, response.in_progress,
    per item: response.output_item.added,
        reasoning: response.reasoning_summary_part.added, response.reasoning_summary_text.delta…,
                   response.reasoning_summary_text.done, response.reasoning_summary_part.done
        message:   response.content_part.added, response.output_text.delta…, response.output_text.done,
                   response.content_part.done
        function:  response.function_call_arguments.delta (the whole arguments: upstream sends calls whole),
                   response.function_call_arguments.done
    response.output_item.done; then response.completed (response.incomplete when the answer was cut by
    max_output_tokens or a content filter)

every event numbered by `sequence_number`. A failure after the first event is an `error` event (the proxy's code
and message) followed by `response.failed` carrying `response.error`. Usage is the provider's, estimated (and
marked `"estimated": true`) where it reported none, as for chat completions. Nothing is stored: `store` is false.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from ..datatypes import Completion, Finished, ReasoningDelta, TextDelta, ToolCall, Usage
from .openai_format import StreamWriter, estimate_tokens, finish_reason, prompt_chars
from .responses_request import ResponsesCall

INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
FAILURE_CODES = {"rate_limit_exceeded"}  # the codes of OpenAI's response.error this proxy can mean; else server_error


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def usage_object(usage: Usage, *, prompt_chars: int, output_chars: int) -> dict[str, Any]:
    """The Responses usage object from the provider's numbers, estimating (and saying so) what it did not report."""
    tokens_in = usage.input_tokens if usage.input_tokens is not None else estimate_tokens(prompt_chars)
    tokens_out = usage.output_tokens if usage.output_tokens is not None else estimate_tokens(output_chars)
    data: dict[str, Any] = {
        "input_tokens": tokens_in,
        "input_tokens_details": {"cached_tokens": usage.cached_tokens or 0, "cache_write_tokens": 0},
        "output_tokens": tokens_out,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": tokens_in + tokens_out,
    }
    if usage.estimated or usage.input_tokens is None or usage.output_tokens is None:
        data["estimated"] = True
    return data


def response_shell(call: ResponsesCall, *, id: str, created_at: int, model: str | None = None) -> dict[str, Any]:
    """A `response` in progress: the request's settings echoed, no output yet."""
    return {
        "id": id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "model": model or call.request.model,
        "output": [],
        "previous_response_id": None,
        "store": False,
        "truncation": "disabled",
        "usage": None,
        **call.echo,
    }


def _finished(response: dict[str, Any], reason: str | None, usage: dict[str, Any]) -> dict[str, Any]:
    incomplete = INCOMPLETE.get(reason or "")
    return response | {
        "status": "incomplete" if incomplete else "completed",
        "incomplete_details": {"reason": incomplete} if incomplete else None,
        "usage": usage,
    }


def reasoning_item(id: str, text: str) -> dict[str, Any]:
    return {"id": id, "type": "reasoning", "summary": [{"type": "summary_text", "text": text}], "status": "completed"}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {"id": id, "type": "message", "status": status, "role": "assistant", "content": [text_part(text)]}


def function_call_item(
    id: str, call: ToolCall, arguments: str | None = None, status: str = "completed"
) -> dict[str, Any]:
    arguments = call.arguments_json if arguments is None else arguments
    return {
        "id": id,
        "type": "function_call",
        "status": status,
        "call_id": call.id,
        "name": call.name,
        "arguments": arguments,
    }


def response_object(
    completion: Completion, call: ResponsesCall, *, created_at: int, id: str | None = None
) -> dict[str, Any]:
    """A whole, non-streamed `response`."""
    output: list[dict[str, Any]] = []
    if completion.reasoning:
        output.append(reasoning_item(new_id("rs"), completion.reasoning))
    if completion.text or not completion.tool_calls:
        output.append(message_item(new_id("msg"), completion.text))
    output.extend(function_call_item(new_id("fc"), tool_call) for tool_call in completion.tool_calls)
    chars = len(completion.text) + len(completion.reasoning)
    chars += sum(len(tool_call.arguments_json) for tool_call in completion.tool_calls)
    usage = usage_object(completion.usage, prompt_chars=prompt_chars(call.request), output_chars=chars)
    shell = response_shell(call, id=id or new_id("resp"), created_at=created_at, model=completion.model)
    reason = finish_reason(completion.finish_reason, tool_calls=bool(completion.tool_calls))
    return _finished(shell | {"output": output}, reason, usage)


@dataclass
class ResponseEventWriter(StreamWriter):
    """Stream events in, Responses stream events out."""

    call: ResponsesCall
    created_at: int
    id: str = field(default_factory=lambda: new_id("resp"))
    finished: bool = False
    output: list[dict[str, Any]] = field(default_factory=list)
    _sequence: int = 0
    _open: str | None = None  # "reasoning" or "message": the item whose deltas are streaming
    _open_id: str = ""
    _text: str = ""
    _held: str = ""
    _chars: int = 0
    _calls: int = 0
    _model: str | None = None

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _response(self, **changes: Any) -> dict[str, Any]:
        shell = response_shell(self.call, id=self.id, created_at=self.created_at, model=self._model)
        return shell | {"output": list(self.output)} | changes

    def start(self) -> list[dict[str, Any]]:
        response = self._response(output=[])
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def _delta(self, event: TextDelta | ReasoningDelta) -> list[dict[str, Any]]:
        kind, text = "message" if isinstance(event, TextDelta) else "reasoning", event.text
        events = [] if self._open == kind else self._close() + self._open_item(kind)
        self._chars += len(text)
        text, self._held = self._held + text, ""
        if text and "\ud800" <= text[-1] <= "\udbff":  # half an emoji waits for its other half
            self._held, text = text[-1], text[:-1]
        if text:
            self._text += text
            at = {"item_id": self._open_id, "output_index": len(self.output)}
            if kind == "message":
                events.append(self._event("response.output_text.delta", **at, content_index=0, delta=text, logprobs=[]))
            else:
                events.append(self._event("response.reasoning_summary_text.delta", **at, summary_index=0, delta=text))
        return events

    def _open_item(self, kind: str) -> list[dict[str, Any]]:
        self._open, self._open_id, self._text = kind, new_id("msg" if kind == "message" else "rs"), ""
        at = {"item_id": self._open_id, "output_index": len(self.output)}
        if kind == "message":
            item = message_item(self._open_id, "", "in_progress") | {"content": []}
            added = self._event("response.output_item.added", output_index=len(self.output), item=item)
            part = self._event("response.content_part.added", **at, content_index=0, part=text_part(""))
        else:
            item = reasoning_item(self._open_id, "") | {"summary": [], "status": "in_progress"}
            added = self._event("response.output_item.added", output_index=len(self.output), item=item)
            summary = {"type": "summary_text", "text": ""}
            part = self._event("response.reasoning_summary_part.added", **at, summary_index=0, part=summary)
        return [added, part]

    def _close(self) -> list[dict[str, Any]]:
        """The done events of the item that was streaming, if any."""
        if self._open is None:
            return []
        text = self._text + self._held  # a lone half of an emoji goes out as it is (U+FFFD once encoded)
        at = {"item_id": self._open_id, "output_index": len(self.output)}
        if self._open == "message":
            item = message_item(self._open_id, text)
            events = [
                self._event("response.output_text.done", **at, content_index=0, text=text, logprobs=[]),
                self._event("response.content_part.done", **at, content_index=0, part=text_part(text)),
            ]
        else:
            item = reasoning_item(self._open_id, text)
            summary = {"type": "summary_text", "text": text}
            events = [
                self._event("response.reasoning_summary_text.done", **at, summary_index=0, text=text),
                self._event("response.reasoning_summary_part.done", **at, summary_index=0, part=summary),
            ]
        events.append(self._event("response.output_item.done", output_index=len(self.output), item=item))
        self.output.append(item)
        self._open, self._text, self._held = None, "", ""
        return events

    def _tool_call(self, call: ToolCall) -> list[dict[str, Any]]:
        events = self._close()
        item_id, index, arguments = new_id("fc"), len(self.output), call.arguments_json
        self._calls += 1
        self._chars += len(arguments)
        item = function_call_item(item_id, call)
        at = {"item_id": item_id, "output_index": index}
        events += [
            self._event(
                "response.output_item.added",
                output_index=index,
                item=function_call_item(item_id, call, "", "in_progress"),
            ),
            self._event("response.function_call_arguments.delta", **at, delta=arguments),
            self._event("response.function_call_arguments.done", **at, arguments=arguments),
            self._event("response.output_item.done", output_index=index, item=item),
        ]
        self.output.append(item)
        return events

    def _end(self, event: Finished) -> list[dict[str, Any]]:
        """The closing events."""
        self._model = event.model or self._model
        events = self._close()
        usage = usage_object(event.usage, prompt_chars=prompt_chars(self.call.request), output_chars=self._chars)
        response = _finished(self._response(), finish_reason(event.finish_reason, tool_calls=self._calls > 0), usage)
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return [*events, self._event(kind, response=response)]

    def fail(self, error: dict[str, Any]) -> list[dict[str, Any]]:
        """An `error` event with the proxy's OpenAI-shaped error (`{"message", "type", "param", "code"}`), then
        `response.failed` with what had been answered."""
        if self.finished:
            return []
        self.finished = True
        code, message = error.get("code"), str(error.get("message", "the answer failed"))
        failure = {"code": code if code in FAILURE_CODES else "server_error", "message": message}
        events = [self._event("error", code=code, message=message, param=error.get("param"))]
        response = self._response(status="failed", error=failure)
        return [*events, self._event("response.failed", response=response)]
