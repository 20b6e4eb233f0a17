"""Scripted tool-calling models of the local Puter server, answering as Puter does when a real model calls tools.

Puter's own fake provider ignores tools (shared/puter-recorded-2.md §6), so these reproduce the shapes of
shared/puter-protocol.md §3.4-3.5; each request takes the next reply of ``state.script`` (see ``scripted.py``;
the control API: ``POST /__fake__/script``). They are served by id but listed nowhere, like Puter's fake models.

- ``tools-scripted``: Puter's Claude path. Non-streamed, ``result.message`` is the raw Anthropic message: ``text``
  and ``tool_use`` blocks (``input`` a parsed object), ``stop_reason: "tool_use"`` — and ``finish_reason: "stop"``
  even then, as ClaudeProvider hard-codes it. Call ids look like ``toolu_01…``.
- ``tools-scripted-openai``: an OpenAI-compatible provider: ``result`` is OpenAI's choice with
  ``message.tool_calls`` (``arguments`` the JSON *string* the model wrote), ``content`` null when the model only
  called, ``finish_reason: "tool_calls"``. Call ids look like ``call_…``.

Streamed, both send the text as ``text`` lines (word by word), then one line per call once its arguments are
complete, ``{"type":"tool_use","id":…,"name":…,"input":{…},"text":""}``, then the ``usage`` line. Arguments that are
not JSON make Puter's ``JSON.parse`` throw while it writes that call: the stream ends with
``{"type":"error","message":<V8's message>}`` after the calls before it, without a usage line. Non-streamed, the
OpenAI path passes such arguments through as written; the Claude path puts the raw text in ``input`` (Anthropic's
API would not send it: a client treats an ``input`` that is not an object as unparsable arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from puter_magic.testing.chat_messages import count_tokens, split_words
from puter_magic.testing.models import ChatModel, Generation, GenerationRequest
from puter_magic.testing.scripted import EMPTY_SCRIPT_TEXT, ScriptedReply, random_id, v8_json_error

Style = Literal["claude", "openai"]
ID_STYLE: dict[Style, tuple[str, int]] = {"claude": ("toolu_01", 22), "openai": ("call_", 24)}


@dataclass(frozen=True)
class Served:
    """The reply one request got, its call ids filled in, and the id of the message that carries it."""

    reply: ScriptedReply
    message_id: str


def _generate(style: Style) -> Callable[[GenerationRequest], Generation]:
    def generate(request: GenerationRequest) -> Generation:
        reply = request.script.next() if request.script is not None else None
        reply = (reply or ScriptedReply(EMPTY_SCRIPT_TEXT)).with_ids(request.rng, *ID_STYLE[style])
        served = Served(reply, random_id(request.rng, "msg_01", 22))
        written = reply.text + "".join(call.name + call.arguments_text for call in reply.calls)
        chunks = tuple(split_words(reply.text))
        return Generation(chunks, request.input_tokens, max(1, count_tokens(written)), reply=served)

    return generate


def _served(generation: Generation) -> Served:
    assert isinstance(generation.reply, Served), "a scripted model's generation carries its reply"
    return generation.reply


@dataclass(frozen=True)
class ScriptedToolModel(ChatModel):
    style: Style = "claude"

    def usage(self, generation: Generation) -> dict[str, Any]:
        """``result.usage`` and the stream's usage line: the provider's meter keys plus ``usd_cents``."""
        tokens_in, tokens_out = generation.input_tokens, generation.output_tokens
        if self.style == "openai":
            counts = {"prompt_tokens": tokens_in, "completion_tokens": tokens_out, "cached_tokens": 0}
        else:
            counts = {
                "input_tokens": tokens_in,
                "ephemeral_5m_input_tokens": 0,
                "ephemeral_1h_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": tokens_out,
                "thinking_tokens": 0,
            }
        return {**counts, "usd_cents": self.usd_cents(generation)}

    def stream_usage(self, generation: Generation) -> dict[str, Any]:
        return self.usage(generation)

    def stream_tail(self, generation: Generation) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for call in _served(generation).reply.calls:
            parsed, value = call.parsed_arguments()
            if not parsed:
                return [*lines, {"type": "error", "message": v8_json_error(value)}]
            lines.append({"type": "tool_use", "id": call.id, "name": call.name, "input": value, "text": ""})
        return [*lines, {"type": "usage", "usage": self.usage(generation)}]

    def result(self, generation: Generation) -> dict[str, Any]:
        served = _served(generation)
        reply = served.reply
        if self.style == "openai":
            return self._openai_choice(reply, generation)
        blocks: list[dict[str, Any]] = [{"type": "text", "text": reply.text}] if reply.text else []
        for call in reply.calls:
            blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.parsed_arguments()[1]})
        anthropic_usage = {
            "input_tokens": generation.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": generation.output_tokens,
        }
        message = {
            "id": served.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.id,
            "content": blocks,
            "stop_reason": "tool_use" if reply.calls else "end_turn",
            "stop_sequence": None,
            "usage": anthropic_usage,
        }
        usage = self.usage(generation)
        return {"message": message, "usage": usage, "finish_reason": "stop", "via_ai_chat_service": True}

    def _openai_choice(self, reply: ScriptedReply, generation: Generation) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.text or (None if reply.calls else ""),
            "refusal": None,
            "annotations": [],
        }
        if reply.calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_text}}
                for c in reply.calls
            ]
        return {
            "index": 0,
            "message": message,
            "logprobs": None,
            "finish_reason": "tool_calls" if reply.calls else "stop",
            "usage": self.usage(generation),
            "via_ai_chat_service": True,
        }


def _scripted(model_id: str, style: Style, provider: str, costs: tuple[int, int], keys: tuple[str, str]) -> ChatModel:
    return ScriptedToolModel(
        model_id,
        provider,
        {"tokens": 1_000_000, keys[0]: costs[0], keys[1]: costs[1]},
        _generate(style),
        name=f"Scripted tool calls, {style} path (local test model)",
        context=200_000,
        input_cost_key=keys[0],
        output_cost_key=keys[1],
        style=style,
    )


SCRIPTED_MODELS: tuple[ChatModel, ...] = (
    _scripted("tools-scripted", "claude", "claude", (300, 1500), ("input_tokens", "output_tokens")),
    _scripted("tools-scripted-openai", "openai", "openai-completion", (15, 60), ("prompt_tokens", "completion_tokens")),
)
_BY_ID = {model.id: model for model in SCRIPTED_MODELS}


def find_scripted_model(name: Any) -> ChatModel | None:
    return _BY_ID.get(name.strip().lower()) if isinstance(name, str) else None
