"""OpenAI's `/v1/chat/completions` request body, validated and translated to a ChatRequest. Pure.

    parse_body(raw) -> Any              bytes → JSON value (NaN/Infinity and bad UTF-8 refused, lone surrogates
                                        such as `"\\ud83d"` replaced by U+FFFD)
    parse_chat_request(body) -> ChatCall   a validated ChatRequest, plus `stream` / `include_usage`

Every field a client sends is carried upstream, accepted as harmless, or refused with a 400 naming it (`param`):

    carried     model, messages (roles system/developer/user/assistant/tool; content as text or a list of parts,
                kept apart; assistant `tool_calls` and `reasoning_content`; tool `tool_call_id`; `name`),
                temperature, top_p, max_tokens / max_completion_tokens (the latter wins), stop, seed, tools,
                tool_choice, parallel_tool_calls, response_format (text, json_object, json_schema),
                reasoning_effort, verbosity, frequency_penalty, presence_penalty, logit_bias, user, stream
    harmless    stream_options (include_usage is honoured), metadata, store, service_tier, safety_identifier,
                prompt_cache_key, prompt_cache_retention, prediction: accepted, not sent on
    refused     n other than 1, logprobs true, top_logprobs, the legacy `functions` / `function_call` (and a
                message's `function_call`), audio and non-text `modalities`, web_search_options: each would
                change the answer, and none can be served

Other unknown fields are ignored, as OpenAI-compatible servers do, so that a newer client keeps working.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..datatypes import ROLES, ChatRequest, Message, ToolCall
from ..wire.jsontext import repaired
from .openai_errors import InvalidRequest
from .request_fields import MAX_INT, flag, format_kind, integer, number, requested_model, string, unsupported


@dataclass(frozen=True)
class ChatCall:
    """A validated chat request and how the answer should be sent."""

    request: ChatRequest
    stream: bool = False
    include_usage: bool = False


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
    model = requested_model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("`messages` must be a non-empty array of messages", param="messages")
    _refuse_what_cannot_be_served(body)
    max_tokens = integer(body, "max_completion_tokens", 1, MAX_INT)
    if max_tokens is None:
        max_tokens = integer(body, "max_tokens", 1, MAX_INT)
    stream = flag(body, "stream")
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise InvalidRequest("`stream_options` must be an object", param="stream_options")
    include_usage = flag(options or {}, "include_usage", "stream_options.")
    request = ChatRequest(
        tuple(_message(raw, index) for index, raw in enumerate(messages)),
        model.strip(),
        temperature=number(body, "temperature"),
        max_tokens=max_tokens,
        top_p=number(body, "top_p"),
        stop=_stop(body.get("stop")),
        seed=integer(body, "seed", -(2**63), 2**63 - 1),
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice")),
        parallel_tool_calls=flag(body, "parallel_tool_calls") if body.get("parallel_tool_calls") is not None else None,
        response_format=_response_format(body.get("response_format")),
        reasoning_effort=string(body, "reasoning_effort"),
        verbosity=string(body, "verbosity"),
        frequency_penalty=number(body, "frequency_penalty"),
        presence_penalty=number(body, "presence_penalty"),
        logit_bias=_logit_bias(body.get("logit_bias")),
        user=string(body, "user"),
    )
    return ChatCall(request, stream, include_usage and stream)


def _refuse_what_cannot_be_served(body: Mapping[str, Any]) -> None:
    n = body.get("n")
    if n is not None and (type(n) is not int or n != 1):
        raise InvalidRequest("only `n` = 1 is supported", param="n", code="unsupported_value")
    if body.get("logprobs") not in (None, False):
        raise unsupported("logprobs", "log probabilities are not available through this proxy")
    if body.get("top_logprobs") is not None:
        raise unsupported("top_logprobs", "log probabilities are not available through this proxy")
    for legacy, current in (("functions", "tools"), ("function_call", "tool_choice")):
        if body.get(legacy) is not None:
            raise unsupported(legacy, f"`{legacy}` is the legacy form of `{current}`; send `{current}` instead")
    if body.get("audio") is not None:
        raise unsupported("audio", "audio answers are not available through this proxy")
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise unsupported("modalities", 'only text answers (`modalities: ["text"]`) are available')
    if body.get("web_search_options") is not None:
        raise unsupported("web_search_options", "web search is not available through this proxy")


# --- messages -------------------------------------------------------------------------------------


def _message(raw: Any, index: int) -> Message:
    where = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise InvalidRequest(f"`{where}` must be an object with `role` and `content`", param=where)
    role = "system" if raw.get("role") == "developer" else raw.get("role")
    if role not in ROLES:
        legacy = " (a legacy `function` message is sent as a `tool` message now)" if role == "function" else ""
        raise InvalidRequest(f"`{where}.role` must be one of {', '.join(ROLES)}{legacy}", param=f"{where}.role")
    if raw.get("function_call") is not None:
        raise unsupported(f"{where}.function_call", "`function_call` is the legacy form of `tool_calls`")
    tool_calls = _tool_calls(raw.get("tool_calls"), f"{where}.tool_calls") if role == "assistant" else ()
    content = raw.get("content")
    if content is None and role == "assistant":
        content = ""  # a turn that only called tools
    if isinstance(content, list):
        content = _parts(content, f"{where}.content")
    elif not isinstance(content, str):
        raise InvalidRequest(
            f"`{where}.content` must be a string or an array of content parts", param=f"{where}.content"
        )
    tool_call_id = raw.get("tool_call_id")
    if role == "tool" and (not isinstance(tool_call_id, str) or not tool_call_id):
        raise InvalidRequest(
            f"`{where}.tool_call_id` must name the tool call this message answers", param=f"{where}.tool_call_id"
        )
    reasoning = raw.get("reasoning_content", raw.get("reasoning")) if role == "assistant" else None
    return Message(
        role,
        content,
        tool_calls=tool_calls,
        tool_call_id=tool_call_id if role == "tool" else None,
        name=string(raw, "name", f"{where}."),
        reasoning_content=reasoning if isinstance(reasoning, str) and reasoning else None,
    )


def _parts(parts: list[Any], where: str) -> list[dict[str, Any]]:
    """Content parts, each kept as sent: text parts stay apart (Cline's `<task>` and `<environment_details>`)."""
    for index, part in enumerate(parts):
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise InvalidRequest(f"`{where}[{index}]` must be an object with a `type`", param=f"{where}[{index}]")
        if part["type"] == "text" and not isinstance(part.get("text"), str):
            raise InvalidRequest(f"`{where}[{index}].text` must be a string", param=f"{where}[{index}].text")
    return [dict(part) for part in parts]


def _tool_calls(value: Any, where: str) -> tuple[ToolCall, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidRequest(f"`{where}` must be an array of tool calls", param=where)
    calls = []
    for index, raw in enumerate(value):
        at = f"{where}[{index}]"
        function = raw.get("function") if isinstance(raw, dict) else None
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not isinstance(function, dict):
            raise InvalidRequest(f"`{at}` must be an object with an `id` and a `function`", param=at)
        name, arguments = function.get("name"), function.get("arguments", "")
        if not isinstance(name, str) or not name:
            raise InvalidRequest(f"`{at}.function.name` must be a non-empty string", param=f"{at}.function.name")
        if isinstance(arguments, dict):
            calls.append(ToolCall(raw["id"], name, arguments))
        elif isinstance(arguments, str):
            calls.append(ToolCall.from_text(raw["id"], name, arguments))
        else:
            raise InvalidRequest(f"`{at}.function.arguments` must be JSON text", param=f"{at}.function.arguments")
    return tuple(calls)


# --- fields ---------------------------------------------------------------------------------------


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


def _tool_choice(value: Any) -> str | dict[str, Any] | None:
    if value is not None and not isinstance(value, str | dict):
        raise InvalidRequest("`tool_choice` must be a string or an object", param="tool_choice")
    return value


def _response_format(value: Any) -> dict[str, Any] | None:
    """None for plain text (the default); json_object and json_schema are carried."""
    if value is None:
        return None
    kind = format_kind(value, "response_format")
    if kind == "json_schema":
        spec = value.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("schema", {}), dict):
            raise InvalidRequest(
                "`response_format.json_schema` must be an object with a `name` and a `schema` object",
                param="response_format.json_schema",
            )
    return None if kind == "text" else value


def _logit_bias(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    valid = isinstance(value, dict) and all(
        isinstance(bias, int | float) and not isinstance(bias, bool) and -100 <= bias <= 100 for bias in value.values()
    )
    if not valid:
        raise InvalidRequest("`logit_bias` must map token ids to numbers from -100 to 100", param="logit_bias")
    return value or None
