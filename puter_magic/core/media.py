"""Pictures, speech and text out of Puter: the public draw(), speak(), transcribe() and read_text().

    img = puter_magic.draw("a cat in a hat")            # a PIL image (bytes without Pillow); save="cat.png"
    sound = puter_magic.speak("Hello!", voice="nova")   # Speech: bytes that play in a notebook; save="hi.mp3"
    puter_magic.transcribe("hello.mp3")                 # the words (a path or bytes)
    puter_magic.read_text(img)                          # the text in an image (anything @{…} sends as an image)

Each runs on the session's loop thread against the active provider, which must be Puter. The image model is
the one named, else the one last used with this provider, else the first of the image driver's own `models` list
(the backend refuses a request without one); it is remembered per provider.
"""

from __future__ import annotations

import base64
import weakref
from pathlib import Path
from typing import Any

from ..datatypes import ModelInfo
from ..errors import InputError
from ..providers.puter_media import Media, PuterMedia
from .images import picture_of, pillow_available, to_picture

AUDIO_TYPES = {
    ".mp3": "audio/mpeg",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
}
_image_model_of: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()


class Speech(bytes):
    """Audio bytes that show as a player in a notebook (what IPython.display.Audio shows) and save as they are."""

    media_type: str = "audio/mpeg"

    def __new__(cls, data: bytes, media_type: str = "audio/mpeg") -> Speech:
        speech = super().__new__(cls, data)
        speech.media_type = media_type
        return speech

    def __repr__(self) -> str:
        return f"<Speech {self.media_type}, {len(self):,} bytes>"

    def _repr_html_(self) -> str:
        source = f"data:{self.media_type};base64,{base64.b64encode(bytes(self)).decode('ascii')}"
        return f'<audio controls="controls"><source src="{source}" type="{self.media_type}"/></audio>'


def _session(session: Any) -> Any:
    if session is not None:
        return session
    from .sessions import session as shared

    return shared()


def _media(session: Any) -> PuterMedia:
    return PuterMedia(session.provider)


def image_models(*, session: Any = None) -> list[ModelInfo]:
    """The image models of the active provider (its image driver's own list)."""
    chosen = _session(session)
    return list(chosen.loop.run(_media(chosen).image_models()))


def voices(*, session: Any = None) -> list[dict[str, str]]:
    """The voices text-to-speech offers: [{"id", "name", "language"}]."""
    chosen = _session(session)
    return list(chosen.loop.run(_media(chosen).voices()))


def image_model(session: Any, model: str | None = None) -> str:
    """The model draw() uses: `model`, else the one remembered for the provider, else the driver's first."""
    remembered = _image_model_of.setdefault(session, {})
    name = session.provider_name
    if model:
        remembered[name] = model.strip()
        return remembered[name]
    if name not in remembered:
        models = image_models(session=session)
        if not models:
            raise InputError(
                "this server lists no image models, so there is nothing to draw with",
                hint="name a model with -m (model=…), or use puter.com",
            )
        remembered[name] = models[0].id
    return remembered[name]


def draw_media(prompt: str, *, model: str | None = None, size: str | None = None, session: Any = None) -> Media:
    """The picture's bytes and type (what draw() returns as an image)."""
    chosen = _session(session)
    return chosen.loop.run(_media(chosen).draw(prompt, image_model(chosen, model), size))  # type: ignore[no-any-return]


def draw(
    prompt: str,
    *,
    model: str | None = None,
    size: str | None = None,
    save: str | Path | None = None,
    session: Any = None,
) -> Any:
    """A picture of `prompt`: a PIL image when Pillow is installed, else the PNG (or JPEG) bytes; `save` writes the
    file too. `size` is "WIDTHxHEIGHT" (the model's first size when it has fixed ones)."""
    media = draw_media(prompt, model=model, size=size, session=session)
    if save is not None:
        _write(Path(save), media.data)
    return as_image(media.data)


def as_image(data: bytes) -> Any:
    if not pillow_available():
        return data
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def speak(
    text: str,
    *,
    voice: str | None = None,
    model: str | None = None,
    save: str | Path | None = None,
    session: Any = None,
) -> Speech:
    """`text` read aloud: Speech (bytes that play in a notebook); `save` writes the audio file too."""
    chosen = _session(session)
    media = chosen.loop.run(_media(chosen).speak(text, voice, model))
    if save is not None:
        _write(Path(save), media.data)
    return Speech(media.data, media.media_type)


def transcribe(audio: str | Path | bytes, *, session: Any = None) -> str:
    """The words spoken in `audio`: a path to an audio file, or its bytes."""
    if isinstance(audio, (bytes, bytearray)):
        data, media_type = bytes(audio), _audio_type(bytes(audio))
    else:
        path = Path(audio).expanduser()
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}", hint="check the path") from None
        media_type = AUDIO_TYPES.get(path.suffix.lower()) or _audio_type(data)
    chosen = _session(session)
    return str(chosen.loop.run(_media(chosen).transcribe(data, media_type)))


def read_text(image: Any, *, session: Any = None) -> str:
    """The text in `image` (OCR): anything `@{…}` sends as an image — a figure, PIL image, array, file, bytes."""
    picture = to_picture(image)
    if picture.url:
        raise InputError("read_text() needs the image itself, not a URL", hint="download it first")
    chosen = _session(session)
    return str(chosen.loop.run(_media(chosen).read_text(picture.data, picture.media_type)))


def _audio_type(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data[:4] == b"OggS":
        return "audio/ogg"
    return "audio/mpeg"


def _write(path: Path, data: bytes) -> None:
    try:
        path.expanduser().write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}", hint="check the path") from None


__all__ = ["Speech", "draw", "image_models", "picture_of", "read_text", "speak", "transcribe", "voices"]
