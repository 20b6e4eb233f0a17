"""The panel's Puter login: a token field, or username + password (+ a one-time code when the account asks).

Secrets never stay in widget state (JupyterLab saves widget state into the .ipynb): a click reads the
password, code or token field and empties it at once, before any network work starts. For a two-factor
login the password is kept in this object's memory (never in a widget) until the code is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from ..core.sessions import Session
from ..errors import LoginFailed, PuterError, TwoFactorRequired
from .jobs import Jobs

Say = Callable[[str, str], None]  # (text, kind) → the panel's status line
HIDDEN, SHOWN = "none", None


class LoginBox(widgets.VBox):
    """Log in / log out of Puter for a session; shown by the panel when the provider is Puter."""

    def __init__(self, session: Session, jobs: Jobs, say: Say, **kwargs: Any) -> None:
        self._session = session
        self._jobs = jobs
        self._say = say
        self._pending: tuple[str, str] | None = None  # (username, password) while a one-time code is asked
        self._token = widgets.Password(placeholder="Puter API token", layout=widgets.Layout(width="22em"))
        self._use_token = widgets.Button(
            description="Use token", tooltip="Check the token and use it", layout=widgets.Layout(width="auto")
        )
        self._username = widgets.Text(placeholder="username or email", layout=widgets.Layout(width="14em"))
        self._password = widgets.Password(placeholder="password", layout=widgets.Layout(width="12em"))
        self._otp = widgets.Text(placeholder="one-time code", layout=widgets.Layout(width="9em", display=HIDDEN))
        self._login = widgets.Button(description="Log in", button_style="primary", layout=widgets.Layout(width="auto"))
        self._logout = widgets.Button(
            description="Log out", tooltip="Forget the token (here and on disk)", layout=widgets.Layout(width="auto")
        )
        self._token_row = widgets.HBox([self._token, self._use_token])
        self._password_row = widgets.HBox([self._username, self._password, self._otp, self._login])
        self._logout_row = widgets.HBox([self._logout])
        super().__init__(children=[self._token_row, self._password_row, self._logout_row], **kwargs)
        self.add_class("puter-panel-login")
        for name, child in [
            ("token", self._token),
            ("use-token", self._use_token),
            ("username", self._username),
            ("password", self._password),
            ("otp", self._otp),
            ("log-in", self._login),
            ("log-out", self._logout),
        ]:
            child.add_class(f"puter-panel-{name}")

        self._use_token.on_click(self._on_use_token_click)
        self._login.on_click(self._on_login_click)
        self._logout.on_click(self._on_logout_click)
        self.layout.display = HIDDEN  # until the first status check says what to offer

    def show(self, *, puter: bool, connected: bool) -> None:
        """Login fields when Puter is not connected, a Log out button when it is, nothing for other providers."""
        self.layout.display = SHOWN if puter else HIDDEN
        self._token_row.layout.display = HIDDEN if connected else SHOWN
        self._password_row.layout.display = HIDDEN if connected else SHOWN
        self._logout_row.layout.display = SHOWN if connected else HIDDEN
        if connected:
            self._otp.layout.display = HIDDEN

    @property
    def asking_code(self) -> bool:
        """True while the one-time code field is shown."""
        return bool(self._otp.layout.display != HIDDEN)

    def _puter(self) -> Any:
        provider = self._session.provider
        if not hasattr(provider, "login"):
            self._say(f"The {provider.name} provider has no Puter account: switch to Puter first.", "error")
            return None
        return provider

    # --- handlers -----------------------------------------------------------------------------------

    def _on_use_token_click(self, _button: widgets.Button) -> None:
        token = self._token.value.strip()
        self._token.value = ""
        provider = self._puter()
        if not token or provider is None:
            if not token:
                self._say("Paste a Puter API token first.", "error")
            return
        self._say("Checking the token…", "info")
        self._jobs.submit("login", self._adopt_token(provider, token), replace=True)

    def _on_login_click(self, _button: widgets.Button) -> None:
        username = self._username.value.strip()
        password, code = self._password.value, self._otp.value.strip()
        self._password.value = ""
        self._otp.value = ""
        if not password and self._pending is not None and self._pending[0] == username:
            password = self._pending[1]
        self._pending = None
        provider = self._puter()
        if not username or not password or provider is None:
            if provider is not None:
                self._say("Enter a username (or email) and a password.", "error")
            return
        self._say("Logging in…", "info")
        self._jobs.submit("login", self._log_in(provider, username, password, code or None), replace=True)

    def _on_logout_click(self, _button: widgets.Button) -> None:
        provider = self._puter()
        if provider is not None:
            self._jobs.submit("login", self._log_out(provider), replace=True)

    # --- work on the loop thread --------------------------------------------------------------------

    async def _adopt_token(self, provider: Any, token: str) -> None:
        try:
            user = await provider.use_token(token)
        except PuterError as error:
            self._say(f"The token was not accepted: {error.one_line()}", "error")
            return
        self._say(f"Logged in as {user.username}.", "ok")
        self._session.notify("login")

    async def _log_in(self, provider: Any, username: str, password: str, code: str | None) -> None:
        try:
            user = await provider.login(username, password, otp=code)
        except TwoFactorRequired:
            self._pending = (username, password)
            self._otp.layout.display = SHOWN
            self._say("This account needs a one-time code: enter it and press Log in again.", "warn")
            return
        except LoginFailed as error:
            if code:  # the password was right (it got a code asked): let the user retry the code
                self._pending = (username, password)
            self._say(f"Login failed: {error.one_line()}", "error")
            return
        except PuterError as error:
            self._say(f"Login failed: {error.one_line()}", "error")
            return
        self._otp.layout.display = HIDDEN
        self._say(f"Logged in as {user.username}.", "ok")
        self._session.notify("login")

    async def _log_out(self, provider: Any) -> None:
        await provider.logout()
        self._say("Logged out.", "info")
        self._session.notify("login")
