"""The chat models of the local Puter server and the text they generate.

Puter's own ``fake-chat`` models (``fake``, ``costly``, ``abuse``) behave as recorded from a real backend and answer
with the Anthropic-like result. Our ``local`` models answer with the OpenAI-like result, so that clients are
exercised on both shapes:

- ``deterministic``: ``"Turn N. You said: <last>. Before that you said: <previous>."`` plus one lorem sentence
  seeded from the sha256 of the message list, streamed word by word; the same messages give the same answer.
- ``echo``: the last user message's text, verbatim, streamed word by word.
- ``slow``: ``fake_chunks`` chunks at ``fake_rate`` chunks per second (0 = as fast as possible); the defaults come
  from the server settings. Chunk ``i`` is ``LOREM_WORDS[i % len(LOREM_WORDS)] + " "``.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from puter_magic.testing import lorem
from puter_magic.testing.chat_messages import BadRequest, ChatMessage, count_tokens, split_words

ABUSE_TEXT = (
    "<h2>Free AI and Cloud for everyone!</h2><br />\n"
    'Come on down to <a href="https://puter.com">puter.com</a> and try it out!'
)
HIDDEN_MODEL_IDS = frozenset({"fake", "costly", "abuse"})
ZERO_ID = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True)
class GenerationRequest:
    messages: list[ChatMessage]
    raw_messages: Any
    args: Mapping[str, Any]
    rng: random.Random
    slow_chunks: int = 20
    slow_rate: float = 20.0
    script: Any = None  # the server's scripted.Script, for the scripted tool models

    @property
    def input_tokens(self) -> int:
        return sum(count_tokens(part) for message in self.messages for part in message.parts)

    def user_texts(self) -> list[str]:
        return [message.text for message in self.messages if message.role == "user"]

    def number(self, key: str, default: float) -> float:
        value = self.args.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise BadRequest(f"`{key}` must be a non-negative number")
        return value


@dataclass(frozen=True)
class Generation:
    chunks: tuple[str, ...]
    input_tokens: int
    output_tokens: int
    rate: float = 0.0  # chunks per second when streamed; 0 = as fast as possible
    reply: Any = None  # what a scripted model answers besides the text (tool_models.Served)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def _fake(request: GenerationRequest) -> Generation:
    return Generation((lorem.paragraphs(request.rng, request.rng.randint(1, 3)),), 0, 1)


def _costly(request: GenerationRequest) -> Generation:
    max_tokens = request.number("max_tokens", 8192)
    output_tokens = math.floor(min(request.rng.random() * 150 + 50, max_tokens))
    text = lorem.paragraphs(request.rng, request.rng.randint(1, 3))
    return Generation((text,), request.input_tokens, output_tokens)


def _abuse(request: GenerationRequest) -> Generation:
    return Generation((ABUSE_TEXT,), 0, 1)


def _words(request: GenerationRequest, text: str, rate: float = 0.0) -> Generation:
    return Generation(tuple(split_words(text)), request.input_tokens, count_tokens(text), rate)


def _deterministic(request: GenerationRequest) -> Generation:
    said = request.user_texts()
    text = f"Turn {len(said)}. You said: {said[-1] if said else ''}."
    if len(said) > 1:
        text += f" Before that you said: {said[-2]}."
    canonical = json.dumps(request.raw_messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    seed = int.from_bytes(hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).digest(), "big")
    return _words(request, f"{text} {lorem.sentence(random.Random(seed))}")


def _echo(request: GenerationRequest) -> Generation:
    said = request.user_texts()
    return _words(request, said[-1] if said else "")


def _slow(request: GenerationRequest) -> Generation:
    count = int(request.number("fake_chunks", request.slow_chunks))
    rate = float(request.number("fake_rate", request.slow_rate))
    words = lorem.LOREM_WORDS
    chunks = tuple(f"{words[i % len(words)]} " for i in range(count))
    return Generation(chunks, request.input_tokens, count_tokens("".join(chunks)), rate)


@dataclass(frozen=True)
class ChatModel:
    id: str
    provider: str
    costs: Mapping[str, int]
    generate: Callable[[GenerationRequest], Generation] = field(repr=False, compare=False)
    aliases: tuple[str, ...] = ()
    name: str | None = None
    context: int | None = None
    max_tokens: int = 8192
    input_cost_key: str = "input-tokens"
    output_cost_key: str = "output-tokens"

    @property
    def is_fake_chat(self) -> bool:
        return self.provider == "fake-chat"

    def to_json(self) -> dict[str, Any]:
        """The model object, keys in the order Puter sends them (``provider`` is appended last)."""
        data: dict[str, Any] = {"id": self.id}
        if self.name is not None:
            data["name"] = self.name
        data["aliases"] = list(self.aliases)
        data["costs_currency"] = "usd-cents"
        if not self.is_fake_chat:
            data["input_cost_key"] = self.input_cost_key
            data["output_cost_key"] = self.output_cost_key
        data["costs"] = dict(self.costs)
        if self.context is not None:
            data["context"] = self.context
        data["max_tokens"] = self.max_tokens
        data["provider"] = self.provider
        return data

    def cost(self, input_tokens: int, output_tokens: int) -> int:
        """Micro-cents; ``costs`` are US cents per ``costs["tokens"]`` (default one million) tokens."""
        per = self.costs.get("tokens", 1_000_000)
        cents = input_tokens * self.costs.get(self.input_cost_key, 0)
        cents += output_tokens * self.costs.get(self.output_cost_key, 0)
        return round(cents * 1_000_000 / per)

    def usd_cents(self, generation: Generation) -> float:
        return self.cost(generation.input_tokens, generation.output_tokens) / 1_000_000

    def result(self, generation: Generation) -> dict[str, Any]:
        """The ``result`` of a non-streaming ``complete`` call."""
        if self.is_fake_chat:
            # usd_cents is null for fake-chat: its cost keys do not match its usage keys (recording 03).
            usage = {
                "input_tokens": generation.input_tokens,
                "output_tokens": generation.output_tokens,
                "usd_cents": None,
            }
            message = {
                "id": ZERO_ID,
                "type": "message",
                "role": "assistant",
                "model": self.id,
                "content": [{"type": "text", "text": generation.text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": usage,
            }
            return {"message": message, "usage": usage, "finish_reason": "stop", "via_ai_chat_service": True}
        message = {"role": "assistant", "content": generation.text, "refusal": None, "annotations": []}
        return {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": "stop",
            "usage": self.stream_usage(generation),
            "via_ai_chat_service": True,
        }

    def stream_tail(self, generation: Generation) -> list[dict[str, Any]]:
        """The lines of a stream after its text lines."""
        return [{"type": "usage", "usage": self.stream_usage(generation)}]

    def stream_usage(self, generation: Generation) -> dict[str, Any]:
        """The ``usage`` object of the stream's last line."""
        if self.is_fake_chat:
            return {"usd_cents": None}
        return {
            "prompt_tokens": generation.input_tokens,
            "completion_tokens": generation.output_tokens,
            "usd_cents": self.usd_cents(generation),
        }


