"""What the local Puter server's AI drivers list: the catalogues and fixed samples of shared/puter-recorded-2.md §8.

Entries keep the key order the recordings show. Where a recording was cut (154: after the third image model; 158:
it ends in ``…``) the rest follows Puter's source at the recorded commit: four OpenAI image models, ten voices.
"""

from __future__ import annotations

from typing import Any

SAMPLE_IMAGE_URL = "https://puter-sample-data.puter.site/image_example.png"  # recordings 148-151
SAMPLE_AUDIO_URL = "https://puter-sample-data.puter.site/tts_example.mp3"  # recordings 141, 155, 156
SAMPLE_VIDEO_URL = "https://assets.puter.site/txt2vid.mp4"  # recordings 160, 161
SAMPLE_OCR = {  # recording 131
    "blocks": [
        {
            "type": "text/puter:sample-output",
            "confidence": 1,
            "text": "test_mode is enabled; this is a sample OCR response.",
        }
    ]
}
SAMPLE_TRANSCRIPT: dict[str, Any] = {  # recordings 136, 137 (the driver appends "model")
    "text": "Hello! This is a sample transcription returned while test mode is enabled.",
    "language": "en",
    "duration_seconds": 2,
    "words": [
        {"start": 0, "end": 0.5, "text": "Hello"},
        {"start": 1.1, "end": 2, "text": "This is a sample transcription."},
    ],
}

IMAGE_PROVIDER = "openai-image-generation"
DEFAULT_IMAGE_MODEL = "gpt-image-1-mini"
QUALITIES = ("low", "medium", "high")
SQUARE_AND_TALL_AND_WIDE = [{"w": 1024, "h": 1024}, {"w": 1024, "h": 1536}, {"w": 1536, "h": 1024}]


def _image_model(model_id: str, name: str, version: str, token_costs: dict[str, float], **rest: Any) -> dict[str, Any]:
    """One entry of recording 154 (``/puterai/image/models/details``)."""
    return {
        "puterId": f"openai:openai/{model_id}",
        "id": model_id,
        "aliases": [f"openai/{model_id}", *rest.pop("more_aliases", [])],
        "name": name,
        "version": version,
        "costs_currency": "usd-cents",
        "index_cost_key": "low:1024x1024",
        "costs": token_costs | rest.pop("sized", {}),
        "allowedQualityLevels": rest.pop("qualities", list(QUALITIES)),
        **rest,
        "provider": IMAGE_PROVIDER,
    }


# cents per picture of the models that make the three sizes: a row per quality (low, medium, high), a column per
# size (square, tall, wide)
CENTS_PER_PICTURE = {
    "gpt-image-1": ((1.1, 1.6, 1.6), (4.2, 6.3, 6.3), (16.7, 25, 25)),
    "gpt-image-1-mini": ((0.5, 0.6, 0.6), (1.1, 1.5, 1.5), (3.6, 5.2, 5.2)),
    "gpt-image-1.5": ((0.9, 1.3, 1.3), (3.4, 5, 5), (13.3, 20, 20)),
}


def _sized_image_model(model_id: str, name: str, version: str, token_costs: dict[str, float]) -> dict[str, Any]:
    """An image model that makes the three sizes of SQUARE_AND_TALL_AND_WIDE, at its CENTS_PER_PICTURE."""
    sized = {
        f"{quality}:{size['w']}x{size['h']}": cents
        for quality, row in zip(QUALITIES, CENTS_PER_PICTURE[model_id], strict=True)
        for size, cents in zip(SQUARE_AND_TALL_AND_WIDE, row, strict=True)
    }
    return _image_model(model_id, name, version, token_costs, sized=sized, allowedRatios=SQUARE_AND_TALL_AND_WIDE)


def _tokens(
    text: int, cached: int, image: int, image_cached: int, image_out: int, text_out: int | None = None
) -> dict[str, float]:
    costs: dict[str, float] = {"text_input": text, "text_cached_input": cached}
    if text_out is not None:
        costs["text_output"] = text_out
    return costs | {"image_input": image, "image_cached_input": image_cached, "image_output": image_out}


IMAGE_MODELS: list[dict[str, Any]] = [
    _sized_image_model("gpt-image-1", "GPT Image 1", "1.0", _tokens(500, 125, 1000, 250, 4000)),
    _sized_image_model("gpt-image-1-mini", "GPT Image 1 Mini", "1.0", _tokens(200, 20, 250, 25, 800)),
    _sized_image_model("gpt-image-1.5", "GPT Image 1.5", "1.5", _tokens(500, 125, 800, 200, 3200, text_out=1000)),
    _image_model(
        "gpt-image-2",
        "GPT Image 2",
        "2.0",
        _tokens(500, 125, 800, 200, 3000, text_out=1000),
        sized={"low:1024x1024": 0.588},
        qualities=["low", "medium", "high", "auto"],
        more_aliases=["gpt-image-2-2026-04-21"],
    ),
]


