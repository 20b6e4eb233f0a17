"""The Puter provider: login, models, chat (streamed and not), usage — over Puter's `/drivers/call` API.

Login goes to the GUI origin; everything else to the API origin. The token is sent only to those two
origins, as an `Authorization: Bearer` header, never in a URL.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import aclosing
from typing import Any

import httpx

from ..config import CredentialStore, Settings, state_dir
from ..decoders import NDJSONDecoder
from ..errors import (
    APIError,
    LoginFailed,
    NotLoggedIn,
    PuterError,
    RateLimited,
    ServerError,
    StreamFailed,
    StreamTruncated,
    TwoFactorRequired,
)
from ..http import Policy, decoded, json_or_text, make_client, open_response, retry_after_of, status_error
from ..limits import Backoff, RateLimiter
from ..redact import register_secret
from ..types import (
    ChatRequest,
    Completion,
    Credits,
    Finished,
    ModelInfo,
    ProviderStatus,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCall,
    Usage,
    UserInfo,
)
from . import puter_wire as wire

OtpSource = str | Callable[[], str | Awaitable[str]] | None


def policy_from(settings: Settings) -> Policy:
    limiter = None
    if settings.rate_limit or settings.max_concurrent:
        requests, window = settings.rate_limit or (0, 1.0)
        limiter = RateLimiter(requests or None, window, settings.max_concurrent)
    return Policy(
        connect_timeout=settings.connect_timeout,
        first_byte_timeout=settings.first_byte_timeout,
        idle_timeout=settings.idle_timeout,
        max_retries=settings.max_retries,
        backoff=Backoff(settings.backoff_base, settings.backoff_cap, settings.max_retry_wait),
        limiter=limiter,
    )


class PuterProvider:
    """Puter's AI API. Async; use it from one event loop (the session's loop thread does that)."""

    name = "puter"

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
        origins = (self.settings.api_origin, self.settings.gui_origin)
        self._client = make_client(self._policy, origins=origins, transport=transport)

    def __repr__(self) -> str:
        state = "logged in" if self.settings.token else "not logged in"
        return f"<PuterProvider {self.settings.api_origin} ({state})>"

    @property
    def origin(self) -> str:
        return self.settings.api_origin

    @property
    def logged_in(self) -> bool:
        return bool(self.settings.token)

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- plumbing ---------------------------------------------------------------------------------

    def _auth(self) -> dict[str, str]:
        if not self.settings.token:
            raise NotLoggedIn(f"not logged in to Puter at {self.settings.api_origin}")
        return {"Authorization": f"Bearer {self.settings.token}"}

    def _error_for(self, response: httpx.Response, body: bytes) -> PuterError:
        data = json_or_text(body)
        message, code, _ = wire.error_fields(data)
        error = status_error(response.status_code, message, code=code, body=data, retry_after=retry_after_of(response))
        return wire.refine(error)

    def _open(self, method: str, url: str, *, body: Any = None, auth: bool = True) -> Any:
        headers = self._auth() if auth else {}
        return open_response(
            self._client,
            method,
            url,
            policy=self._policy,
            error_for=self._error_for,
            json_body=body,
            headers=headers,
        )

    async def _json(self, method: str, url: str, *, body: Any = None, auth: bool = True) -> Any:
        async with self._open(method, url, body=body, auth=auth) as response:
            raw = await response.aread()
        try:
            data = json.loads(raw)
        except ValueError:
            raise ServerError(
                f"{url} answered with something that is not JSON", hint="check PUTER_API_ORIGIN"
            ) from None
        return self._check_envelope(data)

    def _check_envelope(self, data: Any) -> Any:
        """The v1-era backend reports errors inside HTTP 200 `{success: false}` envelopes."""
        if isinstance(data, Mapping) and data.get("success") is False:
            message, code, status = wire.error_fields(data)
            raise wire.refine(status_error(status or 400, message, code=code, body=data))
        if isinstance(data, Mapping) and wire.is_usage_limited(data):
            raise wire.usage_limited_error()
        return data

    def _api(self, path: str) -> str:
        return self.settings.api_origin + path

    def _gui(self, path: str) -> str:
        return self.settings.gui_origin + path

    # --- account ----------------------------------------------------------------------------------

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
        token = data.get("token")
        if data.get("next_step") != "complete" or not isinstance(token, str):
            raise LoginFailed(f"the login did not complete (next step: {data.get('next_step')!r})")
        register_secret(token)
        self.settings = self.settings.with_token(token)
        user = wire.parse_user(data.get("user") or {})
        if remember:
            self.store.put(self.settings.api_origin, token, user.username)
        return user

    async def _login_step(self, path: str, body: Mapping[str, Any]) -> Mapping[str, Any]:
        try:
            data = await self._json("POST", self._gui(path), body=dict(body), auth=False)
        except APIError as error:
            if error.status_code in (400, 401, 404) and not isinstance(error, RateLimited):
                raise LoginFailed(error.message, status_code=error.status_code, code=error.code) from None
            raise
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
        """Forget the token here and in the credentials file; tell the server when it can be reached."""
        token = self.settings.token
        self.settings = self.settings.with_token(None, source="logout")
        self.store.remove(self.settings.api_origin)
        if token:
            try:
                async with open_response(
                    self._client,
                    "POST",
                    self._gui("/logout"),
                    policy=self._policy,
                    error_for=self._error_for,
                    json_body={},
                    headers={"Authorization": f"Bearer {token}"},
                ):
                    pass
            except PuterError:
                pass  # the token is forgotten locally either way

    async def whoami(self) -> UserInfo:
        return wire.parse_user(await self._json("GET", self._api("/whoami")))

    async def usage(self) -> Credits:
        return wire.parse_credits(await self._json("GET", self._api("/metering/usage")))

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
            reachable = isinstance(error, APIError)
            return base(reachable=reachable, error=error.one_line())
        try:
            credits: Credits | None = await self.usage()
        except PuterError:
            credits = None
        return base(reachable=True, user=user, credits=credits)

    # --- models -----------------------------------------------------------------------------------

    async def models(self) -> list[ModelInfo]:
        """The public list; a self-hosted backend lists its models only through drivers/call."""
        public: list[ModelInfo] = []
        public_error: PuterError | None = None
        try:
            data = await self._json("GET", self._api("/puterai/chat/models/details"), auth=False)
            public = [wire.parse_model(m) for m in data.get("models", ()) if isinstance(m, Mapping)]
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
            return [wire.parse_model(m) if isinstance(m, Mapping) else ModelInfo(str(m)) for m in result]
        data = await self._json("POST", self._api("/drivers/call"), body=wire.driver_body("list"))
        ids = data.get("result") if isinstance(data, Mapping) else None
        return [ModelInfo(str(i)) for i in ids or ()]

    # --- chat -------------------------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> Completion:
        data = await self._json("POST", self._api("/drivers/call"), body=wire.chat_body(request, stream=False))
        return wire.parse_completion(data, request.model)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        body = wire.chat_body(request, stream=True)
        async with self._open("POST", self._api("/drivers/call"), body=body) as response:
            if "ndjson" not in response.headers.get("content-type", ""):
                # Some backends answer a stream request with one JSON body (or a v1 error envelope).
                completion = wire.parse_completion(
                    self._check_envelope(json.loads(await response.aread())), request.model
                )
                if completion.text:
                    yield TextDelta(completion.text)
                yield Finished(completion.usage, completion.finish_reason, completion.model)
                return
            texts: list[str] = []
            async with aclosing(decoded(response, NDJSONDecoder(), self._policy, texts)) as reads:
                async for objects in reads:
                    for obj in objects:
                        kind = obj.get("type") if isinstance(obj, dict) else None
                        if kind == "text":
                            text = obj.get("text") or ""
                            texts.append(text)
                            yield TextDelta(text)
                        elif kind == "usage":
                            yield Finished(wire.parse_usage(obj.get("usage")), "stop", request.model)
                            return
                        elif kind == "error":
                            message = str(obj.get("message") or "the model failed while answering")
                            raise StreamFailed(message, partial="".join(texts))
                        elif kind == "reasoning":
                            yield ReasoningDelta(str(obj.get("reasoning") or ""))
                        elif kind == "tool_use":
                            yield ToolCall(str(obj.get("id", "")), str(obj.get("name", "")), obj.get("input") or {})
                        elif kind == "content_block_delta":  # the v1 usage-limited stream's Anthropic-like lines
                            text = str((obj.get("delta") or {}).get("text") or "")
                            texts.append(text)
                            yield TextDelta(text)
            if self.strict_stream_end:
                raise StreamTruncated("the answer stopped before Puter said it was complete", partial="".join(texts))
            yield Finished(Usage(), None, request.model)


async def _ask(otp: OtpSource) -> str | None:
    if otp is None or isinstance(otp, str):
        return otp
    answer = otp()
    if inspect.isawaitable(answer):
        answer = await answer
    return str(answer).strip() if answer else None