def _fake_chat(model_id: str, costs: tuple[int, int], generate: Callable[..., Generation]) -> ChatModel:
    return ChatModel(model_id, "fake-chat", {"input-tokens": costs[0], "output-tokens": costs[1]}, generate)


def _local(model_id: str, title: str, costs: tuple[int, int], generate: Callable[..., Generation]) -> ChatModel:
    return ChatModel(
        model_id,
        "local",
        {"tokens": 1_000_000, "prompt_tokens": costs[0], "completion_tokens": costs[1]},
        generate,
        aliases=(f"local/{model_id}",),
        name=f"{title} (local test model)",
        context=32768,
        max_tokens=4096,
        input_cost_key="prompt_tokens",
        output_cost_key="completion_tokens",
    )


MODELS: tuple[ChatModel, ...] = (
    _fake_chat("abuse", (0, 0), _abuse),
    _fake_chat("costly", (1000, 2000), _costly),
    _local("deterministic", "Deterministic", (100, 200), _deterministic),
    _local("echo", "Echo", (50, 100), _echo),
    _fake_chat("fake", (0, 0), _fake),
    _local("slow", "Slow stream", (0, 0), _slow),
)
_BY_KEY: dict[str, ChatModel] = {key.lower(): model for model in MODELS for key in (model.id, *model.aliases)}


def find_model(name: Any) -> ChatModel | None:
    """Case-insensitive lookup over ids and aliases."""
    return _BY_KEY.get(name.strip().lower()) if isinstance(name, str) else None


def public_models() -> list[ChatModel]:
    """What ``/puterai/chat/models*`` lists: everything but the hidden fake-chat models."""
    return [model for model in MODELS if model.id not in HIDDEN_MODEL_IDS]
