"""Every error puter_magic raises on purpose.

    PuterError                       base; `hint` says what to do, `one_line(surface)` is what a person reads
    ├── ConfigurationError           a setting is missing or malformed (bad URL, unknown preset, …)
    │   └── Redirected               a server answered with a redirect (never followed); `location` says where
    ├── InputError                   the cell, its options or a referenced variable cannot be used as given
    ├── SchemaMismatch               a value (a structured answer, a tool call's arguments) does not fit its schema
    ├── TransportError               the request never got an HTTP answer
    │   ├── ConnectionFailed         the server could not be reached (refused, DNS, TLS)
    │   └── Timeout                  connect, first byte or silence between chunks took too long
    ├── APIError                     the server answered with an error (status_code, code, body)
    │   ├── AuthenticationError      401: who are you?
    │   │   ├── NotLoggedIn          no token at all (`token_missing`, or none configured)
    │   │   ├── TokenRejected        the token is invalid or expired (`token_auth_failed`)
    │   │   │   └── ReauthRequired   the session is retired: log in again (`reauth_required`)
    │   │   ├── LoginFailed          wrong username or password
    │   │   └── TwoFactorRequired    the login needs a one-time code (raised when no code can be asked)
    │   ├── PermissionDenied         403: the account may not do this
    │   │   └── VerificationRequired the account must confirm its email / phone / card first
    │   ├── InsufficientFunds        402 `insufficient_funds`, or the v1-era `usage_limited` answer
    │   ├── RateLimited              429; `retry_after` in seconds when the server said
    │   ├── BadRequest               400: the request was refused as malformed
    │   │   ├── ModelNotFound        the model id is unknown to the provider
    │   │   └── ContextOverflow      the prompt does not fit the model's window; `window` when the server said
    │   ├── NotFound                 404: no such route, driver or method
    │   └── ServerError              5xx, or an upstream provider failed
    └── StreamError                  a streamed answer went wrong after it started
        ├── StreamTruncated          the stream ended without its final line, or the connection broke
        ├── StreamTimeout            the server went silent in the middle of the answer
        ├── StreamFailed             the server reported an error inside the stream
        └── MalformedStream          a line of the stream could not be decoded

A stream error carries `partial`, the text that had arrived, so nothing received is lost.

No error holds a secret: whatever a server wrote becomes an error here, so this is where it is redacted, once.
`PuterError.__init__` passes the message and hint through `redact()`, `APIError` its `code` and (recursively)
its `body`, and `str()`, `repr()` and `one_line()` redact again when they render (a secret registered later
is hidden too). `partial` is not redacted: it is the model's answer, the user's own content.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .redact import redact, redact_data

SURFACES: dict[str, dict[str, str]] = {
    "notebook": {"{puter}": "%puter", "{key-env}": "%puter provider URL --key-env VAR"},
    "cli": {"{puter}": "puter-magic", "{key-env}": "puter-magic chat --provider URL --key-env VAR"},
}


def spell(text: str, surface: str = "notebook") -> str:
    """`text` with its command placeholders written for `surface` ("notebook" or "cli"): a hint writes `{puter} login`,
    read as `%puter login` in a notebook and `puter-magic login` in a terminal."""
    for placeholder, words in SURFACES[surface].items():
        text = text.replace(placeholder, words)
    return text


def seconds(value: float) -> str:
    """A wait as a person reads it: "a moment", "3 s", "about 2 min"."""
    if value < 1:
        return "a moment"
    if value <= 120:
        return f"{math.ceil(value)} s"
    return f"about {round(value / 60)} min"


class PuterError(Exception):
    """Base of everything puter_magic raises on purpose."""

    hint: str = ""
    attempts: int | None = None  # how many times the request was sent, when the error came through the wire

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        message = redact(message)
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = redact(hint)

    def __str__(self) -> str:
        return redact(super().__str__())

    def __repr__(self) -> str:
        return redact(super().__repr__())

    def one_line(self, surface: str = "notebook") -> str:
        """The message and what to do about it, on one line, in the words of `surface` ("notebook" or "cli")."""
        text = " ".join(self.message.split())
        if self.hint:
            text = f"{text.rstrip('.;:, ')} — {self.hint}"
        return redact(spell(text, surface))


class ConfigurationError(PuterError):
    """Raised when a setting is missing or malformed."""

    hint = "check the setting with `{puter} config`"


class Redirected(ConfigurationError):
    """Raised when a server answers with a redirect, which is never followed (credentials must not travel)."""

    hint = "use the final URL directly in the settings"

    def __init__(self, message: str, *, location: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.location = location


class InputError(PuterError):
    """Raised when a cell, its options or a referenced variable cannot be used as given."""

    hint = "check the options; `{puter} help` lists them"


class SchemaMismatch(PuterError):
    """Raised when a value (a structured answer, a tool call's arguments) does not fit its JSON schema.

    `problems` lists each misfit on one line, naming where it is (`people[2].age: expected integer, got "x"`);
    `text` keeps the JSON text the value came from, when there was one.
    """

    hint = "ask again, or simplify the schema"

    def __init__(
        self, message: str, *, problems: list[str] | None = None, text: str = "", hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.problems = [redact(problem) for problem in problems or [message]]
        self.text = text


class TransportError(PuterError):
    """Raised when a request got no HTTP answer at all."""


class ConnectionFailed(TransportError):
    """Raised when the server cannot be reached; `stale` when a kept-alive connection had been closed."""

    hint = "check the server URL and that the server is running"

    def __init__(self, message: str, *, stale: bool = False, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.stale = stale


class Timeout(TransportError):
    """Raised when connecting, waiting for the first byte or waiting between chunks takes too long."""

    hint = "try again, or raise the timeout (PUTER_TIMEOUT_* settings)"

    def __init__(self, message: str, *, phase: str = "read", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.phase = phase


class APIError(PuterError):
    """Raised when the server answered with an error."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        body: Mapping[str, Any] | str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.code = redact(code) if isinstance(code, str) else code
        self.body = redact_data(body)


class AuthenticationError(APIError):
    """Raised when the server does not accept who we are."""

    hint = "log in with `{puter} login` or set PUTER_TOKEN"


class NotLoggedIn(AuthenticationError):
    """Raised when no token is configured, or the server saw none."""


class TokenRejected(AuthenticationError):
    """Raised when the token is invalid or expired."""

    hint = "log in again with `{puter} login` or set a fresh PUTER_TOKEN"


class ReauthRequired(TokenRejected):
    """Raised when the server retired the session and wants a fresh login."""


class LoginFailed(AuthenticationError):
    """Raised when the username or password is wrong."""

    hint = "check the username and password"


class TwoFactorRequired(AuthenticationError):
    """Raised when a login needs a one-time code and none could be asked for."""

    hint = "pass the code from your authenticator app (otp=…)"


class PermissionDenied(APIError):
    """Raised when the account may not do what was asked."""

    hint = "check the account's permissions on the provider's website"


class VerificationRequired(PermissionDenied):
    """Raised when the account must confirm its email, phone or card first."""

    hint = "confirm your account on the provider's website, then try again"


class InsufficientFunds(APIError):
    """Raised when the account has no credit left for the request."""

    hint = "top up your credits, or pick a cheaper model"


class RateLimited(APIError):
    """Raised when the server refuses because of too many requests."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        if kwargs.get("hint") is None:
            self.hint = f"wait {seconds(retry_after) if retry_after else 'a little'} and try again"


class BadRequest(APIError):
    """Raised when the server refuses the request as malformed."""

    hint = "check the options of the request"


class ModelNotFound(BadRequest):
    """Raised when the provider does not know the model."""

    hint = "pick a model from `{puter} models`"


class ContextOverflow(BadRequest):
    """Raised when the request is longer than the model's context window (`window`, `requested` in tokens, if said)."""

    hint = "shorten the prompt, or the thread (`{puter} clear` empties it)"

    def __init__(self, message: str, *, window: int | None = None, requested: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.window = window
        self.requested = requested


class NotFound(APIError):
    """Raised when the route, driver or method does not exist on the server."""

    hint = "check the server URL; the server may be a different version"


class ServerError(APIError):
    """Raised on 5xx answers and when the provider's upstream failed."""

    hint = "the server had a problem; try again in a moment"


class StreamError(PuterError):
    """Raised when a streamed answer goes wrong after it started; `partial` keeps what arrived."""

    hint = "try again; what arrived stays on screen"

    def __init__(self, message: str, *, partial: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.partial = partial


class StreamTruncated(StreamError):
    """Raised when a stream ends without its final line."""


class StreamTimeout(StreamError):
    """Raised when a stream goes silent for longer than the between-chunks timeout."""

    hint = "try again, or raise PUTER_TIMEOUT_IDLE; what arrived stays on screen"


class StreamFailed(StreamError):
    """Raised when the server reports an error inside a stream."""


class MalformedStream(StreamError):
    """Raised when a line of a stream cannot be decoded."""
