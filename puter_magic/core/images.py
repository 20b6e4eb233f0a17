"""Notebook objects as images a model can read: `@{fig}` in a prompt, `%%puter --image plot.png`, read_text().

    picture_of(value, max_side)   a Picture (PNG/JPEG bytes, or an https URL passed through) or None when the
                                  value is no image (it is then text, as before)
    to_picture(value, max_side)   the same, but a value that is no image is a one-line InputError naming its type

What counts as an image: a matplotlib Figure or Axes (`@{plt}` is the current figure), the artists a plotting call
returns (`plt.plot(...)`'s list of Line2D, a bar container: the figure they are drawn in, so `@{Out[N]}` works), a
PIL image, a numpy array of H×W uint8 or H×W×3/4 numbers (floats read as 0…1), an IPython `Image`, PNG/JPEG/GIF/WebP
bytes, a `Path` to an image file, and a str that is an https URL ending in an image suffix, a `data:image/…` URL, or
the path of an existing image file (any other str is text). Images larger than `max_side` on their longest side are
made smaller first, keeping their proportions.

matplotlib, Pillow and numpy are imported only when the value is one of theirs; bytes and files that need no
downscaling go out as they are, and numpy arrays are written as PNG with zlib. Downscaling a file or a PIL image
needs Pillow: `pip install 'puter-magic[images]'`.
"""

from __future__ import annotations

import io
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError
from . import image_codec
from .image_codec import IMAGE_TOKENS as IMAGE_TOKENS

MAX_SIDE = 1568  # the longest side sent by default (Claude's and GPT's own downscaling starts about there)
SUFFIXES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
INSTALL = "pip install 'puter-magic[images]'"
KINDS = "a matplotlib figure, a PIL image, a numpy array, IPython Image, PNG/JPEG bytes, an image file or https URL"


@dataclass(frozen=True, slots=True)
class Picture:
    """An image ready to send: its bytes (or an https URL), its size, and its size before downscaling."""

    media_type: str
    data: bytes = b""
    width: int | None = None
    height: int | None = None
    url: str | None = None  # an https image, passed through as is
    original: tuple[int, int] | None = None  # the size before downscaling, when it was downscaled

    def data_url(self) -> str:
        return self.url or image_codec.data_url(self.media_type, self.data)

    def part(self) -> dict[str, Any]:
        """The OpenAI `image_url` content part."""
        return image_codec.image_part(self.data_url())

    def describe(self) -> str:
        """What the provenance line says: "1568×882 PNG, 61 KB (downscaled from 1920×1080)"."""
        if self.url:
            return self.url
        kind = self.media_type.split("/")[-1].upper()
        size = f"{self.width}×{self.height} " if self.width else ""
        text = f"{size}{kind}, {max(1, round(len(self.data) / 1000))} KB"
        if self.original:
            text += f" (downscaled from {self.original[0]}×{self.original[1]})"
        return text


def to_picture(value: Any, max_side: int = MAX_SIDE) -> Picture:
    """`value` as a Picture; a value that is no image raises InputError naming its type."""
    picture = picture_of(value, max_side)
    if picture is None:
        raise InputError(f"cannot send a value of type {_type_name(value)} as an image", hint=f"pass {KINDS}")
    return picture


def picture_of(value: Any, max_side: int = MAX_SIDE) -> Picture | None:
    """`value` as a Picture, or None when it is no image (see the module docstring for what is)."""
    if max_side < 16:
        raise InputError(f"the largest image side must be 16 px or more, not {max_side}")
    module = type(value).__module__ or ""
    if module.startswith("matplotlib") or _is_pyplot(value) or _drawn_in(value) is not None:
        return _figure(value, max_side)
    if module.startswith("PIL.") and hasattr(value, "save") and hasattr(value, "size"):
        return _pil(value, max_side)
    if module == "numpy" and type(value).__name__ == "ndarray" and _image_shaped(value):
        return _array(value, max_side)
    if module.startswith("IPython") and type(value).__name__ == "Image":
        return _ipython_image(value, max_side)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return _encoded(data, max_side) if image_codec.sniff(data) else None
    if isinstance(value, os.PathLike) and Path(value).suffix.lower() in SUFFIXES:
        return picture_from_file(Path(value), max_side)
    if isinstance(value, str):
        return _from_text(value.strip(), max_side)
    return None


def picture_from_file(path: Path, max_side: int = MAX_SIDE) -> Picture:
    try:
        data = path.expanduser().read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read the image {path}: {exc.strerror or exc}", hint="check the path") from None
    if image_codec.sniff(data) is None:
        raise InputError(f"{path} is no PNG, JPEG, GIF or WebP image", hint="convert it to PNG first")
    return _encoded(data, max_side)


def _from_text(text: str, max_side: int) -> Picture | None:
    if "\n" in text or (len(text) > 4096 and not text.startswith("data:")):
        return None
    if text.startswith("data:image/"):
        decoded = image_codec.decode_data_url(text)
        return _encoded(decoded[1], max_side) if decoded and image_codec.sniff(decoded[1]) else None
    suffix = Path(text.split("?", 1)[0].split("#", 1)[0]).suffix.lower()
    if suffix not in SUFFIXES:
        return None
    if text.startswith("https://"):
        return Picture(SUFFIXES[suffix], url=text)
    path = Path(text).expanduser()
    return picture_from_file(path, max_side) if path.is_file() else None


