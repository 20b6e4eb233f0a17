"""Fault definitions for the local Puter server, and the book that hands them out.

A fault is either an HTTP *status* answer, sent instead of the real one, or a *stream* fault that spoils an
NDJSON completion stream after ``after`` text lines:

==============  =============================================================================================
``status``      answer ``status`` with Puter's error body (401, 402 + ``X-Needs-Upgrade``, 429 + ``Retry-After``,
                500, 503, or any other code)
``drop``        abort the connection after ``after`` text lines (no terminating chunk)
``error_line``  after ``after`` text lines send ``{"type":"error","message":…}`` and end the stream
``truncate``    end the stream cleanly after ``after`` text lines, without the usage line
``malformed``   send a line that is not JSON (``message``, if given) after ``after`` text lines, then carry on
``stall``       send nothing for ``seconds`` after ``after`` text lines; with ``after=0`` before the
                response headers (also delays a non-streaming completion)
==============  =============================================================================================

Status faults apply to any API or GUI route; stream faults only to streaming completions, except ``stall``,
which also delays a non-streaming completion. Queued faults are consumed by the next matching requests (``count``
of them); persistent faults apply to every matching request until cleared. ``path`` restricts a fault to one
request path.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

FaultKind = Literal["status", "drop", "error_line", "truncate", "malformed", "stall"]
FAULT_KINDS: tuple[FaultKind, ...] = ("status", "drop", "error_line", "truncate", "malformed", "stall")
STATUS_FAULT_KINDS: frozenset[FaultKind] = frozenset({"status"})
STREAM_FAULT_KINDS: frozenset[FaultKind] = frozenset({"drop", "error_line", "truncate", "malformed", "stall"})

# status -> (message, code) for status faults; anything else gets "HTTP <status>" / "http_<status>".
STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("Bad Request", "bad_request"),
    401: ("Authentication failed", "token_auth_failed"),
    402: ("No usage left for request.", "insufficient_funds"),
    403: ("Forbidden", "forbidden"),
    404: ("Not Found", "not_found"),
    429: ("Too many requests.", "too_many_requests"),
    500: ("Internal Server Error", "internal_error"),
    502: ("Bad Gateway", "bad_gateway"),
    503: ("Service Unavailable", "service_unavailable"),
    504: ("Gateway Timeout", "gateway_timeout"),
}


def _require_number(name: str, value: Any, *, integral: bool = False) -> None:
    kinds: tuple[type, ...] = (int,) if integral else (int, float)
    is_number = isinstance(value, kinds) and not isinstance(value, bool)
    if not is_number or value < 0:
        raise ValueError(f"fault field {name!r} must be a non-negative {'integer' if integral else 'number'}")


class StreamDropped(Exception):
    """Raised inside a streaming body (fault ``drop``) so that uvicorn aborts the connection."""


@dataclass
class Fault:
    """One injected failure. Build it with the class methods, e.g. ``Fault.http(429, retry_after=0.2)``."""

    kind: FaultKind
    status: int = 500
    after: int = 0
    seconds: float = 0.0
    retry_after: float | None = None
    message: str | None = None
    path: str | None = None
    count: int = 1

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        for name in ("status", "after", "count"):
            _require_number(name, getattr(self, name), integral=True)
        _require_number("seconds", self.seconds)
        if self.retry_after is not None:
            _require_number("retry_after", self.retry_after)
        if self.count < 1:
            raise ValueError("fault field 'count' must be at least 1")
        for name, text in (("message", self.message), ("path", self.path)):
            if text is not None and not isinstance(text, str):
                raise ValueError(f"fault field {name!r} must be a string")
        if self.kind == "status" and not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status code, not {self.status}")

    @classmethod
    def http(cls, status: int, *, retry_after: float | None = None, **options: Any) -> Fault:
        return cls("status", status=status, retry_after=retry_after, **options)

    @classmethod
    def drop(cls, after: int = 0, **options: Any) -> Fault:
        return cls("drop", after=after, **options)

    @classmethod
    def error_line(cls, after: int = 0, message: str | None = None, **options: Any) -> Fault:
        return cls("error_line", after=after, message=message, **options)

    @classmethod
    def truncate(cls, after: int = 0, **options: Any) -> Fault:
        return cls("truncate", after=after, **options)

    @classmethod
    def malformed(cls, after: int = 0, line: str | None = None, **options: Any) -> Fault:
        return cls("malformed", after=after, message=line, **options)

    @classmethod
    def stall(cls, seconds: float, after: int = 0, **options: Any) -> Fault:
        return cls("stall", seconds=seconds, after=after, **options)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from the control API's JSON (unknown keys are an error)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        if "kind" not in data:
            raise ValueError("a fault needs a 'kind'")
        try:
            return cls(**cast(Any, dict(data)))
        except TypeError as exc:
            raise ValueError(str(exc)) from exc

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def error_text(self) -> tuple[str, str]:
        """The (message, code) pair of a status fault."""
        message, code = STATUS_ERRORS.get(self.status, (f"HTTP {self.status}", f"http_{self.status}"))
        return (self.message or message, code)

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.status in (402, 413):
            headers["X-Needs-Upgrade"] = "true"
        if self.retry_after is not None:
            headers["Retry-After"] = f"{self.retry_after:g}"
        return headers


class FaultBook:
    """Thread-safe store of queued (one-shot) and persistent faults. Queued faults are served first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: list[Fault] = []
        self._persistent: list[Fault] = []

    def add(self, fault: Fault, *, persistent: bool = False) -> None:
        with self._lock:
            (self._persistent if persistent else self._queued).append(dataclasses.replace(fault))

    def clear(self) -> None:
        with self._lock:
            self._queued.clear()
            self._persistent.clear()

    @property
    def queued(self) -> list[Fault]:
        with self._lock:
            return [dataclasses.replace(f) for f in self._queued]

    @property
    def persistent(self) -> list[Fault]:
        with self._lock:
            return [dataclasses.replace(f) for f in self._persistent]

    def take(self, path: str, kinds: Collection[FaultKind]) -> Fault | None:
        """The fault that applies to this request, consuming one use of a queued fault."""
        with self._lock:
            for index, fault in enumerate(self._queued):
                if fault.kind in kinds and fault.path in (None, path):
                    fault.count -= 1
                    if fault.count == 0:
                        del self._queued[index]
                    return dataclasses.replace(fault, count=1)
            for fault in self._persistent:
                if fault.kind in kinds and fault.path in (None, path):
                    return dataclasses.replace(fault)
        return None
