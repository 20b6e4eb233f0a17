"""The control API under ``/__fake__/``, for tests and notebooks in other processes on this machine.

It hands out the admin's password and token and can reset everything, so it answers only callers that cannot be
a web page the user happens to visit: no CORS headers, no foreign ``Origin`` (nor ``Sec-Fetch-Site`` saying
cross-site), and a Host that is an IP address or a loopback name, so that a DNS-rebound name of another site
does not reach it. See the package docstring (``puter_magic.testing``) for the list of endpoints.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.faults import Fault
from puter_magic.testing.responses import ApiError, json_response

CONTROL_PREFIX = "/__fake__"
ControlHandler = Callable[[Request, FakePuter], Awaitable[Response]]
USER_FIELDS: dict[str, type] = {
    "password": str,
    "email": str,
    "email_confirmed": bool,
    "requires_email_confirmation": bool,
    "is_temp": bool,
    "otp_code": str,
    "allowance": int,
    "remaining": int,
}


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")


def host_name(host: str) -> str:
    """The name or address of a Host header value, without its port or IPv6 brackets, lower case."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0].lower()
    return host.rsplit(":", 1)[0].lower() if host.count(":") == 1 else host.lower()


def is_loopback_name(name: str, domain: str = "localhost") -> bool:
    """``localhost``, the server's ``domain`` and their subdomains (RFC 6761 keeps ``.localhost`` on loopback)."""
    return any(name == suffix or name.endswith("." + suffix) for suffix in ("localhost", domain.lower()))


def is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def check_control_caller(state: FakePuter, request: Request) -> None:
    """Refuse a request that a web page could have sent, or that reached us under another site's name."""
    host = request.headers.get("host", "")
    name = host_name(host)
    if not (is_ip_address(name) or is_loopback_name(name, state.domain)):
        message = f"The control API answers on an IP address or a loopback name, not on {name!r}."
        raise ApiError(403, message, "forbidden")
    origin = request.headers.get("origin")
    cross_site = request.headers.get("sec-fetch-site") in ("cross-site", "same-site")
    if cross_site or (origin is not None and urlsplit(origin).netloc.lower() != host.lower()):
        raise ApiError(403, "The control API answers no other web origin.", "forbidden")


def _bad_request(message: str) -> ApiError:
    return ApiError(400, message, "bad_request")


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "Malformed JSON in request body", "client_bad_json") from None


async def _object(request: Request) -> dict[str, Any]:
    data = await _json(request)
    if not isinstance(data, dict):
        raise _bad_request("expected a JSON object")
    return data


def _faults_json(state: FakePuter) -> dict[str, Any]:
    return {
        "queued": [fault.to_json() for fault in state.faults.queued],
        "persistent": [fault.to_json() for fault in state.faults.persistent],
    }


async def info(request: Request, state: FakePuter) -> Response:
    return json_response(
        {
            "origin": state.origin,
            "api_origin": state.api_origin,
            "gui_origin": state.gui_origin,
            "admin_username": "admin",
            "admin_password": state.admin_password,
            "admin_token": state.admin_token,
            "settings": state.settings.to_json(),
        }
    )


async def reset(request: Request, state: FakePuter) -> Response:
    state.reset()
    return json_response({"ok": True})


async def get_settings(request: Request, state: FakePuter) -> Response:
    return json_response(state.settings.to_json())


async def update_settings(request: Request, state: FakePuter) -> Response:
    try:
        state.settings.update(await _object(request))
    except ValueError as error:
        raise _bad_request(str(error)) from None
    return json_response(state.settings.to_json())


async def get_faults(request: Request, state: FakePuter) -> Response:
    return json_response(_faults_json(state))


async def add_faults(request: Request, state: FakePuter) -> Response:
    """Body: one fault object, a list of them, or ``{"faults": [...]}``; each may carry ``"persistent": true``."""
    data = await _json(request)
    items = data.get("faults", [data]) if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise _bad_request("expected a fault object or a list of them")
    faults: list[tuple[Fault, bool]] = []
    for item in items:
        options = dict(item)
        persistent = bool(options.pop("persistent", False))
        try:
            faults.append((Fault.from_json(options), persistent))
        except ValueError as error:
            raise _bad_request(str(error)) from None
    for fault, persistent in faults:  # all or nothing: inject only once every fault parsed
        state.inject(fault, persistent=persistent)
    return json_response(_faults_json(state))


async def clear_faults(request: Request, state: FakePuter) -> Response:
    state.clear_faults()
    return json_response(_faults_json(state))


async def get_requests(request: Request, state: FakePuter) -> Response:
    return json_response({"requests": [record.to_json() for record in state.requests]})


async def clear_requests(request: Request, state: FakePuter) -> Response:
    state.clear_requests()
    return json_response({"requests": []})


async def get_stats(request: Request, state: FakePuter) -> Response:
    streams = [record.to_json() for record in state.streams]
    return json_response({**state.stats(), "streams": streams})


async def add_user(request: Request, state: FakePuter) -> Response:
    """Create or replace a user and return it with a fresh token; ``remaining`` sets its credit (µ¢)."""
    data = await _object(request)
    username = data.pop("username", None)
    if not isinstance(username, str) or not username:
        raise _bad_request("`username` is required")
    data = {key: value for key, value in data.items() if value is not None}
    for key, value in data.items():
        kind = USER_FIELDS.get(key)
        if kind is None:
            raise _bad_request(f"unknown user field {key!r}")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise _bad_request(f"user field {key!r} must be of type {kind.__name__}")
    remaining = data.pop("remaining", None)
    user = state.add_user(username, **data)
    if remaining is not None:
        state.set_remaining(username, remaining)
    return json_response({"user": user.summary(), "token": state.issue_token(username)})


def _script_json(state: FakePuter) -> dict[str, Any]:
    return {"pending": [reply.to_json() for reply in state.script.pending], "served": state.script.served}


async def get_script(request: Request, state: FakePuter) -> Response:
    return json_response(_script_json(state))


async def add_to_script(request: Request, state: FakePuter) -> Response:
    """Body: one reply (an object, or a string for a text reply), a list, or ``{"replies": [...]}``."""
    data = await _json(request)
    items = data.get("replies", [data]) if isinstance(data, dict) else data
    if not isinstance(items, list):
        items = [items]
    try:
        state.script.enqueue(*items)
    except ValueError as error:
        raise _bad_request(str(error)) from None
    return json_response(_script_json(state))


async def clear_script(request: Request, state: FakePuter) -> Response:
    state.script.clear()
    return json_response(_script_json(state))


CONTROL_ROUTES: tuple[tuple[str, str, ControlHandler], ...] = (
    ("/", "GET", info),
    ("/info", "GET", info),
    ("/reset", "POST", reset),
    ("/settings", "GET", get_settings),
    ("/settings", "POST", update_settings),
    ("/faults", "GET", get_faults),
    ("/faults", "POST", add_faults),
    ("/faults", "DELETE", clear_faults),
    ("/requests", "GET", get_requests),
    ("/requests", "DELETE", clear_requests),
    ("/stats", "GET", get_stats),
    ("/users", "POST", add_user),
    ("/script", "GET", get_script),
    ("/script", "POST", add_to_script),
    ("/script", "DELETE", clear_script),
)
