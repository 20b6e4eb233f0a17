"""Account routes: ``/login``, ``/login/otp``, ``/signup``, ``/get-anticsrf-token``, ``/logout`` (GUI host);
``/whoami``, ``/metering/usage``, ``/metering/allCosts`` (API host). Messages and codes follow Puter's
AuthController and the recordings."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.gates import COOKIE_NAME, authenticate, check_gui_origin, read_json_body, require_verified
from puter_magic.testing.metering import all_costs
from puter_magic.testing.payloads import login_body, metering_body, whoami_body
from puter_magic.testing.responses import ApiError, html_response, json_response
from puter_magic.testing.users import User

EXPIRED = "Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
MIN_PASSWORD_LENGTH = 6
RESERVED_USERNAMES = frozenset(
    [
        "admin",
        "administrator",
        "root",
        "system",
        "puter",
        "www",
        "api",
        "support",
        "help",
        "info",
        "contact",
        "mail",
        "email",
        "null",
        "undefined",
        "test",
        "guest",
        "anonymous",
        "user",
        "users",
    ]
)


def _bad_request(message: str, code: str = "bad_request") -> ApiError:
    return ApiError(400, message, code)


def _complete_login(state: FakePuter, user: User) -> Response:
    """The JSON token and the cookie are two different tokens of one new session (recording 48)."""
    token, cookie = state.open_session(user.username)
    response = json_response(login_body(state, user, token))
    response.headers.append("set-cookie", f"{COOKIE_NAME}={cookie}; Path=/; HttpOnly; SameSite=Lax")
    return response


def _check_rate_limit(state: FakePuter, request: Request, scope: str) -> None:
    """Puter's two sliding windows on /login and /signup: per client fingerprint and per IP. Every request
    counts, whatever its outcome; the answer says nothing about when to retry (recordings 69-73)."""
    settings = state.settings
    address = request.client.host if request.client else ""
    headers = request.headers
    fingerprint = "|".join(
        (address, headers.get("user-agent", ""), headers.get("accept-language", ""), headers.get("accept-encoding", ""))
    )
    over = state.rate_limited(scope, fingerprint, settings.login_limit, settings.login_window)
    over = state.rate_limited(f"{scope}-ip", address, settings.login_ip_limit, settings.login_window) or over
    if over:
        raise ApiError(429, "Too many requests.", "too_many_requests")


def _check_captcha(state: FakePuter, body: dict[str, object]) -> None:
    """With captcha on, a client that cannot show the user an image cannot log in or sign up."""
    if state.settings.captcha and not (body.get("captchaToken") and body.get("captchaAnswer")):
        raise _bad_request("Captcha verification required.")


async def _account_form(request: Request, state: FakePuter, scope: str) -> dict[str, Any]:
    """The checks /login and /signup make before reading the form, in Puter's order; then the form."""
    _check_rate_limit(state, request, scope)
    body = await read_json_body(request)
    _check_captcha(state, body)
    check_gui_origin(state, request)
    return body


async def login(request: Request, state: FakePuter) -> Response:
    body = await _account_form(request, state, "login")
    username, email, password = body.get("username"), body.get("email"), body.get("password")
    if not username and not email:
        raise _bad_request("Username or email is required.")
    if not password or not isinstance(password, str):
        raise _bad_request("Password is required.", "password_required")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise _bad_request("Invalid password.")
    if username:
        if not isinstance(username, str):
            raise _bad_request("username must be a string.")
        user = state.user(username)
    else:
        user = state.user_by_email(email) if isinstance(email, str) else None
    if user is None:
        raise ApiError(404, "Username not found." if username else "Email not found.", "not_found")
    if user.password is None:
        raise ApiError(401, "Incorrect password.", "unauthorized")
    if password != user.password:
        raise ApiError(401, "Incorrect password.", "password_mismatch")
    if user.otp_code is not None:
        otp_token = state.issue_otp_token(user)
        return json_response({"proceed": True, "next_step": "otp", "otp_jwt_token": otp_token}, 202)
    return _complete_login(state, user)


