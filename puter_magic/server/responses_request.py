"""OpenAI's `/v1/responses` request body, validated and translated to a ChatRequest. Pure.

    parse_responses_request(body) -> ResponsesCall   the ChatRequest, `stream`, and what the answer echoes back

The Responses API is served statelessly, as with `store: false`: the whole conversation comes in `input` each time.

    carried     model, input (a string, or items: messages with input_text / input_image / output_text parts,
                function_call, function_call_output, reasoning), instructions (a system message first), tools
                (function tools), tool_choice, parallel_tool_calls, temperature, top_p, max_output_tokens,
                text.format (text, json_object, json_schema: carried as response_format), text.verbosity,
                reasoning.effort, user / safety_identifier, stream
    harmless    store (nothing is stored either way), metadata, include (but logprobs), reasoning.summary,
                service_tier, prompt_cache_key, prompt_cache_retention, truncation, max_tool_calls,
                stream_options, background false
    refused     previous_response_id and conversation (nothing is stored: send the whole conversation), background
                true, prompt (stored prompts), top_logprobs and logprobs in include, tools other than functions,
                item types other than the ones carried (item_reference, ...), input_file parts, file_id images

Refusals are 400s naming the `param`, as in openai_request; other unknown fields are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..datatypes import ChatRequest, Message, ToolCall
from .openai_errors import InvalidRequest
from .request_fields import MAX_INT, flag, format_kind, integer, number, requested_model, string, unsupported

STATELESS = "this proxy stores no responses (as with `store: false`); send the whole conversation in `input`"
MESSAGE_ROLES = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}


@dataclass(frozen=True)
class ResponsesCall:
    """A validated Responses request: what goes upstream, how to answer, and the settings the answer echoes."""

    request: ChatRequest
    stream: bool = False
    echo: Mapping[str, Any] = field(default_factory=dict)


def parse_responses_request(body: Any) -> ResponsesCall:
    """Validate a `/v1/responses` body and translate it; raises InvalidRequest naming the bad field."""
    model = requested_model(body)
    _refuse_what_cannot_be_served(body)
    instructions = string(body, "instructions")
    messages = _input(body.get("input"))
    if instructions:
        messages.insert(0, Message("system", instructions))
    if not messages:
        raise InvalidRequest("`input` must be a string or a non-empty array of items", param="input")
    text = body.get("text") if body.get("text") is not None else {}
    if not isinstance(text, dict):
        raise InvalidRequest("`text` must be an object", param="text")
    reasoning = body.get("reasoning") if body.get("reasoning") is not None else {}
    if not isinstance(reasoning, dict):
        raise InvalidRequest("`reasoning` must be an object", param="reasoning")
    text_format = _text_format(text.get("format"))
    tools = _tools(body.get("tools"))
    tool_choice = _tool_choice(body.get("tool_choice"))
    request = ChatRequest(
        tuple(messages),
        model.strip(),
        temperature=number(body, "temperature"),
        max_tokens=integer(body, "max_output_tokens", 1, MAX_INT),
        top_p=number(body, "top_p"),
        tools=tuple(_chat_tool(tool) for tool in tools) or None,
        tool_choice=tool_choice,
        parallel_tool_calls=flag(body, "parallel_tool_calls") if body.get("parallel_tool_calls") is not None else None,
        response_format=text_format,
        reasoning_effort=string(reasoning, "effort", "reasoning."),
        verbosity=string(text, "verbosity", "text."),
        user=string(body, "user") or string(body, "safety_identifier"),
    )
    echo = {
        "instructions": instructions,
        "max_output_tokens": request.max_tokens,
        "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else {},
        "parallel_tool_calls": request.parallel_tool_calls is not False,
        "reasoning": {"effort": request.reasoning_effort, "summary": reasoning.get("summary")},
        "temperature": request.temperature,
        "text": {"format": _echoed_format(text_format), "verbosity": request.verbosity},
        "tool_choice": body.get("tool_choice") if tool_choice is not None else "auto",
        "tools": tools,
        "top_p": request.top_p,
        "user": request.user,
    }
    return ResponsesCall(request, flag(body, "stream"), echo)


def _refuse_what_cannot_be_served(body: Mapping[str, Any]) -> None:
    for stored in ("previous_response_id", "conversation"):
        if body.get(stored) is not None:
            raise unsupported(stored, f"`{stored}` needs a stored response: {STATELESS}")
    if body.get("background") not in (None, False):
        raise unsupported("background", "background responses need stored responses, which this proxy does not keep")
    if body.get("prompt") is not None:
        raise unsupported("prompt", "stored prompt templates are not available; send `instructions` and `input`")
    if body.get("top_logprobs") is not None:
        raise unsupported("top_logprobs", "log probabilities are not available through this proxy")
    include = body.get("include")
    if include is not None and not (isinstance(include, list) and all(isinstance(i, str) for i in include)):
        raise InvalidRequest("`include` must be an array of strings", param="include")
    if "message.output_text.logprobs" in (include or ()):
        raise unsupported("include", "log probabilities are not available through this proxy")


# --- input items ----------------------------------------------------------------------------------


def _input(value: Any) -> list[Message]:
    if isinstance(value, str):
        return [Message("user", value)] if value else []
    if not isinstance(value, list):
        raise InvalidRequest("`input` must be a string or an array of items", param="input")
    turns = _Turns()
    for index, item in enumerate(value):
        turns.add(item, f"input[{index}]")
    return turns.messages()


class _Turns:
    """Items to chat messages: function calls (and reasoning) join the assistant turn they belong to."""

    def __init__(self) -> None:
        self.done: list[Message] = []
        self.assistant: dict[str, Any] | None = None  # the assistant turn being gathered

    def add(self, item: Any, where: str) -> None:
        if not isinstance(item, dict):
            raise InvalidRequest(f"`{where}` must be an object", param=where)
        kind = item.get("type", "message")
        if kind == "message":
            role = MESSAGE_ROLES.get(item.get("role"))  # type: ignore[arg-type]
            if role is None:
                roles = ", ".join(MESSAGE_ROLES)
                raise InvalidRequest(f"`{where}.role` must be one of {roles}", param=f"{where}.role")
            content = _content(item.get("content"), f"{where}.content", assistant=role == "assistant")
            if role == "assistant":
                turn = self._assistant(new=bool(self.assistant and (self.assistant["text"] or self.assistant["calls"])))
                turn["text"] += content if isinstance(content, str) else ""
            else:
                self._close()
                self.done.append(Message(role, content))
        elif kind == "function_call":
            self._assistant()["calls"].append(_function_call(item, where))
        elif kind == "function_call_output":
            self._close()
            self.done.append(_function_output(item, where))
        elif kind == "reasoning":
            summary = item.get("summary") or []
            text = "".join(part.get("text", "") for part in summary if isinstance(part, dict))
            turn = self._assistant(new=bool(self.assistant and (self.assistant["text"] or self.assistant["calls"])))
            turn["reasoning"] += text
        else:
            raise unsupported(f"{where}.type", f"input items of type {kind!r} cannot be served by this proxy")

    def _assistant(self, new: bool = False) -> dict[str, Any]:
        if new:
            self._close()
        if self.assistant is None:
            self.assistant = {"text": "", "calls": [], "reasoning": ""}
        return self.assistant

    def _close(self) -> None:
        if self.assistant is not None:
            turn, self.assistant = self.assistant, None
            reasoning = turn["reasoning"] or None
            self.done.append(Message("assistant", turn["text"], tuple(turn["calls"]), reasoning_content=reasoning))

    def messages(self) -> list[Message]:
        self._close()
        return self.done


def _content(value: Any, where: str, *, assistant: bool) -> str | list[dict[str, Any]]:
    """A message's content: text as is; parts as chat parts (text parts kept apart). An assistant's is text."""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise InvalidRequest(f"`{where}` must be a string or an array of content parts", param=where)
    parts = [_part(part, f"{where}[{index}]") for index, part in enumerate(value)]
    if assistant:
        return "".join(part.get("text", "") for part in parts)
    return parts


def _part(part: Any, where: str) -> dict[str, Any]:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in ("input_text", "output_text", "text"):
        if not isinstance(part.get("text"), str):
            raise InvalidRequest(f"`{where}.text` must be a string", param=f"{where}.text")
        return {"type": "text", "text": part["text"]}
    if kind == "refusal":
        return {"type": "text", "text": str(part.get("refusal") or "")}
    if kind == "input_image":
        url = part.get("image_url")
        if not isinstance(url, str) or not url:
            if part.get("file_id") is not None:
                raise unsupported(f"{where}.file_id", "uploaded files are not available; send the image as a data URL")
            raise InvalidRequest(f"`{where}.image_url` must be a URL or a data URL", param=f"{where}.image_url")
        image = {"url": url} | ({"detail": part["detail"]} if isinstance(part.get("detail"), str) else {})
        return {"type": "image_url", "image_url": image}
    if kind == "input_file":
        raise unsupported(f"{where}.type", "file inputs are not available through this proxy")
    raise InvalidRequest(f"`{where}` must be an input_text or input_image part", param=where)


def _function_call(item: Mapping[str, Any], where: str) -> ToolCall:
    call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments", "")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"`{where}.call_id` must be a non-empty string", param=f"{where}.call_id")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"`{where}.name` must be a non-empty string", param=f"{where}.name")
    if not isinstance(arguments, str):
        raise InvalidRequest(f"`{where}.arguments` must be JSON text", param=f"{where}.arguments")
    return ToolCall.from_text(call_id, name, arguments)


def _function_output(item: Mapping[str, Any], where: str) -> Message:
    call_id, output = item.get("call_id"), item.get("output")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"`{where}.call_id` must name the function call it answers", param=f"{where}.call_id")
    if isinstance(output, list):
        return Message("tool", _content(output, f"{where}.output", assistant=False), tool_call_id=call_id)
    if not isinstance(output, str):
        raise InvalidRequest(f"`{where}.output` must be a string or an array of parts", param=f"{where}.output")
    return Message("tool", output, tool_call_id=call_id)


# --- tools and formats ----------------------------------------------------------------------------


def _tools(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest("`tools` must be an array of tool objects", param="tools")
    for index, tool in enumerate(value):
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise unsupported(f"tools[{index}].type", f"only function tools can be served, not {kind!r}")
        if not isinstance(tool.get("name"), str) or not tool["name"]:
            raise InvalidRequest(f"`tools[{index}].name` must be a non-empty string", param=f"tools[{index}].name")
    return list(value)


def _chat_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """A Responses function tool (flat) as a chat tool (nested under `function`)."""
    function = {key: tool[key] for key in ("name", "description", "parameters", "strict") if tool.get(key) is not None}
    return {"type": "function", "function": function}


def _tool_choice(value: Any) -> str | dict[str, Any] | None:
    if value is None or value in ("auto", "none", "required"):
        return value  # type: ignore[no-any-return]
    if isinstance(value, dict) and value.get("type") == "function" and isinstance(value.get("name"), str):
        return {"type": "function", "function": {"name": value["name"]}}
    raise unsupported("tool_choice", "`tool_choice` must be auto, none, required or a function by name")


def _text_format(value: Any) -> dict[str, Any] | None:
    """`text.format` as chat's `response_format`: json_schema's name, schema and strict move under `json_schema`."""
    if value is None:
        return None
    kind = format_kind(value, "text.format")
    if kind != "json_schema":
        return None if kind == "text" else {"type": kind}
    spec = {key: value[key] for key in ("name", "schema", "strict", "description") if key in value}
    if not isinstance(spec.get("schema"), dict):
        raise InvalidRequest("`text.format.schema` must be a JSON schema object", param="text.format.schema")
    return {"type": "json_schema", "json_schema": spec}


def _echoed_format(response_format: Mapping[str, Any] | None) -> dict[str, Any]:
    if response_format is None:
        return {"type": "text"}
    if response_format.get("type") == "json_schema":
        return {"type": "json_schema", **response_format["json_schema"]}
    return dict(response_format)