def _video_model(model_id: str, name: str, costs: dict[str, int], dimensions: list[str]) -> dict[str, Any]:
    """One entry of recording 163 (``/puterai/video/models/details``)."""
    return {
        "id": model_id,
        "puterId": f"openai:openai/{model_id}",
        "aliases": [f"openai/{model_id}", f"openai:openai/{model_id}", model_id],
        "name": name,
        "costs_currency": "usd-cents",
        "costs": costs,
        "output_cost_key": "default-duration-per-video",
        "durationSeconds": [4, 8, 12],
        "dimensions": dimensions,
        "defaultUsageKey": f"openai:{model_id}:default",
        "provider": "openai-video-generation",
    }


VIDEO_MODELS: list[dict[str, Any]] = [
    _video_model("sora-2", "Sora 2", {"per-second": 10, "default-duration-per-video": 40}, ["720x1280", "1280x720"]),
    _video_model(
        "sora-2-pro",
        "Sora 2 Pro",
        {
            "per-second": 30,
            "default-duration-per-video": 120,
            "per-second-xl": 50,
            "default-duration-per-video-xl": 200,
            "per-second-xxl": 70,
            "default-duration-per-video-xxl": 280,
        },
        ["720x1280", "1280x720", "1024x1792", "1792x1024", "1080x1920", "1920x1080"],
    ),
]

TTS_ENGINES: list[dict[str, Any]] = [  # recording 159
    {"id": "gpt-4o-mini-tts", "name": "GPT-4o mini TTS", "pricing_per_million_chars": 15, "provider": "openai"},
    {"id": "tts-1", "name": "TTS 1", "pricing_per_million_chars": 15, "provider": "openai"},
    {"id": "tts-1-hd", "name": "TTS 1 HD", "pricing_per_million_chars": 30, "provider": "openai"},
]
TTS_VOICES: list[dict[str, Any]] = [  # recording 158: ten voices, each for every engine
    {
        "id": voice,
        "name": voice.title(),
        "language": {"name": "English", "code": "en"},
        "provider": "openai",
        "supported_models": [engine["id"] for engine in TTS_ENGINES],
    }
    for voice in ("alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer")
]
TTS_MICRO_CENTS_PER_CHARACTER = {"gpt-4o-mini-tts": 1500, "tts-1": 1500, "tts-1-hd": 3000}
DEFAULT_TTS_MODEL = "gpt-4o-mini-tts"
DEFAULT_VOICE = "alloy"
TTS_CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav"}  # the formats this server can make


def _stt_model(
    model_id: str, kind: str, formats: list[str], prompt: bool, logprobs: bool, **more: bool
) -> dict[str, Any]:
    return {
        "id": model_id,
        "name": model_id,
        "type": kind,
        "response_formats": formats,
        "supports_prompt": prompt,
        "supports_logprobs": logprobs,
        **more,
    }


STT_MODELS: list[dict[str, Any]] = [  # recording 140
    _stt_model("gpt-4o-mini-transcribe", "transcription", ["json", "text"], True, True),
    _stt_model("gpt-4o-transcribe", "transcription", ["json", "text"], True, True),
    _stt_model(
        "gpt-4o-transcribe-diarize",
        "transcription",
        ["json", "text", "diarized_json"],
        False,
        False,
        supports_diarization=True,
    ),
    _stt_model(
        "whisper-1",
        "translation",
        ["json", "text", "srt", "verbose_json", "vtt"],
        True,
        False,
        supports_timestamp_granularities=True,
    ),
]
STT_PROVIDERS = ["openai", "xai"]  # recording 139: registered even without keys
STT_MICRO_CENTS_PER_SECOND = {
    "gpt-4o-transcribe": 10000,
    "gpt-4o-mini-transcribe": 5000,
    "gpt-4o-transcribe-diarize": 10000,
    "whisper-1": 10000,
}


def find_image_model(name: str) -> dict[str, Any] | None:
    """Case-insensitive lookup over id, aliases and puterId."""
    key = name.strip().lower()
    return next((m for m in IMAGE_MODELS if key in {m["id"], m["puterId"], *m["aliases"]}), None)