async def login_otp(request: Request, state: FakePuter) -> Response:
    body = await read_json_body(request)
    check_gui_origin(state, request)
    token, code = body.get("token"), body.get("code")
    if not token:
        raise _bad_request("token is required.")
    if not code:
        raise _bad_request("code is required.")
    user = state.user_for_otp_token(token) if isinstance(token, str) else None
    if user is None:
        raise _bad_request("Invalid token.")
    if str(code) != user.otp_code:
        return json_response({"proceed": False})
    return _complete_login(state, user)


def _check_signup_fields(state: FakePuter, username: object, email: object, password: object) -> None:
    if not username:
        raise _bad_request("Username is required")
    if not isinstance(username, str):
        raise _bad_request("username must be a string.")
    if not re.fullmatch(r"\w+", username):
        raise _bad_request("Username can only contain letters, numbers and underscore (_).")
    if len(username) > 45:
        raise _bad_request("Username cannot be longer than 45 characters.")
    if username.lower() in RESERVED_USERNAMES:
        raise _bad_request("This username is not available.", "username_already_in_use")
    if not email:
        raise _bad_request("Email is required")
    if not isinstance(email, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise _bad_request("Please enter a valid email address.")
    if not password:
        raise _bad_request("Password is required")
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise _bad_request(f"Password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if state.user(username) is not None:
        raise _bad_request("This username already exists in our database. Please use another one.")
    if state.user_by_email(email) is not None:
        raise _bad_request("This email already exists in our database. Please use another one.")


async def signup(request: Request, state: FakePuter) -> Response:
    body = await _account_form(request, state, "signup")
    if body.get("is_temp"):
        return _complete_login(state, state.add_temp_user())
    username, email, password = body.get("username"), body.get("email"), body.get("password")
    _check_signup_fields(state, username, email, password)
    assert isinstance(username, str) and isinstance(password, str) and isinstance(email, str)
    user = state.add_user(username, password, email=email, requires_email_confirmation=True)
    return _complete_login(state, user)


async def get_anticsrf_token(request: Request, state: FakePuter) -> Response:
    """A fresh single-use anti-CSRF token for the user (session cookie or Bearer; recordings 49-52)."""
    user, _ = authenticate(state, request, {})
    return json_response({"token": state.mint_anti_csrf(user)})


async def logout(request: Request, state: FakePuter) -> Response:
    """Needs an unused anti-CSRF token of the same user; ends the whole session (both of its tokens) and
    deletes a temporary user (recordings 53-68)."""
    body = await read_json_body(request)
    user, token = authenticate(state, request, body)
    if not state.consume_anti_csrf(user, body.get("anti_csrf")):
        raise ApiError(400, "Incorrect anti-CSRF token.", "bad_request")
    state.revoke_token(token)
    response = html_response("logged out")
    response.headers.append("set-cookie", f"{COOKIE_NAME}=; {EXPIRED}")
    response.headers.append("set-cookie", f"puter_token_v2=; {EXPIRED}")
    response.headers.append("set-cookie", f"puter_elevated=; Domain={state.domain}; {EXPIRED}")
    return response


async def whoami(request: Request, state: FakePuter) -> Response:
    user, _ = authenticate(state, request, {})  # whoami is allowed to unconfirmed accounts (recording 78)
    return json_response(whoami_body(state, user))


async def metering_usage(request: Request, state: FakePuter) -> Response:
    user, _ = authenticate(state, request, {})
    require_verified(user)
    state.flush_due_egress()
    return json_response(metering_body(user))


async def metering_all_costs(request: Request, state: FakePuter) -> Response:
    user, _ = authenticate(state, request, {})
    require_verified(user)
    return json_response({"costs": all_costs()})
