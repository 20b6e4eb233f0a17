"""The Puter provider: login, models, chat (streamed and not), usage — over Puter's `/drivers/call` API.

Login goes to the GUI origin (providers/puter_login.py); everything else to the API origin. The token is sent only
to those two origins, as an `Authorization: Bearer` header, never in a URL.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx

from ..config import CredentialStore, Settings, state_dir
from ..datatypes import ChatRequest, Completion, Credits, ModelInfo, ProviderStatus, StreamEvent, UserInfo
from ..errors import (
    APIError,
    ConfigurationError,
    NotLoggedIn,
    PuterError,
    Redirected,
    ServerError,
)
from ..redact import register_secret
from ..wire.limits import RateLimiter
from ..wire.sending import attempts_of, open_response
from ..wire.transport import make_client, policy_from
from . import puter_account as account
from . import puter_stream
from . import puter_wire as wire
from .puter_login import PuterLogin


class PuterProvider(PuterLogin):
    """Puter's AI API. Async; use it from one event loop (the session's loop thread does that)."""

    name = "puter"
    structured_output = False  # most of Puter's models ignore response_format: core/structured.py instructs them
    window_by_list = True  # a window comes with the whole model list: asked for only when a thread nears the default

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        store: CredentialStore | None = None,
        strict_stream_end: bool = True,
    ) -> None:
        self.settings = settings if settings is not None else Settings.load()
        register_secret(self.settings.token)
        self.store = store if store is not None else CredentialStore(state_dir())
        self.strict_stream_end = strict_stream_end
        self._policy = policy_from(self.settings)
        # A login is never sent twice: Puter allows about ten per 15 minutes and each retry resends the password.
        self._once = replace(self._policy, max_retries=0)
        origins = (self.settings.api_origin, self.settings.gui_origin)
        self._client = make_client(self._policy, origins=origins, transport=transport)
        self._listed: list[ModelInfo] | None = None  # the list context_window() fetched (empty if that failed)

    def __repr__(self) -> str:
        state = "logged in" if self.settings.token else "not logged in"
        return f"<PuterProvider {self.settings.api_origin} ({state})>"

    @property
    def origin(self) -> str:
        return self.settings.api_origin

    @property
    def logged_in(self) -> bool:
        return bool(self.settings.token)

    @property
    def limiter(self) -> RateLimiter | None:
        """The pacing every request waits for (None when the settings turn it off); a cluster shares it."""
        return self._policy.limiter

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- plumbing ---------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        if not self.settings.token:
            raise NotLoggedIn(f"not logged in to Puter at {self.settings.api_origin}")
        return {"Authorization": f"Bearer {self.settings.token}"}

    @asynccontextmanager
    async def _open(
        self, method: str, url: str, *, body: Any = None, auth: bool = True, once: bool = False
    ) -> AsyncIterator[httpx.Response]:
        headers = self._auth() if auth else {}
        policy = self._once if once else self._policy
        try:
            async with open_response(
                self._client, method, url, policy=policy, error_for=wire.error_from, json_body=body, headers=headers
            ) as response:
                yield response
        except Redirected:
            if url.startswith(self.settings.api_origin + "/"):
                raise account.gui_origin_mistake(self.settings.api_origin) from None
            raise

    async def _json(self, method: str, url: str, *, body: Any = None, auth: bool = True, once: bool = False) -> Any:
        return (await self._counted_json(method, url, body=body, auth=auth, once=once))[0]

    async def _counted_json(self, method: str, url: str, **options: Any) -> tuple[Any, int]:
        """The answer's JSON (v1 envelopes' errors raised) and the number of attempts it took."""
        async with self._open(method, url, **options) as response:
            raw = await response.aread()
            try:
                data = json.loads(raw)
            except ValueError:
                raise ServerError(
                    f"{url} answered with something that is not JSON", hint="check PUTER_API_ORIGIN"
                ) from None
            return wire.checked(data), attempts_of(response)

    def _api(self, path: str) -> str:
        return self.settings.api_origin + path

    def login_origin(self) -> str:
        """Where a password would go; raises ConfigurationError when it cannot be told (ask before prompting)."""
        if not self.settings.gui_origin:
            raise account.no_gui_origin(self.settings.api_origin)
        return self.settings.gui_origin

    def _gui(self, path: str) -> str:
        return self.login_origin() + path

    # --- account ----------------------------------------------------------------------------------

    async def whoami(self) -> UserInfo:
        return account.parse_user(await self._json("GET", self._api("/whoami")))

    async def usage(self) -> Credits:
        return account.parse_credits(await self._json("GET", self._api("/metering/usage")))

    async def status(self) -> ProviderStatus:
        base = functools.partial(ProviderStatus, self.name, self.settings.api_origin)
        if not self.settings.token:
            try:
                await self._json("GET", self._api("/puterai/chat/models"), auth=False)
            except PuterError as error:
                return base(reachable=False, error=error.one_line())
            return base(reachable=True, error="not logged in")
        try:
            user = await self.whoami()
        except PuterError as error:
            if isinstance(error, APIError):  # the status line adds what to do, in its surface's words
                return base(reachable=True, error=error.message)
            return base(reachable=False, error=error.one_line())
        note = account.TEMP_ACCOUNT_NOTE if user.is_temp else None
        if account.needs_confirmation(user):  # every request but whoami is refused (recordings 78-82)
            return base(reachable=True, user=user, error=account.unconfirmed_email(user.username).one_line(), note=note)
        try:
            credits: Credits | None = await self.usage()
        except PuterError:
            credits = None
        return base(reachable=True, user=user, credits=credits, note=note)

    # --- models -----------------------------------------------------------------------------------

    async def models(self) -> list[ModelInfo]:
        """The public list; a self-hosted backend lists its models only through drivers/call."""
        public: list[ModelInfo] = []
        public_error: PuterError | None = None
        try:
            data = await self._json("GET", self._api("/puterai/chat/models/details"), auth=False)
            public = [account.parse_model(m) for m in data.get("models", ()) if isinstance(m, Mapping)]
        except ConfigurationError:
            raise  # e.g. the GUI origin given as API origin: nothing else there will answer either
        except PuterError as error:
            public_error = error
        if public:
            return public
        if not self.settings.token:
            if public_error is not None:
                raise public_error
            raise NotLoggedIn("this Puter server lists its models only to signed-in users")
        data = await self._json("POST", self._api("/drivers/call"), body=wire.driver_body("models"))
        result = data.get("result") if isinstance(data, Mapping) else None
        if isinstance(result, list) and result:
            return [account.parse_model(m) if isinstance(m, Mapping) else ModelInfo(str(m)) for m in result]
        data = await self._json("POST", self._api("/drivers/call"), body=wire.driver_body("list"))
        ids = data.get("result") if isinstance(data, Mapping) else None
        return [ModelInfo(str(i)) for i in ids or ()]

    async def context_window(self, model: str) -> int | None:
        """The model's window from the model list, fetched once per provider (a failure is not asked again)."""
        if self._listed is None:
            try:
                self._listed = await self.models()
            except PuterError:
                self._listed = []
        return self.known_window(model)

    def known_window(self, model: str) -> int | None:
        """The window of `model` in the list context_window() fetched, if it did (no request)."""
        return next((m.context for m in self._listed or () if m.matches(model)), None)

    # --- chat -------------------------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> Completion:
        body = wire.chat_body(request, stream=False)
        data, attempts = await self._counted_json("POST", self._api("/drivers/call"), body=body)
        return replace(wire.parse_completion(data, request.model), attempts=attempts)

    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        opened = self._open("POST", self._api("/drivers/call"), body=wire.chat_body(request, stream=True))
        return puter_stream.events(opened, request, self._policy, strict_end=self.strict_stream_end)
