"""Error statuses → PuterErrors: what every HTTP server means, and where a provider adds what its codes mean. Pure.

The wire reads an error status's body and hands it to the provider's `ErrorMapper`; each provider's `*_wire.py`
writes one (`error_from`) as `status_error(..., by_code=ITS_CODES)` plus what it says only in messages.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    InsufficientFunds,
    NotFound,
    PermissionDenied,
    PuterError,
    RateLimited,
    ServerError,
)
from ..redact import redact

ErrorBody = Mapping[str, Any] | str
# (status, the error body as `json_or_text` made it, Retry-After in seconds) → the error to raise
ErrorMapper = Callable[[int, ErrorBody, float | None], PuterError]


def json_or_text(body: bytes) -> ErrorBody:
    """An error body: parsed JSON when it is a JSON object, else the text (redacted, then trimmed)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return redact(body.decode("utf-8", "replace").strip())[:500]
    return data if isinstance(data, dict) else redact(str(data))[:500]


def class_for_status(status: int) -> type[APIError]:
    if status == 401:
        return AuthenticationError
    if status == 402:
        return InsufficientFunds
    if status == 403:
        return PermissionDenied
    if status == 404:
        return NotFound
    if status == 429:
        return RateLimited
    if status >= 500:
        return ServerError
    return BadRequest if status >= 400 else APIError


def status_error(
    status: int,
    message: str,
    *,
    code: str | None = None,
    body: ErrorBody | None = None,
    retry_after: float | None = None,
    by_code: Mapping[str, type[APIError]] | None = None,
) -> APIError:
    """The one place where an HTTP status, and a provider's error code when it knows it, become an exception."""
    cls = (by_code or {}).get(code or "") or class_for_status(status)
    message = redact(message) or f"HTTP {status}"
    if cls is RateLimited:
        return RateLimited(message, retry_after=retry_after, status_code=status, code=code, body=body)
    return cls(message, status_code=status, code=code, body=body)
