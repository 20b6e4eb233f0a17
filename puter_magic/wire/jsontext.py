"""JSON that can always leave the process: compact UTF-8, no lone surrogates, no NaN.

A Python str can hold unpaired UTF-16 surrogates. JSON text such as `"\\ud83d"` is valid and decodes to one:
half an emoji, cut by a client that slices strings by UTF-16 code units, or streamed by a server in two events.
UTF-8 cannot encode such a string, and a server that gets it escaped refuses the request or breaks on it. So
everything puter_magic sends (request bodies, the proxy's answers, the local test servers' answers) is encoded
here: a pair split into two code points is joined, and a lone surrogate becomes U+FFFD, the replacement
character, which is what a browser's TextEncoder and Node's Buffer do with the same string. JSON has no NaN or
Infinity either: `dumps()` refuses them rather than send a body that strict parsers reject.

Pure: the standard library only.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


class NotJSON(ValueError):
    """Raised when a value holds a number JSON cannot carry (NaN, Infinity)."""


def has_surrogates(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


def well_formed(text: str) -> str:
    """`text` with split surrogate pairs joined and lone surrogates replaced by U+FFFD."""
    if not has_surrogates(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def repaired(value: Any) -> Any:
    """A decoded JSON value with every string in it (keys too) well formed."""
    if isinstance(value, str):
        return well_formed(value)
    if isinstance(value, list):
        return [repaired(item) for item in value]
    if isinstance(value, dict):
        return {repaired(key): repaired(item) for key, item in value.items()}
    return value


def dumps(value: Any, *, escape_surrogates: bool = False) -> bytes:
    """Compact UTF-8 JSON of `value`; NotJSON for NaN or an infinity. Lone surrogates become U+FFFD, or with
    `escape_surrogates` stay `\\udXXX` escapes, which is how JavaScript's JSON.stringify and Python's default
    json.dumps write them (for the local servers, which answer as those do)."""
    try:
        text = _ENCODER.encode(value)
    except ValueError as exc:
        if "Out of range float" in str(exc):
            raise NotJSON("NaN and infinite numbers cannot be sent: JSON has no form for them") from None
        raise
    try:
        return text.encode()
    except UnicodeEncodeError:  # only outside a string's quotes could a backslash escape be wrong: never here
        return text.encode("utf-8", "backslashreplace") if escape_surrogates else well_formed(text).encode()
