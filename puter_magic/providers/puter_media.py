"""Puter's image generation, text-to-speech, speech-to-text and OCR drivers, over a PuterProvider's connection.

    media = PuterMedia(provider)
    await media.image_models()                 the image driver's own `models` list
    await media.draw("a cat", model, "1024x1024")   → Media (the picture's bytes and type)
    await media.voices();  await media.speak("hello", voice=None)   → Media (audio)
    await media.transcribe(data, "audio/mpeg");  await media.read_text(data, "image/png")   → text

Results that arrive as an https URL are fetched (without the token: it goes only to Puter's origins); `data:`
URLs are decoded. Refusals are translated once (puter_media_wire.media_error).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import APIError, InputError, ServerError
from . import puter_media_wire as wire
from .puter import PuterProvider


@dataclass(frozen=True, slots=True)
class Media:
    """Bytes a driver made, with their MIME type (`image/png`, `audio/mpeg`, …)."""

    data: bytes
    media_type: str


class PuterMedia:
    """The media drivers of one Puter account (the provider's client, token and error mapping)."""

    def __init__(self, provider: Any) -> None:
        if not isinstance(provider, PuterProvider):
            name = getattr(provider, "name", type(provider).__name__)
            raise InputError(
                f"pictures and speech come from Puter; the active provider is {name}",
                hint="switch with `{puter} provider puter` (or pass provider='puter')",
            )
        self.provider = provider

    async def _call(self, body: dict[str, Any], what: str) -> Any:
        try:
            return wire.result_of(await self.provider._json("POST", self.provider._api("/drivers/call"), body=body))
        except APIError as error:
            raise wire.media_error(error, what) from None

    async def image_models(self) -> list[Any]:
        return wire.image_models(await self._call(wire.call(wire.IMAGE, "models"), "image generation"))

    async def voices(self) -> list[dict[str, str]]:
        return wire.voices(await self._call(wire.call(wire.TTS, "list_voices"), "text-to-speech"))

    async def draw(self, prompt: str, model: str, size: str | None = None) -> Media:
        url = wire.image_result(await self._call(wire.draw_body(prompt, model, size), "image generation"))
        return await self._fetch(url, "image/png")

    async def speak(self, text: str, voice: str | None = None, model: str | None = None) -> Media:
        """The audio, streamed back as bytes (a real provider), or a URL inside JSON (test_mode answers)."""
        url = self.provider._api("/drivers/call")
        try:
            async with self.provider._open("POST", url, body=wire.speak_body(text, voice, model)) as response:
                data = await response.aread()
                media_type = response.headers.get("content-type", "").split(";")[0].strip()
        except APIError as error:
            raise wire.media_error(error, "text-to-speech") from None
        if media_type.startswith("audio/"):
            return Media(data, media_type)
        try:
            result = wire.result_of(json.loads(data))
        except ValueError:
            raise ServerError("the text-to-speech answer was neither audio nor JSON") from None
        link = result.get("url") if isinstance(result, Mapping) else None
        if not isinstance(link, str):
            raise ServerError("the text-to-speech answer held no audio")
        return await self._fetch(link, "audio/mpeg")

    async def transcribe(self, data: bytes, media_type: str) -> str:
        file = f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
        return wire.transcript(await self._call(wire.transcribe_body(file), "speech-to-text"))

    async def read_text(self, data: bytes, media_type: str) -> str:
        source = f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"
        return wire.ocr_text(await self._call(wire.read_text_body(source), "text recognition"))

    async def _fetch(self, url: str, default_type: str) -> Media:
        if url.startswith("data:"):
            header, _, payload = url[5:].partition(",")
            try:
                return Media(base64.b64decode(payload, validate=True), header.split(";")[0] or default_type)
            except (binascii.Error, ValueError):
                raise ServerError("the answer's data URL does not decode") from None
        async with self.provider._open("GET", url, auth=False) as response:
            data = await response.aread()
            media_type = response.headers.get("content-type", default_type).split(";")[0].strip()
        return Media(data, media_type or default_type)
