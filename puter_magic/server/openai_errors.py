"""Errors as the proxy answers them: OpenAI's `{"error": {message, type, param, code}}` with the right status.

Pure: the standard library and puter_magic's errors only. `error_reply(exc)` maps any exception:

    the proxy's own key missing or wrong     401  invalid_request_error  invalid_api_key  (+ WWW-Authenticate)
    body invalid / not JSON / n != 1         400  invalid_request_error  (param names the field)
    body larger than the limit               413  invalid_request_error  request_too_large
    the proxy shutting down (Ctrl-C, TERM)   503  server_error           server_shutting_down (in-band mid-stream)
    ModelNotFound                            404  invalid_request_error  model_not_found   (param: model)
    SchemaMismatch (response_format unmet)   502  server_error           response_format_unmet (after one retry)
    BadRequest, InputError                   400  invalid_request_error  (the upstream code)
    upstream NotLoggedIn / TokenRejected     502  server_error           upstream_auth_failed
    PermissionDenied (incl. verification)    403  permission_error       permission_denied
    InsufficientFunds                        402  insufficient_quota     insufficient_quota
    RateLimited                              429  rate_limit_error       rate_limit_exceeded (+ Retry-After)
    NotFound (an upstream route)             502  server_error           upstream_not_found
    Timeout, StreamTimeout                   504  server_error           upstream_timeout
    ConnectionFailed                         502  server_error           upstream_unreachable
    other StreamError                        502  server_error           upstream_stream_failed
    ServerError, other APIError              502  server_error           upstream_error
    ConfigurationError                       500  server_error           configuration_error
    anything else                            500  server_error           internal_error (the class name only)

An upstream login problem is a 502, not a 401: a 401 would tell the client that its key for *this* proxy is wrong,
while the fix is on the notebook's side (`%puter login`); the message says so.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    ConnectionFailed,
    InputError,
    InsufficientFunds,
    ModelNotFound,
    NotFound,
    PermissionDenied,
    PuterError,
    RateLimited,
    SchemaMismatch,
    StreamError,
    StreamTimeout,
    Timeout,
)

INVALID = "invalid_request_error"


class InvalidRequest(Exception):
    """Raised when a request to the proxy cannot be served as sent (answered with `status`, 400 unless said)."""

    def __init__(
        self, message: str, *, param: str | None = None, code: str | None = None, status: int = 400, kind: str = INVALID
    ) -> None:
        super().__init__(message)
        self.message, self.param, self.code, self.status, self.kind = message, param, code, status, kind


@dataclass(frozen=True)
class ErrorReply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error_body(
    message: str, kind: str = INVALID, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


# (exception class, status, type, code); the first match wins.
ERROR_TABLE: tuple[tuple[type[BaseException], int, str, str | None], ...] = (
    (ModelNotFound, 404, INVALID, "model_not_found"),
    (SchemaMismatch, 502, "server_error", "response_format_unmet"),
    (BadRequest, 400, INVALID, None),
    (InputError, 400, INVALID, None),
    (AuthenticationError, 502, "server_error", "upstream_auth_failed"),
    (PermissionDenied, 403, "permission_error", "permission_denied"),
    (InsufficientFunds, 402, "insufficient_quota", "insufficient_quota"),
    (RateLimited, 429, "rate_limit_error", "rate_limit_exceeded"),
    (NotFound, 502, "server_error", "upstream_not_found"),
    (Timeout, 504, "server_error", "upstream_timeout"),
    (StreamTimeout, 504, "server_error", "upstream_timeout"),
    (ConnectionFailed, 502, "server_error", "upstream_unreachable"),
    (StreamError, 502, "server_error", "upstream_stream_failed"),
    (APIError, 502, "server_error", "upstream_error"),
    (ConfigurationError, 500, "server_error", "configuration_error"),
    (PuterError, 500, "server_error", "internal_error"),
)


_HINTED = (AuthenticationError, InsufficientFunds, RateLimited, PermissionDenied)


def error_reply(exc: BaseException, clean: Callable[[str], str] = lambda text: text) -> ErrorReply:
    """The answer for any exception; `clean` scrubs secrets from messages (the app passes `redact`)."""
    if isinstance(exc, InvalidRequest):
        challenge = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
        return ErrorReply(
            exc.status, error_body(clean(exc.message), exc.kind, param=exc.param, code=exc.code), challenge
        )
    for cls, status, kind, code in ERROR_TABLE:
        if isinstance(exc, cls):
            assert isinstance(exc, PuterError)
            # Hints speak to the notebook's user: kept where the fix is theirs (log in, top up, wait).
            message = clean(exc.one_line() if isinstance(exc, _HINTED) else exc.message)
            if isinstance(exc, AuthenticationError):
                message = f"the proxy's own session was refused upstream: {message}"
            param = "model" if isinstance(exc, ModelNotFound) else None
            if isinstance(exc, SchemaMismatch):
                param, message = "response_format", f"response_format was not met: {message}"
            headers: dict[str, str] = {}
            if isinstance(exc, RateLimited) and exc.retry_after is not None:
                headers["Retry-After"] = str(math.ceil(exc.retry_after))
            upstream_code = getattr(exc, "code", None) if status == 400 else None
            return ErrorReply(status, error_body(message, kind, param=param, code=code or upstream_code), headers)
    name = type(exc).__name__
    return ErrorReply(500, error_body(f"internal error in the proxy ({name})", "server_error", code="internal_error"))
