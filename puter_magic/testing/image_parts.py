"""The image parts a chat request carried, decoded, so tests can check what a client sent.

Puter accepts image parts without looking at them (recordings 113-118: OpenAI-style ``image_url`` parts with data
or https URLs, Anthropic-style ``image`` blocks, even base64 that does not decode); so does the local server. This
reads them back from a logged request body, Puter's (``args.messages``) or an OpenAI-compatible one (``messages``).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, Literal

from puter_magic.testing.media import decode_data_url


@dataclass(frozen=True)
class ImagePart:
    """One image part: where it stood, how it was written, and its bytes when it carried them."""

    message: int  # index of its message in the request's list
    kind: Literal["image_url", "image"]  # OpenAI style (``image_url``) or Anthropic style (``image`` block)
    url: str | None  # an ``image_url``'s URL as sent (a data URL or an https URL); None for an ``image`` block
    media_type: str | None  # from the data URL or the block's ``source.media_type``; None for an https URL
    data: bytes | None  # the decoded bytes; None for an https URL or base64 that does not decode

    @property
    def is_data(self) -> bool:
        return self.url is None or self.url.startswith("data:")


def chat_messages(body: Any) -> list[Any]:
    """The message list of a Puter (``args.messages``) or OpenAI-compatible (``messages``) request body."""
    if not isinstance(body, dict):
        return []
    args = body.get("args")
    messages = args.get("messages") if isinstance(args, dict) else body.get("messages")
    return messages if isinstance(messages, list) else []


def image_parts(body: Any) -> list[ImagePart]:
    """Every image part in a request body, in order."""
    found = []
    for index, message in enumerate(chat_messages(body)):
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if isinstance(part, dict):
                image = _image_url_part(index, part) or _image_block(index, part)
                if image is not None:
                    found.append(image)
    return found


def _image_url_part(index: int, part: dict[str, Any]) -> ImagePart | None:
    # Puter infers the type of a part that has an `image_url` and no `type` (protocol §3.3)
    if part.get("type", "image_url") != "image_url" or "image_url" not in part:
        return None
    inner = part["image_url"]
    url = inner.get("url") if isinstance(inner, dict) else inner
    if not isinstance(url, str):
        return None
    decoded = decode_data_url(url)
    if decoded is not None:
        return ImagePart(index, "image_url", url, decoded[0], decoded[1])
    media_type = url[5:].split(";", 1)[0].split(",", 1)[0] if url.startswith("data:") else None
    return ImagePart(index, "image_url", url, media_type or None, None)


def _image_block(index: int, part: dict[str, Any]) -> ImagePart | None:
    source = part.get("source")
    if part.get("type") != "image" or not isinstance(source, dict):
        return None
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        return ImagePart(index, "image", source["url"], None, None)
    media_type = source.get("media_type") if isinstance(source.get("media_type"), str) else None
    try:
        data = base64.b64decode(source.get("data") or "", validate=True)
    except (binascii.Error, ValueError, TypeError):
        data = None
    return ImagePart(index, "image", None, media_type, data)
