"""What a request passes through before a handler acts: host routing, body parsing, origin and token checks."""

from __future__ import annotations

import json
from typing import Any, Literal
from urllib.parse import urlsplit

from starlette.requests import Request

from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.responses import ApiError
from puter_magic.testing.users import User

HostKind = Literal["api", "gui"]
COOKIE_NAME = "puter_auth_token"
AUTHENTICATED_USER = "puter_magic.user"  # the scope key naming whom a request authenticated as
PUTER_JS_CONTENT_TYPE = "text/plain;actually=json"  # what puter.js sends; Puter compares the exact string


def host_kind(request: Request) -> HostKind:
    """``api`` when the Host's leftmost label is ``api``; anything else is the GUI (root) host."""
    host = request.headers.get("host", "")
    name = "" if host.startswith("[") else host.split(":", 1)[0]
    return "api" if name.split(".", 1)[0].lower() == "api" else "gui"


async def read_json_body(request: Request) -> dict[str, Any]:
    """The body as Express's JSON parser sees it: ``{}`` unless the Content-Type says JSON."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json" and (content_type != PUTER_JS_CONTENT_TYPE):
        return {}
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:  # includes UnicodeDecodeError
        raise ApiError(400, "Malformed JSON in request body", "client_bad_json") from None
    if not isinstance(data, dict | list):  # Express's strict mode takes only objects and arrays
        raise ApiError(400, "Malformed JSON in request body", "client_bad_json")
    return data if isinstance(data, dict) else {}


def extract_token(request: Request, body: dict[str, Any]) -> str | None:
    """Body ``auth_token`` → ``Authorization: Bearer`` → ``x-api-key`` → the session cookie (only without a
    foreign ``Origin``) → query ``auth_token``, as Puter's authProbe looks (recordings 89-95)."""
    token = body.get("auth_token")
    if isinstance(token, str) and token:
        return token
    header = request.headers.get("authorization", "").strip()
    if header and not header.lower().startswith("basic "):
        value = header[7:].strip() if header.lower().startswith("bearer ") else header
        if value and value.lower() != "bearer":
            return value
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key
    cookie = request.cookies.get(COOKIE_NAME)
    if cookie and _same_origin_or_none(request):
        return cookie
    return request.query_params.get("auth_token") or None


def _same_origin_or_none(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host", "")


def authenticate(state: FakePuter, request: Request, body: dict[str, Any]) -> tuple[User, str]:
    token = extract_token(request, body)
    if token is None:
        raise ApiError(401, "Missing authentication token", "token_missing")
    if "." not in token:  # not a JWT: Puter takes it for a retired v1 token
        raise ApiError(401, "Re-authentication required", "reauth_required", reason="token_v1")
    found, user, user_uuid = state.resolve_token(token)
    if found == "revoked":  # recordings 57-63: the session was logged out
        raise ApiError(
            401,
            "Re-authentication required",
            "reauth_required",
            reason="session_revoked",
            auth_id=user_uuid,
            reauth_token=state.reauth_token(token),
        )
    if user is None:
        raise ApiError(401, "Authentication failed", "token_auth_failed")
    request.scope[AUTHENTICATED_USER] = user  # its response's egress is metered (app.EgressMeter)
    return user, token


def require_verified(user: User) -> None:
    """Puter's gate on every route but a few (``/whoami``): unconfirmed accounts get a 403 (recordings 79-82)."""
    if user.blocked_until_confirmed:
        raise ApiError(403, "Please confirm your email to continue", "email_confirmation_required")


def check_gui_origin(state: FakePuter, request: Request) -> None:
    """``/login`` and ``/signup`` accept no ``Origin`` header, or the GUI's own origin."""
    origin = request.headers.get("origin")
    if origin is None or origin in (state.gui_origin, state.origin):
        return
    if urlsplit(origin).netloc == request.headers.get("host"):
        return
    raise ApiError(403, "This endpoint cannot be called cross-origin.", "forbidden")