def _encoded(data: bytes, max_side: int) -> Picture:
    """PNG/JPEG/GIF/WebP bytes: sent as they are when small enough, else downscaled (Pillow)."""
    media_type = image_codec.sniff(data) or "image/png"
    size = image_codec.image_size(data)
    if size is not None and max(size) <= max_side:
        return Picture(media_type, data, size[0], size[1])
    pil = _pillow(f"the image is {size[0]}×{size[1]} px; making it smaller" if size else "reading this image")
    try:
        opened = pil.open(io.BytesIO(data))
        opened.load()
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow's errors for a broken file
        raise InputError(f"cannot read this {media_type} image: {exc}", hint="check the file") from None
    with opened:
        return _pil(opened, max_side)


def _pil(image: Any, max_side: int) -> Picture:
    pil = _pillow("sending a PIL image")
    original = image.size
    jpeg = getattr(image, "format", None) == "JPEG" or image.mode == "CMYK"  # photos stay JPEG
    if max(original) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), pil.Resampling.LANCZOS)
    if jpeg:
        image, media_type, fmt = image.convert("RGB"), "image/jpeg", "JPEG"
    else:
        wanted = image.mode if image.mode in ("1", "L", "LA", "RGB", "RGBA") else "RGBA"
        image, media_type, fmt = image.convert(wanted), "image/png", "PNG"
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **({"quality": 90} if jpeg else {}))
    width, height = image.size
    shrunk = (int(original[0]), int(original[1])) if (width, height) != tuple(original) else None
    return Picture(media_type, buffer.getvalue(), width, height, original=shrunk)


def _figure(value: Any, max_side: int) -> Picture:
    figure = value.gcf() if _is_pyplot(value) else getattr(value, "figure", None) or _drawn_in(value) or value
    if not hasattr(figure, "savefig") or not hasattr(figure, "get_size_inches"):
        raise InputError(f"cannot send a value of type {_type_name(value)} as an image", hint=f"pass {KINDS}")
    if not figure.get_axes():
        raise InputError(
            "the figure is empty (the notebook closes each cell's figure once shown)",
            hint="keep it with `fig = plt.gcf()` in the plotting cell, then write @{fig}",
        )
    width_in, height_in = figure.get_size_inches()
    dpi = float(figure.dpi)
    original = (round(width_in * dpi), round(height_in * dpi))
    if max(original) > max_side:
        dpi = max_side / max(width_in, height_in)
    for _ in range(2):  # a second try only if rounding made a side one pixel too long
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        data = buffer.getvalue()
        size = image_codec.image_size(data) or original
        if max(size) <= max_side or max(original) <= max_side:
            break
        dpi *= (max_side - 0.5) / max(size)
    shrunk = original if size != original else None
    return Picture("image/png", data, size[0], size[1], original=shrunk)


def _drawn_in(value: Any) -> Any | None:
    """The one figure a list or tuple of matplotlib artists was drawn in (what plotting calls return), or None."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    figures = set()
    for artist in value:
        figure = getattr(artist, "figure", None)
        if not (type(artist).__module__ or "").startswith("matplotlib") or figure is None:
            return None
        figures.add(figure)
    return figures.pop() if len(figures) == 1 else None


def _image_shaped(array: Any) -> bool:
    shape: tuple[int, ...] = tuple(getattr(array, "shape", ()))
    if len(shape) == 3 and shape[2] in (3, 4):
        return array.dtype.kind in "uif" and min(shape[:2]) > 0
    return len(shape) == 2 and array.dtype.kind == "u" and array.dtype.itemsize == 1 and min(shape) > 0


def _array(array: Any, max_side: int) -> Picture:
    import numpy

    if array.dtype.kind == "f":
        array = numpy.rint(numpy.clip(numpy.nan_to_num(array), 0.0, 1.0) * 255)
    array = numpy.ascontiguousarray(numpy.clip(array, 0, 255).astype(numpy.uint8))
    height, width = array.shape[:2]
    original = None
    if max(width, height) > max_side:
        original = (width, height)
        step = math.ceil(max(width, height) / max_side)
        array = numpy.ascontiguousarray(array[::step, ::step])
        height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    png = image_codec.encode_png(array.tobytes(), width, height, channels)
    return Picture("image/png", png, width, height, original=original)


def _ipython_image(image: Any, max_side: int) -> Picture:
    data = getattr(image, "data", None)
    if isinstance(data, (bytes, bytearray)) and image_codec.sniff(bytes(data)):
        return _encoded(bytes(data), max_side)
    url = getattr(image, "url", None) or getattr(image, "filename", None)
    picture = _from_text(str(url), max_side) if url else None
    if picture is None:
        raise InputError("this IPython Image holds no PNG or JPEG data", hint="make it with Image(data=…) or a file")
    return picture


def _is_pyplot(value: Any) -> bool:
    return getattr(value, "__name__", None) == "matplotlib.pyplot" and type(value).__name__ == "module"


def _pillow(doing: str) -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise InputError(f"{doing} needs Pillow", hint=INSTALL) from None
    return Image


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ in ("builtins", None) else f"{kind.__module__}.{kind.__qualname__}"


def pillow_available() -> bool:
    return "PIL" in sys.modules or _importable("PIL")


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
