"""JSON bodies of the account routes, with keys in the order a real Puter backend sends them."""

from __future__ import annotations

import time
from typing import Any

from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.users import TASKBAR_APPS, User, human_readable_age


def _interface(default: str, *others: str) -> dict[str, Any]:
    return {"drivers": [default, *others], "default": default}


# Recording 09 (GET /drivers/list-interfaces).
INTERFACES: dict[str, dict[str, Any]] = {
    "puter-kvstore": _interface("puter-kvstore"),
    "puter-chat-completion": _interface("ai-chat"),
    "puter-image-generation": _interface(
        "ai-image",
        "openai-image-generation",
        "gemini-image-generation",
        "together-image-generation",
        "cloudflare-image-generation",
        "xai-image-generation",
        "replicate-image-generation",
        "byteplus-image-generation",
    ),
    "puter-tts": _interface(
        "ai-tts", "aws-polly", "openai-tts", "elevenlabs-tts", "gemini-tts", "xai-tts", "speechify-tts"
    ),
    "puter-video-generation": _interface(
        "ai-video",
        "openai-video-generation",
        "together-video-generation",
        "gemini-video-generation",
        "byteplus-video-generation",
    ),
    "puter-speech2speech": _interface("ai-speech2speech", "elevenlabs-voice-changer"),
    "puter-speech2txt": _interface("ai-speech2txt", "openai-speech2txt", "xai-speech2txt"),
    "puter-ocr": _interface("ai-ocr", "aws-textract", "mistral"),
    "puter-apps": _interface("es:app"),
    "puter-subdomains": _interface("es:subdomain"),
    "puter-notifications": _interface("es:notification"),
    "workers": _interface("worker-service"),
    "app-telemetry": _interface("app-telemetry"),
}


def taskbar_items(state: FakePuter, *, with_icons: bool) -> list[dict[str, Any]]:
    items = []
    for uid, app in zip(state.app_uids, TASKBAR_APPS, strict=True):
        item: dict[str, Any] = {"uid": uid, "uuid": uid, "name": app["name"], "title": app["title"]}
        if with_icons:
            item["icon"] = f"{state.api_origin}/app-icon/{uid}/256"
        item |= {key: app[key] for key in ("godmode", "maximize_on_start", "index_url", "description")}
        items.append(item)
    return items


def login_body(state: FakePuter, user: User, token: str) -> dict[str, Any]:
    """The 200 "complete" answer of /login, /login/otp and /signup (recordings 01, 42, 44)."""
    return {
        "proceed": True,
        "next_step": "complete",
        "token": token,
        "user": {
            "username": user.username,
            "uuid": user.uuid,
            "email": user.email,
            "email_confirmed": user.email_confirmed,
            "requires_email_confirmation": user.requires_email_confirmation,
            "phone": None,
            "requires_phone_verification": False,
            "requires_card_verification": False,
            "is_temp": user.is_temp,
            "taskbar_items": taskbar_items(state, with_icons=True),
        },
    }


def whoami_body(state: FakePuter, user: User) -> dict[str, Any]:
    """GET /whoami for a user (session) token (recordings 02, 75, 76, 78)."""
    return {
        "username": user.username,
        "uuid": user.uuid,
        "email": user.email,
        "unconfirmed_email": user.email,
        "email_confirmed": user.verified,
        "requires_email_confirmation": user.requires_email_confirmation,
        "requires_phone_verification": False,
        "requires_card_verification": False,
        "desktop_bg_url": None,
        "desktop_bg_color": None,
        "desktop_bg_fit": None,
        "is_temp": user.is_temp,
        "is_user_token": True,
        "referral_code": None,
        "oidc_only": user.password is None,  # a temp user has no password (recording 75)
        "taskbar_items": taskbar_items(state, with_icons=False),
        "otp": user.otp_code is not None,
        "feature_flags": {},
        "created_ts": int(user.created_ts),
        "human_readable_age": human_readable_age(time.time() - user.created_ts),
        "metadata": {},
        "hasDevAccountAccess": False,
        "directories": dict(user.directories),
        "last_activity_ts": int(user.last_activity_ts),
    }


def _number(value: float) -> float:
    """A JavaScript number as JSON: ``25000000``, never ``25000000.0``."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def metering_body(user: User) -> dict[str, Any]:
    """GET /metering/usage, all amounts in micro-cents (recordings 169-177: the usage types, then ``total``
    and ``allowanceUsed``; with no usage at all only ``total``)."""
    usage: dict[str, Any] = {key: {k: _number(v) for k, v in entry.items()} for key, entry in user.usage.items()}
    usage["total"] = _number(user.used)
    app_totals: dict[str, Any] = {}
    if user.usage:
        usage["allowanceUsed"] = _number(user.used)
        count = sum(entry["count"] for entry in user.usage.values())
        app_totals["os-global"] = {"total": _number(user.used), "count": _number(count)}
    allowance = {"remaining": _number(user.remaining), "monthUsageAllowance": user.allowance, "addons": {}}
    return {"usage": usage, "appTotals": app_totals, "allowanceInfo": allowance}
