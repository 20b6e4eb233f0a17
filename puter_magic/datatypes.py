"""The values that cross layers: requests, stream events, completions, models, users.

All frozen dataclasses; no third-party imports. Money is in US dollars everywhere in this package
(Puter reports cents and micro-cents; the providers convert once).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .discovery import Credits as Credits  # the discovery values, importable from here as they always were
from .discovery import ModelInfo as ModelInfo
from .discovery import ProviderStatus as ProviderStatus
from .discovery import UserInfo as UserInfo
from .errors import InputError

ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function call the model made: `arguments` parsed, `arguments_text` as the model wrote it (when known).

    Also a stream event: providers yield one per call once its arguments are complete.
    """

    id: str
    name: str
    arguments: Mapping[str, Any]
    arguments_text: str | None = None

    @property
    def arguments_json(self) -> str:
        """The arguments as JSON text: exactly what the model wrote when that is known."""
        if self.arguments_text is not None:
            return self.arguments_text
        return json.dumps(self.arguments, ensure_ascii=False, default=str)

    def to_dict(self) -> dict[str, Any]:
        """OpenAI's `tool_calls` entry."""
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": self.arguments_json}}

    @classmethod
    def from_text(cls, id: str, name: str, arguments: str) -> ToolCall:
        """A call whose arguments arrived as JSON text; text that is not a JSON object parses to `{}` but is kept."""
        try:
            parsed = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            parsed = {}
        return cls(id, name, parsed if isinstance(parsed, dict) else {}, arguments)

    @classmethod
    def received(cls, id: str, name: str, arguments: Any) -> ToolCall:
        """A call as a server sent it: its arguments an object, kept as they are, or JSON text (else none)."""
        if isinstance(arguments, Mapping):
            return cls(id, name, arguments)
        return cls.from_text(id, name, arguments if isinstance(arguments, str) else "")


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message, in OpenAI's chat shape.

    `content` is text, or a list of content parts (text parts kept apart, `image_url` parts) passed through
    untouched. An assistant message may carry the `tool_calls` it made (its content then often empty) and the
    `reasoning_content` it showed; a `tool` message answers the call named by `tool_call_id`.
    """

    role: str
    content: str | list[dict[str, Any]]
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    reasoning_content: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; expected one of {', '.join(ROLES)}")

    def to_dict(self) -> dict[str, Any]:
        """The OpenAI chat message. Content is never null: "" for a turn that only called tools (llama-cpp-python
        refuses null, and Puter reads "" like null, recording 110)."""
        data: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            data["tool_calls"] = [call.to_dict() for call in self.tool_calls]
        if self.tool_call_id is not None:
            data["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            data["name"] = self.name
        if self.reasoning_content:
            data["reasoning_content"] = self.reasoning_content
        return data

    @property
    def text(self) -> str:
        """The message's text, whatever shape its content has."""
        return content_text(self.content)


def content_text(content: Any) -> str:
    """Join the text of OpenAI-style string content or Anthropic-style content blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, Mapping) and block.get("type", "text") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def as_mapping(value: Any) -> Mapping[str, Any]:
    """`value` when it is a mapping, else an empty one: for reading JSON of unknown shape."""
    return value if isinstance(value, Mapping) else {}


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """What a provider is asked. `extra` is merged into the provider's request body as is."""

    messages: tuple[Message, ...]
    model: str
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    tools: tuple[Mapping[str, Any], ...] | None = None
    provider_pin: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    tool_choice: str | Mapping[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: Mapping[str, Any] | None = None  # OpenAI's: {"type": "json_schema", "json_schema": {...}}
    reasoning_effort: str | None = None
    verbosity: str | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logit_bias: Mapping[str, float] | None = None
    user: str | None = None

    def __post_init__(self) -> None:
        """Numbers a server could not be sent are refused here, where every surface builds its requests."""
        check_numbers(**{name: getattr(self, name) for name in (*RANGES, "max_tokens")})


def check_numbers(*, max_tokens: Any = None, **floats: Any) -> None:
    """ChatRequest's check of its numbers, for a caller that reads them before it builds one (to trim a thread to
    the room `max_tokens` leaves): NaN and infinities, and max_tokens below 1, are one-line InputErrors."""
    for name, value in floats.items():
        if value is not None and (_not_a_number(value) or not math.isfinite(value)):
            low, high = RANGES[name]
            raise InputError(f"{name} must be a finite number, not {value!r}", hint=f"{name} goes from {low} to {high}")
    if max_tokens is not None and (type(max_tokens) is not int or max_tokens < 1):
        raise InputError(
            f"max_tokens must be a whole number of at least 1, not {max_tokens!r}", hint="leave it out for no limit"
        )


# The ranges of OpenAI's API: the hint when a request's number is refused, and what the proxy accepts.
RANGES = {"temperature": (0, 2), "top_p": (0, 1), "frequency_penalty": (-2, 2), "presence_penalty": (-2, 2)}


def _not_a_number(value: Any) -> bool:
    return isinstance(value, bool) or not isinstance(value, int | float)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts and cost of one answer, as far as the provider reported them."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    estimated: bool = False
    cached_tokens: int | None = None  # of input_tokens, how many the provider read from its prompt cache

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


# --- stream events: what Provider.stream() yields -------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The last event of a successful stream."""

    usage: Usage = Usage()
    finish_reason: str | None = None
    model: str | None = None
    # how many times the request was sent (the first time and each retry); None when it did not go through the wire
    attempts: int | None = field(default=None, compare=False)


StreamEvent = TextDelta | ReasoningDelta | ToolCall | Finished


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole answer: what complete() returns and what a finished stream adds up to."""

    text: str
    model: str
    usage: Usage = Usage()
    finish_reason: str | None = None
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    attempts: int | None = field(default=None, compare=False)  # as Finished.attempts


@dataclass(frozen=True, slots=True)
class Answer:
    """What chat() returns: the text, and where it came from. Renders as Markdown and as plain text."""

    text: str
    model: str
    provider: str
    thread: str | None = None
    usage: Usage = Usage()
    interrupted: bool = False
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    requested_model: str | None = None  # the model asked for, when known (a server may answer with another)
    left_out: int = 0  # earlier turns of the thread not sent, to fit the model's window

    def __str__(self) -> str:
        return self.text

    @property
    def substituted(self) -> bool:
        """True when the server answered with a model other than the one asked for."""
        return answered_by_another(self.requested_model or "", self.model)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/markdown": self.text, "text/plain": self.text}

    def provenance(self) -> dict[str, Any]:
        """The metadata a notebook output carries: provider, model, thread, usage and cost."""
        usage = self.usage
        return {
            "provider": self.provider,
            "model": self.model,
            "thread": self.thread,
            "usage": {
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "estimated": usage.estimated,
            },
            "cost_usd": usage.cost_usd,
            "interrupted": self.interrupted,
            **({"requested_model": self.requested_model} if self.substituted else {}),
            **({"left_out_turns": self.left_out} if self.left_out else {}),
        }


def answered_by_another(requested: str, answered: str | None) -> bool:
    """True when the answer names a model other than the one asked for (llama-cpp-python and single-model
    llama-server answer any name with the one model they have). A revision (`@main`) or tag (`:latest`) the
    server appends, or a path prefix it strips, is the same model."""
    if not answered or not requested:
        return False

    def bare(name: str) -> str:
        return name.strip().lower().split("@")[0].removesuffix(":latest").rsplit("/", 1)[-1]

    return bare(requested) != bare(answered)
