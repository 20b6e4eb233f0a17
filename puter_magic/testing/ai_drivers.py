"""The local Puter server's AI drivers besides chat: image and video generation, text-to-speech, OCR,
speech-to-text and speech-to-speech (shared/puter-recorded-2.md §8, recordings 119-163).

With the ``media_providers`` setting off, they answer like the recorded keyless backend (§8a): image and TTS
refuse even ``test_mode``, video fails with an opaque 500, OCR and speech answer only ``test_mode``. With it on
(the default), like the backend with OpenAI keys (§8b) for everything recorded there, and beyond the recordings
with local, deterministic results instead of an upstream call: a generated PNG as a ``data:`` URL for images,
MP3 (or WAV) bytes streamed for speech, and OCR and transcripts that read back the text those carry
(see :mod:`puter_magic.testing.media`). Costs are metered under Puter's usage types. Videos are never made.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from puter_magic.testing import ai_catalog as catalog
from puter_magic.testing import ai_speech, media
from puter_magic.testing.ai_call import SERVICES, DriverCall, input_bytes, internal_error, js_text, micro_cents
from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.responses import ApiError, json_response
from puter_magic.testing.users import User

__all__ = ["SERVICES", "call_driver", "image_models", "image_models_details", "video_models", "video_models_details"]
MAX_IMAGE_EDGE = 2048  # the largest picture this server draws (bigger sizes are priced but drawn smaller)


# -- image generation -----------------------------------------------------------------------------------------


def _image_generate(call: DriverCall) -> Response:
    args = call.args
    model_arg = args.get("model")
    model_id = model_arg.strip().lower() if isinstance(model_arg, str) else ""
    provider = args["provider"] if args.get("provider") is not None else call.driver  # ai-image is no provider
    providers = [catalog.IMAGE_PROVIDER] if call.configured else []
    if not model_id and not provider and providers:
        provider = providers[0]
    if not model_id and provider in providers:
        model_id = catalog.DEFAULT_IMAGE_MODEL
    if not model_id:
        raise ApiError(400, "Missing `model`", "bad_request")  # recordings 119, 121, 122, 147
    model = catalog.find_image_model(model_id) if call.configured else None
    if model is None:
        raise ApiError(400, f"Model not found: {js_text(model_arg)}", "bad_request")  # recording 120
    if args.get("test_mode"):
        return call.ok(catalog.SAMPLE_IMAGE_URL)  # recordings 148-151
    prompt = args.get("prompt")
    if not isinstance(prompt, str):
        raise ApiError(400, "`prompt` must be a string", "bad_request")
    width, height = _image_size(args, model)
    qualities = model["allowedQualityLevels"]
    quality = args.get("quality") if args.get("quality") in qualities else qualities[0]
    price_key = f"{quality}:{width}x{height}"
    costs = model["costs"]
    output_cents = costs.get(price_key, costs[model["index_cost_key"]] * width * height / 1024**2)
    words = len(prompt.split())
    prompt_tokens = max(1, math.floor((len(prompt.strip()) / 4 + words * 4 / 3) / 2)) if prompt.strip() else 0
    input_cents = prompt_tokens / 1_000_000 * costs["text_input"]
    usage_type = f"openai:{model['id']}:{price_key}"
    entries = [(f"{usage_type}:output", 1, micro_cents(output_cents))]
    if input_cents > 0:
        entries.insert(0, (f"{usage_type}:input", prompt_tokens, micro_cents(input_cents)))
    call.charge(micro_cents(input_cents + output_cents), "Insufficient credits for image generation", entries)
    scale = min(1.0, MAX_IMAGE_EDGE / max(width, height))
    png = media.png_image(max(1, round(width * scale)), max(1, round(height * scale)), prompt)
    return call.ok("data:image/png;base64," + base64.b64encode(png).decode("ascii"))


def _image_size(args: dict[str, Any], model: dict[str, Any]) -> tuple[int, int]:
    """``ratio {w,h}``, ``width``+``height`` or ``aspect_ratio "w:h"``; a size the model does not offer becomes its
    first one; models without fixed sizes get the size asked for, snapped to 16 px and at most 3840 px a side."""
    ratio = args.get("ratio")
    if isinstance(ratio, dict):
        size = (ratio.get("w"), ratio.get("h"))
    elif isinstance(args.get("aspect_ratio"), str) and ":" in args["aspect_ratio"]:
        size = tuple(args["aspect_ratio"].split(":", 1))
    else:
        size = (args.get("width"), args.get("height"))
    try:
        width, height = (float(side) for side in size)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        width = height = 0.0
    allowed = model.get("allowedRatios")
    if allowed:
        match = next((r for r in allowed if (r["w"], r["h"]) == (width, height)), allowed[0])
        return match["w"], match["h"]
    if not (width > 0 and height > 0 and math.isfinite(width * height)):
        return 1024, 1024
    return tuple(max(16, min(3840, round(side / 16) * 16)) for side in (width, height))  # type: ignore[return-value]


def _image_models(call: DriverCall) -> Response:
    return call.ok(catalog.IMAGE_MODELS if call.configured else [])


def _image_list(call: DriverCall) -> Response:  # recordings 124, 152
    return call.ok(sorted(m["puterId"] for m in catalog.IMAGE_MODELS) if call.configured else [])


# -- video and OCR ---------------------------------------------------------------------------------------


def _video_generate(call: DriverCall) -> Response:
    if not call.configured:
        raise internal_error()  # recordings 133, 134: a plain Error, so the reason stays in the server's log
    if call.args.get("test_mode"):
        return call.ok(catalog.SAMPLE_VIDEO_URL)  # recordings 160, 161
    raise ApiError(501, "The local Puter server makes no videos; send test_mode:true.", "not_implemented")


def _video_models(call: DriverCall) -> Response:  # recording 135
    return call.ok(catalog.VIDEO_MODELS if call.configured else [])


def _video_list(call: DriverCall) -> Response:  # recording 162
    return call.ok(sorted(m["puterId"] for m in catalog.VIDEO_MODELS) if call.configured else [])


def _ocr_recognize(call: DriverCall) -> Response:
    if call.args.get("test_mode"):
        return call.ok(catalog.SAMPLE_OCR)  # recording 131: answered before any provider is looked for
    if not call.configured:
        raise internal_error("No OCR provider configured")  # recording 132
    data = input_bytes(call.args.get("source", call.args.get("file")))
    try:
        text = media.png_text(data) or ""
    except ValueError:
        text = ""
    lines = text.splitlines() or [""]
    blocks = [{"type": "text/puter:local-output", "confidence": 1, "text": line} for line in lines]
    return call.ok({"blocks": blocks})


METHODS: dict[str, dict[str, Callable[[DriverCall], Response]]] = {
    "puter-image-generation": {"generate": _image_generate, "models": _image_models, "list": _image_list},
    "puter-tts": {
        "synthesize": ai_speech.tts_synthesize,
        "list_voices": ai_speech.tts_listing("voices"),
        "list_engines": ai_speech.tts_listing("engines"),
        "list": ai_speech.tts_list,
    },
    "puter-video-generation": {"generate": _video_generate, "models": _video_models, "list": _video_list},
    "puter-ocr": {"recognize": _ocr_recognize},
    "puter-speech2txt": {
        "transcribe": ai_speech.speech_to_text(translate=False),
        "translate": ai_speech.speech_to_text(translate=True),
        "list_models": lambda call: call.ok(catalog.STT_MODELS),  # recording 140
        "list": lambda call: call.ok(catalog.STT_PROVIDERS),  # recording 139
    },
    "puter-speech2speech": {"convert": ai_speech.speech_convert},
}


def call_driver(
    state: FakePuter, user: User, interface: str, driver: str | None, method: str, args: dict[str, Any]
) -> Response:
    """Answer ``POST /drivers/call`` for one of :data:`SERVICES` (the caller has authenticated the user)."""
    handler = METHODS[interface].get(method)
    if handler is None:
        raise ApiError(404, f"Method '{method}' not found on driver '{interface}'", "not_found")
    return handler(DriverCall(state, user, interface, driver, args))


def _public_list(kind: str, details: bool) -> Callable[[Request, FakePuter], Awaitable[Response]]:
    """``GET /puterai/{image,video}/models[/details]``: no token needed; empty on a keyless backend (143-146,
    153, 154, 163)."""

    async def handler(request: Request, state: FakePuter) -> Response:
        models = (
            (catalog.IMAGE_MODELS if kind == "image" else catalog.VIDEO_MODELS)
            if state.settings.media_providers
            else []
        )
        return json_response({"models": models if details else sorted(m["puterId"] for m in models)})

    return handler


image_models = _public_list("image", details=False)
image_models_details = _public_list("image", details=True)
video_models = _public_list("video", details=False)
video_models_details = _public_list("video", details=True)
