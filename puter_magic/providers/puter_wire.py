"""Puter's chat wire, translated both ways: request bodies, error statuses and envelopes, answers. Pure: no IO, no
httpx. The account and the model catalogue are read in puter_account.py.

Follows shared/puter-protocol.md, checked against the recordings: the current ([C]) backend with HTTP-status
errors, and the v1-era ([A]/[B]) shapes — errors inside HTTP 200 `{success:false}` envelopes, and the
`metadata.usage_limited` answer meaning "out of credit".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..datatypes import ChatRequest, Completion, ToolCall, Usage, as_mapping, content_text
from ..errors import (
    APIError,
    BadRequest,
    InsufficientFunds,
    LoginFailed,
    ModelNotFound,
    NotFound,
    NotLoggedIn,
    PermissionDenied,
    RateLimited,
    ReauthRequired,
    ServerError,
    StreamFailed,
    TokenRejected,
    VerificationRequired,
)
from ..wire.statuses import ErrorBody, status_error
from .openai_wire import passed_options, tool_call
from .puter_account import unconfirmed_email
from .server_errors import context_overflow, overflow_error, without_internals

INTERFACE = "puter-chat-completion"
DRIVER = "ai-chat"


def chat_body(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    """The `/drivers/call` body for `complete`. The model is always sent (self-hosted has no default)."""
    args: dict[str, Any] = {"messages": [m.to_dict() for m in request.messages], "model": request.model}
    if stream:
        args["stream"] = True
    if request.temperature is not None:
        args["temperature"] = request.temperature
    if request.max_tokens is not None:
        args["max_tokens"] = request.max_tokens
    if request.top_p is not None:
        args["top_p"] = request.top_p
    if request.seed is not None:
        args["seed"] = request.seed
    if request.stop:
        args["stop"] = list(request.stop)
    if request.tools:
        args["tools"] = [dict(t) for t in request.tools]
    if request.provider_pin:
        args["provider"] = request.provider_pin
    args.update(_carried(request))
    args.update(request.extra)
    return {"interface": INTERFACE, "driver": DRIVER, "method": "complete", "args": args}


def _carried(request: ChatRequest) -> dict[str, Any]:
    """The OpenAI options, where Puter's backend reads them (protocol notes §3.3: `tool_choice` and
    `parallel_tool_calls` go to providers that take them; `reasoning_effort` and `verbosity` are in puter.js's
    PARAMS_TO_PASS; the penalties, `logit_bias` and `user` are sent for the providers that read them)."""
    args = passed_options(request)
    if request.response_format is not None:
        args.update(output_format(request.response_format))
    return args


def output_format(response_format: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI's `response_format` in the two forms Puter's backend forwards.

    `text: {format}` is what its OpenAI Responses provider passes on (older backends); `outputFormat` is the
    normalised json_schema its newer OpenAI-dialect providers turn back into `response_format`. Other providers
    (Claude, the fake ones) ignore both: core/structured.py also instructs the model, checks the answer and asks
    again once (PuterProvider.structured_output is False), for the session and the proxy alike.
    """
    kind = response_format.get("type")
    if kind == "json_schema":
        spec = as_mapping(response_format.get("json_schema"))
        fmt: dict[str, Any] = {"type": "json_schema", "name": spec.get("name") or "response"}
        fmt["schema"] = spec.get("schema") or {}
        if isinstance(spec.get("strict"), bool):
            fmt["strict"] = spec["strict"]
        return {"text": {"format": fmt}, "outputFormat": fmt}
    if kind == "json_object":
        return {"text": {"format": {"type": "json_object"}}}
    return {}  # "text": the default


def driver_body(method: str) -> dict[str, Any]:
    return {"interface": INTERFACE, "driver": DRIVER, "method": method, "args": {}}


# --- errors ---------------------------------------------------------------------------------------

# Puter's error codes (shared/puter-protocol.md §5; recorded), where the status alone would say less
BY_CODE: dict[str, type[APIError]] = {
    "token_missing": NotLoggedIn,
    "token_auth_failed": TokenRejected,
    "reauth_required": ReauthRequired,
    "password_mismatch": LoginFailed,
    "password_required": LoginFailed,
    "insufficient_funds": InsufficientFunds,
    "usage_limited": InsufficientFunds,
    "subscription_required": InsufficientFunds,
    "insufficient_quota": InsufficientFunds,
    "too_many_requests": RateLimited,
    "rate_limit_exceeded": RateLimited,
    "upstream_rate_limited": RateLimited,
    "email_confirmation_required": VerificationRequired,
    "email_must_be_confirmed": VerificationRequired,
    "phone_verification_required": VerificationRequired,
    "card_verification_required": VerificationRequired,
    "model_not_found": ModelNotFound,
    "forbidden": PermissionDenied,
    "permission_denied": PermissionDenied,
    "account_suspended": PermissionDenied,
    "app_or_api_token_required": PermissionDenied,
    "internal_error": ServerError,
    "upstream_auth_failed": ServerError,
    "upstream_provider_unavailable": ServerError,
    "upstream_failed": ServerError,
    "ai_chat_all_providers_failed": ServerError,
    "no_implementation_available": ServerError,
}


def error_from(status: int, body: ErrorBody, retry_after: float | None = None) -> APIError:
    """The provider's ErrorMapper: an error status and its body (HTTP, or inside a v1 envelope) → the error."""
    message, code, _ = error_fields(body)
    return refine(status_error(status, message, code=code, body=body, retry_after=retry_after, by_code=BY_CODE))


