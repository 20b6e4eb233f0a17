"""Puter's account and catalogue: users, credit and models read from its answers, and what a person reads when
the account stands in the way. Pure: no IO, no httpx.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..datatypes import Credits, ModelInfo, UserInfo, as_mapping
from ..errors import APIError, ConfigurationError, LoginFailed, PuterError, RateLimited, VerificationRequired

MICRO_CENTS_PER_USD = 100_000_000


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
        input_modalities=_modalities(obj, "input"),
        output_modalities=_modalities(obj, "output"),
    )


def _modalities(obj: Mapping[str, Any], direction: str) -> tuple[str, ...] | None:
    """`modalities: {input: [...], output: [...]}` of a catalog entry (src/backend/drivers/ai-chat/types.ts)."""
    modalities = obj.get("modalities")
    listed = modalities.get(direction) if isinstance(modalities, Mapping) else None
    return tuple(str(kind) for kind in listed) if isinstance(listed, list) else None


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
