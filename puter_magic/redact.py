"""Keep secrets out of logs, reprs and error messages.

Every token or key the package handles is registered here once; `redact()` replaces any registered secret
(and anything shaped like a bearer credential) in a text, `redact_data()` in every string of a parsed body,
`excerpt()` cuts a server's text for an error message only after redacting it, and `RedactingFilter` applies
`redact()` to every record of the `puter_magic` logger.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

_secrets: set[str] = set()
_lock = threading.Lock()
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
REDACTED = "[redacted]"
_MAX_DEPTH = 32

# Every module logs through this one logger: a logger's filters see only records logged on it directly,
# not those propagated from child loggers, so one logger keeps the redacting filter in every path.
logger = logging.getLogger("puter_magic")


def register_secret(secret: str | None) -> None:
    """Remember a secret so it is never printed; short values are ignored (they would redact words)."""
    if secret and len(secret) >= 8:
        with _lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    if not text:
        return text
    for secret in tuple(_secrets):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def redact_data(value: Any, _depth: int = 0) -> Any:
    """A copy of a parsed server body (dicts, lists, strings) with `redact()` applied to every string in it."""
    if isinstance(value, str):
        return redact(value)
    if _depth >= _MAX_DEPTH and isinstance(value, (Mapping, list, tuple)):
        return "…"  # a body kept for diagnostics needs no more than this
    if isinstance(value, Mapping):
        return {redact_data(k, _depth + 1): redact_data(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(v, _depth + 1) for v in value]
    return value


def excerpt(text: str | bytes, limit: int = 80) -> str:
    """A repr of the start of a server's text, about `limit` characters, for an error message.

    Secrets are removed from the whole text before it is cut, so a cut never leaves half a secret behind.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    shown = repr(redact(text)[: limit * 4])
    if len(shown) <= limit + 2:
        return shown
    return shown[: limit + 1] + "…" + shown[0]


def redact_headers(headers: object) -> dict[str, str]:
    """A printable copy of request or response headers with credentials removed."""
    items = headers.items() if hasattr(headers, "items") else []
    sensitive = {"authorization", "x-api-key", "cookie", "set-cookie", "proxy-authorization"}
    return {k: (REDACTED if k.lower() in sensitive else redact(v)) for k, v in items}


class RedactingFilter(logging.Filter):
    """Rewrites each record's final message with secrets removed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


logger.addFilter(RedactingFilter())


def configure_logging(level: str | None) -> None:
    """When PUTER_LOG_LEVEL is set: that level, and a stderr handler that redacts too."""
    if level:
        logger.setLevel(level.upper())
        if not any(getattr(h, "_puter_magic", False) for h in logger.handlers):
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
            handler._puter_magic = True  # type: ignore[attr-defined]
            handler.addFilter(RedactingFilter())
            logger.addHandler(handler)