def checked(data: Any) -> Any:
    """An answer's JSON, once the v1-era backend's errors inside HTTP 200 are raised: a `{success: false}`
    envelope (its status inside, or 400) and the `usage_limited` answer."""
    if isinstance(data, Mapping) and data.get("success") is False:
        raise error_from(error_fields(data)[2] or 400, data)
    if isinstance(data, Mapping) and is_usage_limited(data):
        raise usage_limited_error()
    return data


def error_fields(body: Mapping[str, Any] | str) -> tuple[str, str | None, int | None]:
    """(message, code, status inside the body) from any of Puter's error shapes."""
    if isinstance(body, str):
        return body, None, None
    inner = body.get("error")
    code = body.get("code")
    message = body.get("message")
    status = None
    if isinstance(inner, Mapping):
        code = code or inner.get("code")
        message = message or inner.get("message")
        status = inner.get("status") if isinstance(inner.get("status"), int) else None
    elif isinstance(inner, str):
        message = message or inner
    return str(message or "the server reported an error"), (str(code) if code else None), status


def refine(error: APIError) -> APIError:
    """Puter signals some errors only in the message: an unknown model, an unknown driver, and a prompt longer
    than the model's window, in the words of the model's maker that Puter relays (server_errors.py)."""
    message = error.message
    overflow = context_overflow(message, error.code, error.body)
    if overflow is not None and isinstance(error, (BadRequest, ServerError)):
        fields = {"status_code": error.status_code, "code": error.code, "body": error.body}
        return overflow_error(without_internals(message), overflow, **fields)
    if isinstance(error, BadRequest) and (
        message.startswith("Model not found") or (error.code == "field_invalid" and '"model"' in message)
    ):
        return ModelNotFound(message, status_code=error.status_code, code=error.code, body=error.body)
    if isinstance(error, NotFound) and message.startswith("Driver not found"):
        error.hint = "this server does not offer Puter's ai-chat driver; check PUTER_API_ORIGIN"
    if isinstance(error, VerificationRequired) and error.code == "email_confirmation_required":
        return unconfirmed_email(None, error)
    return error


# --- answers --------------------------------------------------------------------------------------


def parse_usage(raw: Any) -> Usage:
    if not isinstance(raw, Mapping):
        return Usage()
    inputs = _first_int(raw, "input_tokens", "prompt_tokens")
    outputs = _first_int(raw, "output_tokens", "completion_tokens")
    cents = raw.get("usd_cents")
    cost = cents / 100 if isinstance(cents, (int, float)) and not isinstance(cents, bool) else None
    # Puter meters cache reads apart from the prompt (OpenAI: `cached_tokens`, Claude: `cache_read_input_tokens`);
    # OpenAI's prompt_tokens counts them in.
    cached = _first_int(raw, "cached_tokens", "cache_read_input_tokens")
    if cached is not None and inputs is not None:
        inputs += cached
    return Usage(input_tokens=inputs, output_tokens=outputs, cost_usd=cost, cached_tokens=cached)


def _first_int(raw: Mapping[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = raw.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def is_usage_limited(data: Mapping[str, Any]) -> bool:
    metadata = data.get("metadata")
    return isinstance(metadata, Mapping) and metadata.get("usage_limited") is True


def usage_limited_error() -> InsufficientFunds:
    return InsufficientFunds("your Puter account has reached its AI usage limit", code="usage_limited")


def parse_completion(data: Mapping[str, Any], requested_model: str) -> Completion:
    """A successful `complete` envelope → Completion. Accepts OpenAI-style and Anthropic-style results."""
    result = as_mapping(data.get("result"))
    message = as_mapping(result.get("message"))
    content = message.get("content")
    text = content_text(content)
    calls: list[ToolCall] = []
    for call in message.get("tool_calls") or ():
        calls.append(tool_call(as_mapping(call)))
    if isinstance(content, list):
        for block in content:
            if isinstance(block, Mapping) and block.get("type") == "tool_use":
                calls.append(tool_use(block))
    metadata = as_mapping(data.get("metadata"))
    model = str(metadata.get("providerUsed") or message.get("model") or requested_model)
    usage = parse_usage(result.get("usage") or message.get("usage"))
    finish = message.get("stop_reason") if calls and message.get("stop_reason") else result.get("finish_reason")
    reasoning = message.get("reasoning") if isinstance(message.get("reasoning"), str) else ""
    return Completion(text, model, usage, finish, reasoning or "", tuple(calls))


def tool_use(block: Mapping[str, Any]) -> ToolCall:
    """A Claude-style `tool_use` block or stream line: `input` a parsed object — or, when the model wrote arguments
    that are not JSON, the raw text, kept as the call's arguments_text so the model can be told."""
    return ToolCall.received(str(block.get("id", "")), str(block.get("name", "")), block.get("input"))


def stream_error(line: Mapping[str, Any], partial: str) -> APIError | StreamFailed:
    """A stream's `{"type": "error"}` line: a ContextOverflow before any text, else StreamFailed; no internals."""
    message = without_internals(str(line.get("message") or "the model failed while answering"))
    code = line.get("code")
    overflow = context_overflow(message, code if isinstance(code, str) else None, line)
    if overflow is not None and not partial:
        return overflow_error(message, overflow, code=code if isinstance(code, str) else None, body=dict(line))
    return StreamFailed(message, partial=partial)
