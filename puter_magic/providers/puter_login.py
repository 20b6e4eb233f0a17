"""Logging in to Puter and out again: password (and a 2FA code), a guest account, a token checked with whoami, and
the browser's logout sequence — a base of providers/puter.py's PuterProvider. Logins go to the GUI origin, once.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import httpx

from ..config import CredentialStore, Settings
from ..datatypes import UserInfo
from ..errors import APIError, LoginFailed, PuterError, ServerError, TokenRejected, TwoFactorRequired
from ..redact import register_secret
from . import puter_account as account

OtpSource = str | Callable[[], str | Awaitable[str]] | None


class PuterLogin:
    """The account flows of PuterProvider, which provides the settings, the store, the client and the requests."""

    settings: Settings
    store: CredentialStore
    _client: httpx.AsyncClient

    if TYPE_CHECKING:

        def _open(
            self, method: str, url: str, *, body: Any = None, auth: bool = True, once: bool = False
        ) -> AbstractAsyncContextManager[httpx.Response]: ...

        async def _json(
            self, method: str, url: str, *, body: Any = None, auth: bool = True, once: bool = False
        ) -> Any: ...

        def _gui(self, path: str) -> str: ...

        async def whoami(self) -> UserInfo: ...

    async def login(self, username: str, password: str, *, otp: OtpSource = None, remember: bool = True) -> UserInfo:
        """Log in with a username (or email) and password; `otp` answers a 2FA challenge."""
        key = "email" if "@" in username else "username"
        data = await self._login_step("/login", {key: username, "password": password})
        if data.get("next_step") == "otp":
            code = await _ask(otp)
            if not code:
                raise TwoFactorRequired("this account needs a one-time code to log in")
            data = await self._login_step("/login/otp", {"token": data.get("otp_jwt_token"), "code": code})
            if data.get("proceed") is False:
                raise LoginFailed("the one-time code was not accepted", hint="check the code and try again")
        return self._adopt_login(data, remember)

    async def login_guest(self, *, remember: bool = True) -> UserInfo:
        """Create a temporary (guest) account, as the website does for a first visit, and log in as it."""
        data = await self._login_step("/signup", {"is_temp": True}, action="sign up")
        return self._adopt_login(data, remember)

    def _adopt_login(self, data: Mapping[str, Any], remember: bool) -> UserInfo:
        token = data.get("token")
        if data.get("next_step") != "complete" or not isinstance(token, str):
            raise LoginFailed(f"the login did not complete (next step: {data.get('next_step')!r})")
        register_secret(token)
        self.settings = self.settings.with_token(token)
        user = account.parse_user(data.get("user") or {})
        if remember:
            self.store.put(self.settings.api_origin, token, user.username)
        return user

    async def _login_step(self, path: str, body: Mapping[str, Any], action: str = "log in") -> Mapping[str, Any]:
        url = self._gui(path)
        try:
            data = await self._json("POST", url, body=dict(body), auth=False, once=True)
        except APIError as error:
            raise account.login_refused(error, action) from None
        return data if isinstance(data, Mapping) else {}

    async def use_token(self, token: str, *, remember: bool = True) -> UserInfo:
        """Adopt a token (e.g. a dashboard API token) after checking it with whoami."""
        register_secret(token)
        previous = self.settings
        self.settings = self.settings.with_token(token, source="token")
        try:
            user = await self.whoami()
        except PuterError:
            self.settings = previous
            raise
        if remember:
            self.store.put(self.settings.api_origin, token, user.username)
        return user

    async def logout(self) -> None:
        """End the session on the server, then forget the token (here and in the credentials file) and the
        cookies. When the server did not end it, the token is forgotten all the same and the error says so."""
        failure: PuterError | None = None
        if self.settings.token:
            try:
                await self._end_session()
            except PuterError as error:
                failure = error
        self._client.cookies.clear()
        self.settings = self.settings.with_token(None, source="logout")
        self.store.remove(self.settings.api_origin)
        if failure is not None:
            raise account.logout_incomplete(self.settings.gui_origin or self.settings.api_origin, failure)

    async def _end_session(self) -> None:
        """The browser's sequence (recordings 49-56): a fresh single-use anti-CSRF token from the GUI host, then
        `POST /logout` with it. A token the server no longer knows has no session left to end."""
        try:
            data = await self._json("GET", self._gui("/get-anticsrf-token"))
        except TokenRejected:
            return
        anti_csrf = data.get("token") if isinstance(data, Mapping) else None
        if not isinstance(anti_csrf, str) or not anti_csrf:
            raise ServerError("the server gave no anti-CSRF token for the logout")
        async with self._open("POST", self._gui("/logout"), body={"anti_csrf": anti_csrf}, once=True):
            pass  # 200 "logged out"; every refusal is an error status


async def _ask(otp: OtpSource) -> str | None:
    if otp is None or isinstance(otp, str):
        return otp
    answer = otp()
    if inspect.isawaitable(answer):
        answer = await answer
    return str(answer).strip() if answer else None
