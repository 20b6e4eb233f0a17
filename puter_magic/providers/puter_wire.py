"""Puter's wire shapes, translated both ways. Pure: no IO, no httpx.

Follows shared/puter-protocol.md, checked against the recordings: the current ([C]) backend with HTTP-status
errors, and the v1-era ([A]/[B]) shapes — errors inside HTTP 200 `{success:false}` envelopes, and the
`metadata.usage_limited` answer meaning "out of credit".
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..datatypes import ChatRequest, Completion, Credits, ModelInfo, ToolCall, Usage, UserInfo, as_mapping, content_text
from ..errors import (
    APIError,
    BadRequest,
    ConfigurationError,
    InsufficientFunds,
    LoginFailed,
    ModelNotFound,
    NotFound,
    PuterError,
    RateLimited,
    VerificationRequired,
)

INTERFACE = "puter-chat-completion"
DRIVER = "ai-chat"
MICRO_CENTS_PER_USD = 100_000_000


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
    optional = {
        "tool_choice": request.tool_choice,
        "parallel_tool_calls": request.parallel_tool_calls,
        "reasoning_effort": request.reasoning_effort,
        "verbosity": request.verbosity,
        "frequency_penalty": request.frequency_penalty,
        "presence_penalty": request.presence_penalty,
        "logit_bias": dict(request.logit_bias) if request.logit_bias else None,
        "user": request.user,
    }
    args = {key: value for key, value in optional.items() if value is not None}
    if request.response_format is not None:
        args.update(output_format(request.response_format))
    return args


def output_format(response_format: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI's `response_format` in the two forms Puter's backend forwards.

    `text: {format}` is what its OpenAI Responses provider passes on (older backends); `outputFormat` is the
    normalised json_schema its newer OpenAI-dialect providers turn back into `response_format`. Other providers
    (Claude, the fake ones) ignore both.
    TODO(local enforcement): when the model answers anyway with text that does not match, the answer is not
    checked here; the schema validation built for issue 15 (instruct, validate, retry once) belongs in front of
    this, for every provider.
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
    """Puter signals some errors only in the message: an unknown model, an unknown driver."""
    message = error.message
    if isinstance(error, BadRequest) and (
        message.startswith("Model not found") or (error.code == "field_invalid" and '"model"' in message)
    ):
        return ModelNotFound(message, status_code=error.status_code, code=error.code, body=error.body)
    if isinstance(error, NotFound) and message.startswith("Driver not found"):
        error.hint = "this server does not offer Puter's ai-chat driver; check PUTER_API_ORIGIN"
    if isinstance(error, VerificationRequired) and error.code == "email_confirmation_required":
        return unconfirmed_email(None, error)
    return error


# --- the account, in the words a person reads -----------------------------------------------------

TEMP_ACCOUNT_NOTE = "a temporary account: its work is lost unless you claim it on the website"
CONFIRM_HINT = "open the link in the e-mail Puter sent you (the website can send it again), then try again"


def unconfirmed_email(username: str | None, error: APIError | None = None) -> VerificationRequired:
    """Recordings 77-82: login and /whoami work, every other request is a 403 until the e-mail is confirmed."""
    whose = f"the e-mail address of {username}" if username else "this Puter account's e-mail address"
    fields: dict[str, Any] = {"status_code": 403, "code": "email_confirmation_required"}
    if error is not None:
        fields = {"status_code": error.status_code, "code": error.code, "body": error.body}
    return VerificationRequired(f"{whose} is not confirmed yet", hint=CONFIRM_HINT, **fields)


def needs_confirmation(user: UserInfo) -> bool:
    return user.requires_email_confirmation and not user.email_confirmed


def login_refused(error: APIError, action: str = "log in") -> APIError:
    """A refused /login, /login/otp or /signup, said once: they are never retried (recordings 69-73: about ten
    logins per 15 minutes, no Retry-After) and a captcha cannot be answered from here."""
    if isinstance(error, RateLimited):
        return RateLimited(
            "too many login attempts",
            hint="wait about 15 minutes, or log in with a token (`{puter} login --token`)",
            status_code=error.status_code,
            code=error.code,
            body=error.body,
        )
    if "captcha" in error.message.lower():
        what = "a temporary account" if action == "sign up" else "a login"
        return LoginFailed(
            f"this Puter server wants a captcha solved before it creates {what}",
            hint="do it on the website, then log in with a token (`{puter} login --token`)",
            status_code=error.status_code,
            code=error.code,
            body=error.body,
        )
    if error.status_code in (400, 401, 404):
        return LoginFailed(error.message, status_code=error.status_code, code=error.code)
    return error


def no_gui_origin(api_origin: str) -> ConfigurationError:
    """The password goes only to a GUI origin the user chose or that follows from the API origin (`api.X` → `X`)."""
    return ConfigurationError(
        f"cannot tell where to log in for the API origin {api_origin}",
        hint="set PUTER_GUI_ORIGIN (or pass --gui-origin) to the address of its website",
    )


def gui_origin_mistake(api_origin: str) -> ConfigurationError:
    """Recordings 83-85: Puter's GUI host redirects unknown GETs to its home page."""
    scheme, _, host = api_origin.partition("://")
    suggestion = f"{scheme}://api.{host}" if not host.startswith("api.") else None
    hint = f"use {suggestion} as the API origin (PUTER_API_ORIGIN)" if suggestion else "check PUTER_API_ORIGIN"
    return ConfigurationError(f"{api_origin} looks like Puter's GUI origin, not its API origin", hint=hint)


