"""The state of a local Puter server: settings, users, tokens, credit, faults, and what it observed.

Everything here is plain Python (no web framework) and thread-safe: the server's event-loop thread and the test
thread share one :class:`FakePuter`.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
import time
import uuid
from collections import deque
from typing import Any, Literal

from puter_magic.testing.faults import Fault, FaultBook
from puter_magic.testing.metering import Metering
from puter_magic.testing.scripted import Script
from puter_magic.testing.settings import Settings
from puter_magic.testing.traffic import Traffic
from puter_magic.testing.users import (
    ADMIN_ALLOWANCE,
    TASKBAR_APPS,
    TEMP_ALLOWANCE,
    USER_ALLOWANCE,
    Session,
    User,
    new_token,
    temp_username,
)

ANTI_CSRF_TTL = 600.0  # seconds an anti-CSRF token stays valid (Puter's antiCsrf.js)
TokenState = Literal["ok", "revoked", "unknown"]


class FakePuter(Traffic, Metering):
    """One local Puter backend's state. ``reset()`` brings it back to how it was built."""

    def __init__(
        self,
        *,
        domain: str = "puter.localhost",
        admin_password: str | None = None,
        seed: int | None = None,
        request_log_limit: int = 10_000,
        **settings: Any,
    ) -> None:
        self.domain = domain
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.admin_password = admin_password or secrets.token_hex(16)
        self.faults = FaultBook()
        self.script = Script()  # the replies of the scripted tool models (tool_models.py)
        self.app_uids = tuple(f"app-{uuid.uuid4()}" for _ in TASKBAR_APPS)
        self._initial_settings = Settings()
        self._initial_settings.update(settings)
        self._seed = seed
        self._clock_offset = 0.0
        self._start_traffic(request_log_limit)
        self._admin = User("admin", self.admin_password, allowance=ADMIN_ALLOWANCE, remaining=ADMIN_ALLOWANCE)
        self.admin_token = new_token(self._admin)
        self.admin_cookie = new_token(self._admin, kind="s")
        self.reset()

    # -- clock -----------------------------------------------------------------------------------------------

    def now(self) -> float:
        """The server's clock (monotonic seconds): what expiries, rate-limit windows and egress flushes follow."""
        return time.monotonic() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the server's clock forward, as if ``seconds`` had passed (tests use this instead of sleeping)."""
        with self._cond:
            self._clock_offset += seconds
            self._cond.notify_all()

    # -- origins ---------------------------------------------------------------------------------------------

    def bind(self, host: str, port: int) -> None:
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        self.host = f"[{host}]" if ":" in host else host
        self.port = port

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port or 80}"

    @property
    def api_origin(self) -> str:
        return f"http://api.{self.domain}:{self.port or 80}" if self.settings.host_routing else self.origin

    @property
    def gui_origin(self) -> str:
        return f"http://{self.domain}:{self.port or 80}" if self.settings.host_routing else self.origin

    # -- users and tokens ------------------------------------------------------------------------------------

    def add_user(
        self,
        username: str,
        password: str | None = None,
        *,
        email: str | None = None,
        email_confirmed: bool = False,
        requires_email_confirmation: bool = False,
        is_temp: bool = False,
        otp_code: str | None = None,
        allowance: int | None = None,
    ) -> User:
        """Create (or replace) a user; ``allowance`` is in micro-cents (default: the free-tier amount)."""
        if allowance is None:
            allowance = TEMP_ALLOWANCE if is_temp else USER_ALLOWANCE
        user = User(
            username,
            password,
            email=email,
            email_confirmed=email_confirmed,
            requires_email_confirmation=requires_email_confirmation,
            is_temp=is_temp,
            otp_code=otp_code,
            allowance=allowance,
            remaining=allowance,
        )
        with self._cond:
            self._users[username] = user
        return user

    def add_temp_user(self) -> User:
        with self._cond:
            username = temp_username()
            while username in self._users:
                username = temp_username()
            return self.add_user(username, is_temp=True)

    def user(self, username: str) -> User | None:
        with self._cond:
            return self._users.get(username)

    def user_by_email(self, email: str) -> User | None:
        with self._cond:
            return next((u for u in self._users.values() if u.email and u.email.lower() == email.lower()), None)

    def delete_user(self, username: str) -> None:
        with self._cond:
            self._users.pop(username, None)

    def open_session(self, username: str) -> tuple[str, str]:
        """A new session of ``username``: (its JSON token, its cookie token) — two JWTs of one session."""
        with self._cond:
            user = self._users[username]
            session = Session(username, user.uuid)
            tokens = (new_token(user), new_token(user, kind="s"))
            for token in tokens:
                self._tokens[token] = session
            return tokens

    def issue_token(self, username: str) -> str:
        """The JSON token of a new session of ``username``."""
        return self.open_session(username)[0]

    def revoke_token(self, token: str) -> bool:
        """End the session the token belongs to (both of its tokens); a temp user goes with it, as on logout."""
        with self._cond:
            session = self._tokens.get(token)
            if session is None or session.revoked:
                return False
            session.revoked = True
            user = self._users.get(session.username)
            if user is not None and user.is_temp and user.uuid == session.user_uuid:
                del self._users[session.username]
            return True

    def resolve_token(self, token: str) -> tuple[TokenState, User | None, str | None]:
        """What the token names: ("ok", user, uuid), ("revoked", None, the user's uuid) or ("unknown", None, None).

        A token of a deleted user (a logged-out temp user) is unknown, like any token that resolves to no one."""
        with self._cond:
            session = self._tokens.get(token)
            user = self._users.get(session.username) if session else None
            if session is None or user is None or user.uuid != session.user_uuid:
                return "unknown", None, None
            if session.revoked:
                return "revoked", None, session.user_uuid
            user.last_activity_ts = time.time()
            return "ok", user, user.uuid

    def user_for_token(self, token: str) -> User | None:
        return self.resolve_token(token)[1]

    def reauth_token(self, token: str) -> str:
        """The short-lived ``reauth_token`` a revoked session's 401 carries (never accepted here)."""
        with self._cond:
            session = self._tokens[token]
            return new_token(User(session.username, None, uuid=session.user_uuid), kind="reauth")

    # -- anti-CSRF tokens and rate limits --------------------------------------------------------------------

    def mint_anti_csrf(self, user: User) -> str:
        """A single-use anti-CSRF token, keyed by the user (not the session), valid for 10 minutes."""
        with self._cond:
            token = secrets.token_hex(32)
            self._anti_csrf.setdefault(user.uuid, {})[token] = self.now() + ANTI_CSRF_TTL
            return token

    def consume_anti_csrf(self, user: User, token: object) -> bool:
        with self._cond:
            expires = self._anti_csrf.get(user.uuid, {}).pop(token, None) if isinstance(token, str) else None
            return expires is not None and self.now() < expires

    def rate_limited(self, scope: str, key: str, limit: int, window: float) -> bool:
        """Count a hit of ``key`` in ``scope`` (a sliding window, every hit counted); True once over ``limit``."""
        now = self.now()
        with self._cond:
            hits = self._hits.setdefault((scope, key), deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            hits.append(now)
            return len(hits) > limit

    def issue_otp_token(self, user: User) -> str:
        with self._cond:
            token = new_token(user, kind="otp")
            self._otp_tokens[token] = (user.username, self.now() + self.settings.otp_ttl)
            return token

    def user_for_otp_token(self, token: str) -> User | None:
        """The user an unexpired otp_jwt_token was issued for."""
        with self._cond:
            username, expires = self._otp_tokens.get(token, ("", 0.0))
            return self._users.get(username) if self.now() < expires else None

    # -- faults ----------------------------------------------------------------------------------------------

    def inject(self, fault: Fault, *, persistent: bool = False) -> None:
        """Queue a fault for the next matching request(s), or keep it until ``clear_faults()``."""
        self.faults.add(fault, persistent=persistent)

    def clear_faults(self) -> None:
        self.faults.clear()

    # -- reset -----------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Fresh users, tokens, settings, faults and logs; the admin password, uuid and token stay the same."""
        with self._cond:
            self.settings = dataclasses.replace(self._initial_settings)
            self.faults.clear()
            self.script.clear()
            self.rng = random.Random(self._seed)
            self._reset_traffic()
            self._reset_metering()
            admin = dataclasses.replace(self._admin, usage={}, created_ts=time.time())  # whoami: "a few seconds ago"
            self._users: dict[str, User] = {"admin": admin}
            admin_session = Session("admin", admin.uuid)
            self._tokens: dict[str, Session] = {self.admin_token: admin_session, self.admin_cookie: admin_session}
            self._otp_tokens: dict[str, tuple[str, float]] = {}
            self._anti_csrf: dict[str, dict[str, float]] = {}
            self._hits: dict[tuple[str, str], deque[float]] = {}
            self._cond.notify_all()
