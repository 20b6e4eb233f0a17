"""One call of an AI driver of the local Puter server (see ai_drivers.py), and what its handlers share."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response, StreamingResponse

from puter_magic.testing import media
from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.responses import ApiError, json_response
from puter_magic.testing.users import User

SERVICES = {
    "puter-image-generation": "ai-image",
    "puter-tts": "ai-tts",
    "puter-video-generation": "ai-video",
    "puter-ocr": "ai-ocr",
    "puter-speech2txt": "ai-speech2txt",
    "puter-speech2speech": "ai-speech2speech",
}
AUDIO_CHUNK = 4096


@dataclass(frozen=True)
class DriverCall:
    state: FakePuter
    user: User
    interface: str
    driver: str | None  # the request's `driver` field (None when omitted)
    args: dict[str, Any]

    @property
    def configured(self) -> bool:
        return self.state.settings.media_providers

    def ok(self, result: Any) -> Response:
        return json_response({"success": True, "result": result, "service": {"name": SERVICES[self.interface]}})

    def charge(self, needed: int, message: str, entries: list[tuple[str, int, int]]) -> None:
        """Refuse with 402 unless ``needed`` micro-cents are left, then meter (usage type, units, cost) entries."""
        if not self.state.has_credit(self.user, needed):
            raise ApiError(402, message, "insufficient_funds", headers={"X-Needs-Upgrade": "true"})
        for usage_type, units, cost in entries:
            self.state.meter(self.user, usage_type, units, cost)


def js_text(value: Any) -> str:
    return "undefined" if value is None else str(value)


def internal_error(message: str = "Internal Server Error") -> ApiError:
    return ApiError(500, message, "internal_error")


def input_bytes(value: Any) -> bytes:
    """The bytes of a ``data:`` URL argument; anything else (a URL, a Puter path) reads as nothing here."""
    decoded = media.decode_data_url(value) if isinstance(value, str) else None
    return decoded[1] if decoded else b""


def micro_cents(cents: float) -> int:
    return math.ceil(cents * 1_000_000) if cents > 0 else 1


def audio_response(audio: bytes, content_type: str) -> Response:
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(audio), AUDIO_CHUNK):
            yield audio[start : start + AUDIO_CHUNK]

    return StreamingResponse(chunks(), media_type=content_type)  # chunked, no Content-Length, as Puter streams
