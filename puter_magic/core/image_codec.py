"""Image bytes without an imaging library: what kind and how big (from the header), PNG written with zlib, data
URLs both ways, and the image parts of a message's content.

    sniff(data)            "image/png", "image/jpeg", "image/gif", "image/webp" or None
    image_size(data)       (width, height) read from the header, or None
    encode_png(pixels, width, height, channels)   8-bit grey / grey+alpha / RGB / RGBA rows → PNG bytes
    data_url(media_type, data) / decode_data_url(url)
    image_parts(content)   the `image_url` parts of a message's content (text → none)

Pure: standard library only.
"""

from __future__ import annotations

import base64
import binascii
import struct
import zlib
from collections.abc import Mapping
from typing import Any

IMAGE_TOKENS = 1600  # what one image is counted as against the context budget (about 1,100×1,100 px)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels → PNG colour type (grey, grey+alpha, RGB, RGBA)


def sniff(data: bytes) -> str | None:
    """The image type the bytes start with, or None when they are no PNG, JPEG, GIF or WebP."""
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG, JPEG, GIF or WebP; None when it cannot be read."""
    kind = sniff(data)
    try:
        if kind == "image/png" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if kind == "image/gif":
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if kind == "image/jpeg":
            return _jpeg_size(data)
        if kind == "image/webp":
            return _webp_size(data)
    except struct.error:
        return None
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    position = 2
    while position + 9 < len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return width, height
        position += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def encode_png(pixels: bytes, width: int, height: int, channels: int) -> bytes:
    """A PNG of 8-bit pixels, row after row, `channels` bytes each (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA)."""
    stride = width * channels
    if channels not in _COLOR_TYPES or len(pixels) != stride * height or width < 1 or height < 1:
        raise ValueError(f"{len(pixels)} bytes are no {width}×{height} image of {channels} channels")
    rows = b"".join(b"\x00" + pixels[row * stride : (row + 1) * stride] for row in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_TYPES[channels], 0, 0, 0)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows, 6)) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def data_url(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def decode_data_url(url: str) -> tuple[str, bytes] | None:
    """(media type, bytes) of a base64 `data:` URL; None for anything else or base64 that does not decode."""
    if not url.startswith("data:"):
        return None
    header, comma, payload = url[5:].partition(",")
    if not comma or not header.endswith(";base64"):
        return None
    try:
        return header.removesuffix(";base64").split(";", 1)[0], base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None


def part_url(part: Any) -> str | None:
    """The URL of an OpenAI `image_url` content part, or None for any other part."""
    if not isinstance(part, Mapping) or part.get("type", "image_url") != "image_url":
        return None
    inner = part.get("image_url")
    url = inner.get("url") if isinstance(inner, Mapping) else inner
    return url if isinstance(url, str) else None


def image_parts(content: Any) -> list[Mapping[str, Any]]:
    """The image parts of a message's content (a list of parts); none for text content."""
    if isinstance(content, str) or not content:
        return []
    return [part for part in content if part_url(part) is not None]


def image_part(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}
