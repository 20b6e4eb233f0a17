"""Pure translation of Puter's image, speech and OCR drivers (shared/puter-recorded-2.md §8): request bodies,
what their answers mean, and their refusals in words a person can act on.

    draw_body(prompt, model, size)   puter-image-generation.generate — always with a model: the backend refuses
                                     a request without one, even in test_mode (recordings 119, 121, 147)
    speak_body(text, voice, model)   puter-tts.synthesize (the answer is the audio itself, or JSON with a URL)
    transcribe_body(file)            puter-speech2txt.transcribe;   read_text_body(source)  puter-ocr.recognize
    image_models(result)             the driver's own `models` list (ids as the driver takes them)
    voices(result)                   puter-tts.list_voices
    media_error(error, what)         an APIError of these drivers, said for a person (one line)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..datatypes import ModelInfo, as_mapping
from ..errors import APIError, BadRequest, ConfigurationError, InputError, ModelNotFound, ServerError

IMAGE = ("puter-image-generation", "ai-image")
TTS = ("puter-tts", "ai-tts")
SPEECH_TO_TEXT = ("puter-speech2txt", "ai-speech2txt")
OCR = ("puter-ocr", "ai-ocr")
SIZE = re.compile(r"^\s*(\d{2,5})\s*[x×]\s*(\d{2,5})\s*$")


def call(driver: tuple[str, str], method: str, **args: Any) -> dict[str, Any]:
    interface, name = driver
    return {
        "interface": interface,
        "driver": name,
        "method": method,
        "args": {k: v for k, v in args.items() if v is not None},
    }


def parse_size(size: str | None) -> dict[str, int] | None:
    """ "1024x1024" → {"w": 1024, "h": 1024} (Puter's `ratio`); None for None; InputError for anything else."""
    if size is None:
        return None
    match = SIZE.match(size)
    if match is None:
        raise InputError(f"{size!r} is not an image size", hint="write it WIDTHxHEIGHT, for example 1024x1024")
    return {"w": int(match.group(1)), "h": int(match.group(2))}


def draw_body(prompt: str, model: str, size: str | None = None, quality: str | None = None) -> dict[str, Any]:
    if not prompt.strip():
        raise InputError("the picture's description is empty", hint="say what to draw")
    return call(IMAGE, "generate", prompt=prompt, model=model, ratio=parse_size(size), quality=quality)


def speak_body(text: str, voice: str | None = None, model: str | None = None) -> dict[str, Any]:
    if not text.strip():
        raise InputError("there is no text to speak", hint="give the words to say")
    return call(TTS, "synthesize", text=text, voice=voice, model=model)


def transcribe_body(file: str, model: str | None = None) -> dict[str, Any]:
    return call(SPEECH_TO_TEXT, "transcribe", file=file, model=model)


def read_text_body(source: str) -> dict[str, Any]:
    return call(OCR, "recognize", source=source)


def result_of(data: Any) -> Any:
    """The `result` of a `/drivers/call` answer."""
    return as_mapping(data).get("result")


def image_models(result: Any) -> list[ModelInfo]:
    """The image driver's `models` answer: entries with `id` (what `generate` takes), `name`, `provider`."""
    models = []
    for entry in result if isinstance(result, list) else ():
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            aliases = tuple(str(alias) for alias in entry.get("aliases") or () if alias != entry["id"])
            models.append(ModelInfo(entry["id"], entry.get("provider"), entry.get("name"), aliases))
        elif isinstance(entry, str):
            models.append(ModelInfo(entry))
    return models


def voices(result: Any) -> list[dict[str, str]]:
    """`list_voices`: [{"id", "name", "language"}] in the server's order."""
    found = []
    for entry in result if isinstance(result, list) else ():
        if isinstance(entry, Mapping) and isinstance(entry.get("id"), str):
            language = as_mapping(entry.get("language")).get("name") or ""
            found.append({"id": entry["id"], "name": str(entry.get("name") or entry["id"]), "language": str(language)})
    return found


def image_result(result: Any) -> str:
    """`generate`'s result: an https URL or a data URL."""
    url = result.get("url") if isinstance(result, Mapping) else result
    if not isinstance(url, str) or not url.startswith(("data:", "https://", "http://")):
        raise ServerError("the image generation answered with no picture", hint="try again, or another model")
    return url


def transcript(result: Any) -> str:
    if isinstance(result, str):
        return result
    text = as_mapping(result).get("text")
    if not isinstance(text, str):
        raise ServerError("the speech-to-text answer held no text")
    return text


def ocr_text(result: Any) -> str:
    """The recognised lines: Textract-style `blocks`, or Mistral-style `pages` with `markdown`."""
    data = as_mapping(result)
    blocks = [block.get("text") for block in data.get("blocks") or () if isinstance(block, Mapping)]
    pages = [page.get("markdown") for page in data.get("pages") or () if isinstance(page, Mapping)]
    return "\n".join(str(text) for text in blocks + pages if isinstance(text, str))


_NONE_AVAILABLE = re.compile(r"[.]?\s*Available:\s*$")  # "… not configured: aws-polly. Available: " lists none
_NOT_CONFIGURED = re.compile(r"(provider not configured|No OCR provider configured|API key not configured)", re.I)


def media_error(error: APIError, what: str) -> Exception:
    """An error of the `what` driver ("image generation", "text-to-speech", …) in words a person can act on."""
    message = error.message
    if _NOT_CONFIGURED.search(message):
        reason = _NONE_AVAILABLE.sub("", message)
        return ConfigurationError(
            f"this Puter server cannot do {what}: {reason}",
            hint="ask its administrator to configure a provider, or use puter.com",
        )
    if isinstance(error, BadRequest) and message == "Missing `model`":
        return ModelNotFound(
            f"{what} needs a model and none was given",
            status_code=error.status_code,
            code=error.code,
            hint="name one: `{puter} models --images` lists them",
        )
    if isinstance(error, ModelNotFound):
        error.hint = "`{puter} models --images` lists the image models" if what == "image generation" else error.hint
    return error
