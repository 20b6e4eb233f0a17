"""Pictures and sounds made with the standard library, for the local Puter server's AI drivers.

Each carries the text it was made from (a PNG ``iTXt`` chunk, an MP3 ID3 title, a WAV ``LIST/INFO`` name), so the
server's OCR and speech-to-text read back what its image generation and text-to-speech wrote: a drawn prompt is
"recognised", a spoken line is "transcribed". Everything is deterministic: the same text gives the same bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import math
import struct
import wave
import zlib
from urllib.parse import unquote_to_bytes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_KEY = b"Description"
# One MPEG-1 Layer III frame: 64 kbit/s, 48 kHz, mono, no CRC, no padding: 192 bytes, 1152 samples (24 ms).
# With all-zero side information and main data it decodes to silence.
MP3_FRAME_HEADER = b"\xff\xfb\x54\xc0"
MP3_FRAME_BYTES = 192
MP3_FRAME_SECONDS = 1152 / 48_000
WAV_RATE = 16_000


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


# -- PNG ------------------------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_image(width: int, height: int, text: str) -> bytes:
    """A ``width``×``height`` RGB PNG: a vertical gradient between two colours taken from the text's hash, with
    the text in an ``iTXt`` chunk named ``Description``."""
    digest = _digest(text)
    top, bottom = digest[0:3], digest[3:6]
    rows = []
    for y in range(height):
        t = y / max(1, height - 1)
        pixel = bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + pixel * width)  # filter type 0, then the row's pixels
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    itxt = TEXT_KEY + b"\x00\x00\x00\x00\x00" + text.encode("utf-8", "surrogatepass")
    return b"".join(
        [
            PNG_SIGNATURE,
            _png_chunk(b"IHDR", header),
            _png_chunk(b"iTXt", itxt),
            _png_chunk(b"IDAT", zlib.compress(b"".join(rows), 9)),
            _png_chunk(b"IEND", b""),
        ]
    )


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) chunks of a PNG, checking signature and CRCs (ValueError when it is no valid PNG)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    chunks, offset = [], len(PNG_SIGNATURE)
    while offset < len(data):
        if offset + 12 > len(data):
            raise ValueError("truncated PNG chunk")
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind, body = data[offset + 4 : offset + 8], data[offset + 8 : offset + 8 + length]
        (crc,) = struct.unpack(">I", data[offset + 8 + length : offset + 12 + length] or b"\0\0\0\0")
        if len(body) != length or crc != zlib.crc32(kind + body):
            raise ValueError(f"bad PNG chunk {kind!r}")
        chunks.append((kind, body))
        offset += 12 + length
    if not chunks or chunks[0][0] != b"IHDR" or chunks[-1][0] != b"IEND":
        raise ValueError("a PNG starts with IHDR and ends with IEND")
    return chunks


def png_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack(">II", png_chunks(data)[0][1][:8])
    return width, height


def png_text(data: bytes) -> str | None:
    """The ``Description`` a PNG carries (``tEXt`` or uncompressed ``iTXt``), or None."""
    for kind, body in png_chunks(data):
        key, _, rest = body.partition(b"\x00")
        if key != TEXT_KEY:
            continue
        if kind == b"tEXt":
            return rest.decode("latin-1")
        if kind == b"iTXt" and rest[:1] == b"\x00":
            return rest[2:].split(b"\x00", 2)[-1].decode("utf-8", "replace")
    return None


# -- audio ----------------------------------------------------------------------------------------------------


def speech_seconds(text: str) -> float:
    """How long a voice would take to say ``text``: about 15 characters a second, from 0.5 s to 30 s."""
    return min(30.0, max(0.5, len(text) / 15))


def _synchsafe(value: int) -> bytes:
    return bytes((value >> shift) & 0x7F for shift in (21, 14, 7, 0))


def mp3_audio(text: str) -> bytes:
    """An ID3v2.4 tag titled ``text`` followed by silent MPEG-1 Layer III frames lasting :func:`speech_seconds`."""
    title = b"\x03" + text.encode("utf-8", "surrogatepass")  # encoding 3 = UTF-8
    frame = b"TIT2" + _synchsafe(len(title)) + b"\x00\x00" + title
    tag = b"ID3\x04\x00\x00" + _synchsafe(len(frame)) + frame
    count = math.ceil(speech_seconds(text) / MP3_FRAME_SECONDS)
    silent = MP3_FRAME_HEADER + bytes(MP3_FRAME_BYTES - len(MP3_FRAME_HEADER))
    return tag + silent * count


def wav_audio(text: str) -> bytes:
    """16 kHz mono 16-bit PCM: a soft tone (its pitch from the text's hash) lasting :func:`speech_seconds`, with
    the text as the ``INAM`` of a ``LIST/INFO`` chunk."""
    pitch = 220 + _digest(text)[0] * 2
    count = round(speech_seconds(text) * WAV_RATE)
    samples = b"".join(
        struct.pack("<h", round(6000 * math.sin(2 * math.pi * pitch * i / WAV_RATE))) for i in range(count)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(WAV_RATE)
        writer.writeframes(samples)
    name = text.encode("utf-8", "surrogatepass") + b"\x00"
    name += b"\x00" * (len(name) % 2)
    info = b"INFO" + b"INAM" + struct.pack("<I", len(name)) + name
    riff = buffer.getvalue() + b"LIST" + struct.pack("<I", len(info)) + info
    return riff[:4] + struct.pack("<I", len(riff) - 8) + riff[8:]


def audio_text(data: bytes) -> str | None:
    """The text :func:`mp3_audio` or :func:`wav_audio` put into ``data``, or None."""
    if data.startswith(b"ID3") and len(data) >= 10:
        body = data[10 : 10 + _unsynchsafe(data[6:10])]
        while len(body) >= 10 and body[:4] != b"\x00\x00\x00\x00":
            size = _unsynchsafe(body[4:8]) if data[3] == 4 else struct.unpack(">I", body[4:8])[0]
            if body[:4] == b"TIT2" and body[10:11] == b"\x03":
                return body[11 : 10 + size].decode("utf-8", "replace").rstrip("\x00")
            body = body[10 + size :]
        return None
    if data.startswith(b"RIFF") and data[8:12] == b"WAVE":
        offset = 12
        while offset + 8 <= len(data):
            kind, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
            body = data[offset + 8 : offset + 8 + size]
            if kind == b"LIST" and body[:4] == b"INFO" and body[4:8] == b"INAM":
                return body[12:].split(b"\x00", 1)[0].decode("utf-8", "replace")
            offset += 8 + size + size % 2
    return None


def _unsynchsafe(raw: bytes) -> int:
    return sum((byte & 0x7F) << shift for byte, shift in zip(raw, (21, 14, 7, 0), strict=True))


def mp3_frames(data: bytes) -> int:
    """How many of our silent MPEG frames follow the ID3 tag (ValueError when something else does)."""
    offset = 10 + _unsynchsafe(data[6:10]) if data.startswith(b"ID3") else 0
    frames = data[offset:]
    if len(frames) % MP3_FRAME_BYTES:
        raise ValueError("not a whole number of frames")
    for start in range(0, len(frames), MP3_FRAME_BYTES):
        if frames[start : start + 4] != MP3_FRAME_HEADER:
            raise ValueError(f"no MPEG frame header at byte {offset + start}")
    return len(frames) // MP3_FRAME_BYTES


# -- data URLs ------------------------------------------------------------------------------------------------


def decode_data_url(url: str) -> tuple[str, bytes] | None:
    """``(media type, bytes)`` of a ``data:`` URL; None when it is none or its base64 does not decode."""
    if not url.startswith("data:") or "," not in url:
        return None
    header, _, payload = url[5:].partition(",")
    media_type, *params = header.split(";")
    if "base64" not in params:
        return media_type or "text/plain", unquote_to_bytes(payload)
    try:
        return media_type, base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
