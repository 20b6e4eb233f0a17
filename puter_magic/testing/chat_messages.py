"""What the local Puter server's chat models read of a request: Puter's message normalisation (roles and text
parts, JavaScript's falsy content refused), its token estimate, and word-sized stream pieces."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any


class BadRequest(ValueError):
    """The completion arguments are invalid (answered as 400 ``bad_request``)."""


@dataclass(frozen=True)
class ChatMessage:
    role: str
    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.parts)


def normalize_messages(raw: Any) -> list[ChatMessage]:
    """Puter's message normalisation, reduced to what the fake models read: role and text parts.

    A falsy ``content`` (JavaScript's sense: missing, null, "") is refused unless the message carries
    ``tool_calls`` (recordings 104, 109, 110); a tool message's content becomes a ``tool_result`` block, which has
    no text parts (recording 106)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise BadRequest("`messages` must be an array")
    messages: list[ChatMessage] = []
    for item in raw:
        if isinstance(item, str):
            messages.append(ChatMessage("user", (item,)))
            continue
        if not isinstance(item, dict):
            raise BadRequest("each message must be an object or a string")
        role = str(item.get("role") or "user")
        content = item.get("content")
        if _js_falsy(content) and role != "tool" and _js_falsy(item.get("tool_calls")):
            raise BadRequest("each message must have a 'content' property")
        messages.append(ChatMessage(role, () if role == "tool" else _text_parts(content)))
    return messages


def _js_falsy(value: Any) -> bool:
    return value is None or value is False or value == "" or (type(value) in (int, float) and value == 0)


def _text_parts(content: Any) -> tuple[str, ...]:
    if content is None:
        return ()
    if isinstance(content, str):
        return (content,)
    items = content if isinstance(content, list) else [content]
    parts: list[str] = []
    for part in items:
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
            parts.append(part["text"])
    return tuple(parts)


def count_tokens(text: str) -> int:
    """About one token per four characters, as Puter's fake provider estimates."""
    return math.ceil(len(text) / 4)


def split_words(text: str) -> list[str]:
    """Word-sized pieces (each word keeps its trailing whitespace) that join back into ``text``."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", text) if piece]
