"""Text-to-speech, speech-to-text and speech-to-speech drivers of the local Puter server (see ai_drivers.py)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from puter_magic.testing import ai_catalog as catalog
from puter_magic.testing import media
from puter_magic.testing.ai_call import DriverCall, audio_response, input_bytes, internal_error
from puter_magic.testing.responses import ApiError

TTS_PROVIDERS = ("aws-polly", "openai", "elevenlabs", "gemini", "xai", "speechify")


# -- text-to-speech -------------------------------------------------------------------------------------------


def _tts_name(value: Any) -> str | None:
    name = value.strip().lower() if isinstance(value, str) else ""
    name = name.removesuffix("-tts")
    return name if name in TTS_PROVIDERS else None


def _tts_provider(call: DriverCall) -> str:
    """An explicit ``provider``, then an ``engine`` or driver alias naming one, then aws-polly if configured,
    else the first configured provider, else aws-polly."""
    requested = call.args.get("provider")
    if requested not in (None, ""):
        named = _tts_name(requested)
        if named is None:
            available = ", ".join(TTS_PROVIDERS)
            raise ApiError(400, f"TTS provider not found: {requested}. Available: {available}", "bad_request")
        return named
    return _tts_name(call.args.get("engine")) or _tts_name(call.driver) or _tts_default(call)


def _tts_default(call: DriverCall) -> str:
    return "openai" if call.configured else "aws-polly"


def tts_synthesize(call: DriverCall) -> Response:
    name = _tts_provider(call)
    available = ["openai"] if call.configured else []
    if name not in available:  # recordings 125-127
        raise ApiError(400, f"TTS provider not configured: {name}. Available: {', '.join(available)}", "bad_request")
    args = call.args
    if args.get("test_mode"):
        return call.ok({"url": catalog.SAMPLE_AUDIO_URL, "content_type": "audio"})  # recordings 155, 156
    text = args.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "Missing required field: text", "field_required")
    engine = args.get("engine") if _tts_name(args.get("engine")) is None else None
    model = args.get("model") or engine or catalog.DEFAULT_TTS_MODEL
    rates = catalog.TTS_MICRO_CENTS_PER_CHARACTER
    if model not in rates:
        raise ApiError(400, f"Invalid model: {model}. Expected: {', '.join(rates)}", "field_invalid")
    voice = args.get("voice") or catalog.DEFAULT_VOICE
    voices = [v["id"] for v in catalog.TTS_VOICES]
    if voice not in voices:
        raise ApiError(400, f"Invalid voice: {voice}. Expected: {', '.join(voices)}", "field_invalid")
    cost = len(text) * rates[model]
    call.charge(cost, "Insufficient credits", [(f"openai:{model}:character", len(text), cost)])
    wav = args.get("response_format") == "wav"
    return audio_response(media.wav_audio(text) if wav else media.mp3_audio(text), "audio/wav" if wav else "audio/mpeg")


def tts_listing(kind: str) -> Callable[[DriverCall], Response]:
    def listing(call: DriverCall) -> Response:  # recordings 129, 130, 158, 159
        entries = catalog.TTS_VOICES if kind == "voices" else catalog.TTS_ENGINES
        requested = call.args.get("provider")
        everything = isinstance(requested, str) and requested.strip().lower() == "all"
        name = None if everything else (_tts_name(requested) or _tts_default(call))
        return call.ok(entries if call.configured and name in (None, "openai") else [])

    return listing


def tts_list(call: DriverCall) -> Response:  # recordings 128, 157
    return call.ok(["openai"] if call.configured else [])


# -- speech-to-text and speech-to-speech ---------------------------------------------------------------------


def speech_to_text(translate: bool) -> Callable[[DriverCall], Response]:
    def handler(call: DriverCall) -> Response:
        args = call.args
        model = args.get("model") or ("whisper-1" if translate else "gpt-4o-mini-transcribe")
        if args.get("test_mode"):
            return call.ok(catalog.SAMPLE_TRANSCRIPT | {"model": model})  # recordings 136, 137
        if not call.configured:
            raise internal_error("OpenAI API key not configured")  # recording 138
        entry = next((m for m in catalog.STT_MODELS if m["id"] == model), None)
        if entry is None:
            raise ApiError(400, f"Unsupported model: {model}", "bad_request")
        response_format = args.get("response_format")
        if response_format and response_format not in entry["response_formats"]:
            formats = ", ".join(entry["response_formats"])
            raise ApiError(400, f"response_format must be one of: {formats}", "bad_request")
        audio = input_bytes(args.get("file"))
        seconds = max(1, math.ceil(len(audio) / 16000))  # Puter's estimate: 16 kbit/s
        cost = catalog.STT_MICRO_CENTS_PER_SECOND[model] * seconds
        call.charge(cost, "Insufficient credits", [(f"openai:{model}:second", seconds, cost)])
        text = media.audio_text(audio) or ""
        return call.ok(text if response_format == "text" else {"text": text})

    return handler


def speech_convert(call: DriverCall) -> Response:
    if call.args.get("test_mode"):  # recording 141
        return call.ok({"url": catalog.SAMPLE_AUDIO_URL, "content_type": "audio/mpeg"})
    if not call.configured:
        raise internal_error("ElevenLabs API key not configured")  # recording 142
    words = media.audio_text(input_bytes(call.args.get("audio"))) or ""
    return audio_response(media.mp3_audio(words), "audio/mpeg")  # the same words in another voice