def logout_incomplete(origin: str, error: PuterError) -> PuterError:
    """The token is forgotten here whatever the server said; this says what it did not do."""
    reason = " ".join(error.message.split()).rstrip(".")
    return PuterError(
        f"the token is forgotten here, but {origin} did not end the session ({reason})",
        hint="it may keep working until it expires; end your sessions on the website to be sure",
    )


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
        calls.append(_tool_call(as_mapping(call)))
    if isinstance(content, list):
        for block in content:
            if isinstance(block, Mapping) and block.get("type") == "tool_use":
                calls.append(ToolCall(str(block.get("id", "")), str(block.get("name", "")), block.get("input") or {}))
    metadata = as_mapping(data.get("metadata"))
    model = str(metadata.get("providerUsed") or message.get("model") or requested_model)
    usage = parse_usage(result.get("usage") or message.get("usage"))
    finish = message.get("stop_reason") if calls and message.get("stop_reason") else result.get("finish_reason")
    reasoning = message.get("reasoning") if isinstance(message.get("reasoning"), str) else ""
    return Completion(text, model, usage, finish, reasoning or "", tuple(calls))


def _tool_call(call: Mapping[str, Any]) -> ToolCall:
    function = as_mapping(call.get("function"))
    call_id, name, arguments = str(call.get("id", "")), str(function.get("name", "")), function.get("arguments")
    if isinstance(arguments, Mapping):
        return ToolCall(call_id, name, arguments)
    return ToolCall.from_text(call_id, name, arguments if isinstance(arguments, str) else "")


# --- discovery and account ------------------------------------------------------------------------

_INPUT_KEYS = ("prompt_tokens", "input_tokens", "input-tokens", "prompt", "input")
_OUTPUT_KEYS = ("completion_tokens", "output_tokens", "output-tokens", "completion", "output")


def parse_model(obj: Mapping[str, Any]) -> ModelInfo:
    """A model object in the current (`costs`, `costs_currency`) or older (`cost{}`) shape."""
    model_id = str(obj.get("puterId") or obj.get("id"))
    aliases = [str(a) for a in obj.get("aliases") or () if str(a) != model_id]
    if obj.get("puterId") and obj.get("id") and str(obj["id"]) not in aliases:
        aliases.insert(0, str(obj["id"]))
    input_cost, output_cost = _costs(obj)
    return ModelInfo(
        id=model_id,
        provider=obj.get("provider"),
        name=obj.get("name"),
        aliases=tuple(aliases),
        context=_int_or_none(obj.get("context")),
        max_tokens=_int_or_none(obj.get("max_tokens")),
        input_cost=input_cost,
        output_cost=output_cost,
    )


def _costs(obj: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """US dollars per million tokens. Puter gives US cents per `tokens` tokens (default one million)."""
    costs = obj.get("costs")
    if isinstance(costs, Mapping):
        per = costs.get("tokens") or 1_000_000
        in_keys = (obj["input_cost_key"], *_INPUT_KEYS) if obj.get("input_cost_key") else _INPUT_KEYS
        out_keys = (obj["output_cost_key"], *_OUTPUT_KEYS) if obj.get("output_cost_key") else _OUTPUT_KEYS
        return _per_million(costs, in_keys, per), _per_million(costs, out_keys, per)
    cost = obj.get("cost")
    if isinstance(cost, Mapping):
        per = cost.get("tokens") or 1_000_000
        return _per_million(cost, ("input",), per), _per_million(cost, ("output",), per)
    return None, None


def _per_million(costs: Mapping[str, Any], keys: tuple[str, ...], per: float) -> float | None:
    for key in keys:
        value = costs.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            return round(value / 100 * 1_000_000 / per, 10)
    return None


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_user(data: Mapping[str, Any]) -> UserInfo:
    confirmed = data.get("email_confirmed")
    return UserInfo(
        username=str(data.get("username", "")),
        uuid=data.get("uuid"),
        email=data.get("email"),
        email_confirmed=bool(confirmed) if confirmed is not None else None,
        is_temp=bool(data.get("is_temp", False)),
        requires_email_confirmation=data.get("requires_email_confirmation") is True,
    )


def parse_credits(data: Mapping[str, Any]) -> Credits:
    """`/metering/usage` (micro-cents) → dollars."""
    info = as_mapping(data.get("allowanceInfo"))
    usage = as_mapping(data.get("usage"))

    def dollars(value: Any) -> float | None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return value / MICRO_CENTS_PER_USD if ok else None

    return Credits(
        remaining_usd=dollars(info.get("remaining")),
        allowance_usd=dollars(info.get("monthUsageAllowance")),
        used_usd=dollars(usage.get("total")),
    )
