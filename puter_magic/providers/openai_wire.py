"""The OpenAI chat-completions wire format as real servers speak it, translated both ways. Pure.

Tolerates what llama.cpp's llama-server, transformers serve, llama-cpp-python, Ollama, vLLM and LM Studio send:
a role-first delta with or without `content` (or `content: null`), a usage chunk with `choices: []`, streams
that end without `data: [DONE]`, errors as `{"error": {...}}` (string or int `code`), FastAPI `{"detail": …}`,
or plain text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ..datatypes import ChatRequest, Completion, ModelInfo, ToolCall, Usage, as_mapping, content_text
from ..errors import (
    APIError,
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    InsufficientFunds,
    ModelNotFound,
    NotFound,
    RateLimited,
)
from ..wire.statuses import ErrorBody, status_error
from . import windows
from .server_errors import context_overflow, overflow_error, unreadable_error, unreadable_input, without_internals

LOCAL_MODEL_PORT = 4102  # `puter-magic local-model`: SmolLM2-135M on llama-server (local_model.py)

PRESETS: dict[str, str] = {
    "ollama": "http://localhost:11434/v1",
    "vllm": "http://localhost:8000/v1",
    "lmstudio": "http://localhost:1234/v1",
    "llamacpp": "http://localhost:8080/v1",
    "textgen": "http://localhost:5000/v1",
    "local": f"http://127.0.0.1:{LOCAL_MODEL_PORT}/v1",
}


def normalize_base_url(url: str) -> str:
    """'http://host:8080' → 'http://host:8080/v1'; a URL that already has a path keeps it."""
    text = url.strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{url!r} is not an http(s) URL", hint="use a base URL such as http://localhost:11434/v1"
        )
    return text if parts.path else f"{text}/v1"


START_HINTS: dict[str, str] = {
    "ollama": "start it with `ollama serve`",
    "vllm": "start it with `vllm serve MODEL`",
    "lmstudio": "start the local server in LM Studio (Developer → Start Server)",
    "llamacpp": "start it with `llama-server -m MODEL.gguf --port 8080`",
    "textgen": "start text-generation-webui with `--api`",
    "local": "start it with `puter-magic local-model` (in a puter-magic checkout)",
}


def chat_body(request: ChatRequest, *, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"model": request.model, "messages": [m.to_dict() for m in request.messages]}
    if stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    optional = {
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "top_p": request.top_p,
        "seed": request.seed,
        "stop": list(request.stop) if request.stop else None,
        "tools": [dict(t) for t in request.tools] if request.tools else None,
        "response_format": dict(request.response_format) if request.response_format else None,
    }
    body.update({key: value for key, value in optional.items() if value is not None})
    body.update(passed_options(request))
    body.update(request.extra)
    return body


def passed_options(request: ChatRequest) -> dict[str, Any]:
    """The OpenAI options a server passes on to the model as they are (Puter's backend too: puter_wire), those set."""
    optional = {
        "tool_choice": request.tool_choice,
        "parallel_tool_calls": request.parallel_tool_calls,
        "reasoning_effort": request.reasoning_effort,
        "verbosity": request.verbosity,
        "frequency_penalty": request.frequency_penalty,
        "presence_penalty": request.presence_penalty,
        "logit_bias": dict(request.logit_bias) if request.logit_bias else None,
        "user": request.user,
    }
    return {key: value for key, value in optional.items() if value is not None}


# The codes OpenAI (and servers that copy it, this package's proxy among them) send where the status says less:
# OpenAI's "out of credit" is a 429.
BY_CODE: dict[str, type[APIError]] = {
    "insufficient_quota": InsufficientFunds,
    "rate_limit_exceeded": RateLimited,
    "model_not_found": ModelNotFound,
}


def error_from(
    status: int, body: ErrorBody, retry_after: float | None = None, *, server: str | None = None
) -> APIError:
    """The provider's ErrorMapper: an error status and its body → the error; `server` (its base URL) is named
    where the fix is on that server."""
    message, code = error_fields(body)
    error = status_error(status, message, code=code, body=body, retry_after=retry_after, by_code=BY_CODE)
    return refine(error, server=server)


def error_fields(body: Mapping[str, Any] | str) -> tuple[str, str | None]:
    """(message, code) from `{"error": {…}}`, `{"error": "…"}`, FastAPI's `{"detail": …}` or plain text."""
    if isinstance(body, str):
        return body or "the server reported an error", None
    error = body.get("error")
    if isinstance(error, Mapping):
        code = error.get("code")
        kind = error.get("type")
        name = code if isinstance(code, str) else (kind if isinstance(kind, str) else None)
        return str(error.get("message") or kind or "the server reported an error"), name
    if isinstance(error, str):
        return error, None
    detail = body.get("detail")
    if isinstance(detail, str):
        return detail, None
    if isinstance(detail, list) and detail:
        first = detail[0]
        if isinstance(first, Mapping):
            where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
            return f"{first.get('msg', 'invalid request')}{f' ({where})' if where else ''}", None
    return str(body.get("message") or "the server reported an error"), None


def refine(error: APIError, *, server: str | None = None) -> APIError:
    """An unknown model arrives as 404 (OpenAI, Ollama) or 400 (llama-server's router); a 401 is about the key;
    a prompt longer than the window in any server's words is a ContextOverflow (400, or llama-cpp-python's 500);
    an image the model cannot read (llama-server's 500 without a projector) is a one-line BadRequest naming
    `server`; traceback frames and internal paths leave the message (server_errors.py)."""
    if isinstance(error, AuthenticationError):
        error.hint = "check the server's API key (`{key-env}`)"
        return error
    cleaned = without_internals(error.message)
    if cleaned != error.message:
        error.message, error.args = cleaned, (cleaned,)
    overflow = context_overflow(error.message, error.code, error.body)
    if overflow is not None:  # llama-cpp-python says it with a 500
        return overflow_error(error.message, overflow, status_code=error.status_code, code=error.code, body=error.body)
    unreadable = unreadable_input(error.message)
    if unreadable is not None:  # llama-server says it with a 500
        return unreadable_error(unreadable, server, status_code=error.status_code, code=error.code, body=error.body)
    text = error.message.lower()
    if (
        isinstance(error, (BadRequest, NotFound))
        and "model" in text
        and ("not found" in text or "does not exist" in text)
    ):
        return ModelNotFound(error.message, status_code=error.status_code, code=error.code, body=error.body)
    return error


def parse_usage(raw: Any, *, estimated: bool = False) -> Usage:
    if not isinstance(raw, Mapping):
        return Usage()
    inputs = raw.get("prompt_tokens")
    outputs = raw.get("completion_tokens")
    cached = as_mapping(raw.get("prompt_tokens_details")).get("cached_tokens")
    return Usage(
        input_tokens=inputs if isinstance(inputs, int) else None,
        output_tokens=outputs if isinstance(outputs, int) else None,
        estimated=estimated,
        cached_tokens=cached if isinstance(cached, int) and not isinstance(cached, bool) else None,
    )


def parse_completion(data: Mapping[str, Any], requested_model: str) -> Completion:
    choices = data.get("choices") or [{}]
    choice = as_mapping(choices[0])
    message = as_mapping(choice.get("message"))
    calls = tuple(tool_call(c) for c in message.get("tool_calls") or () if isinstance(c, Mapping))
    reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
    return Completion(
        text=content_text(message.get("content")),
        model=str(data.get("model") or requested_model),
        usage=parse_usage(data.get("usage")),
        finish_reason=choice.get("finish_reason"),
        reasoning=reasoning if isinstance(reasoning, str) else "",
        tool_calls=calls,
    )


def tool_call(raw: Mapping[str, Any]) -> ToolCall:
    function = as_mapping(raw.get("function"))
    return ToolCall.received(str(raw.get("id", "")), str(function.get("name", "")), function.get("arguments"))


@dataclass
class ToolCallDeltas:
    """Streamed `delta.tool_calls` fragments, gathered by `index` into whole calls.

    The id and name come in the first fragment of a call and may be missing from later ones; llama-cpp-python
    repeats them in every fragment, so a name is taken, never appended. Arguments are appended.
    """

    _calls: dict[int, dict[str, str]] = field(default_factory=dict)

    def feed(self, fragments: Any) -> None:
        for position, fragment in enumerate(fragments if isinstance(fragments, list) else ()):
            if not isinstance(fragment, Mapping):
                continue
            index = fragment.get("index")
            key = index if isinstance(index, int) and not isinstance(index, bool) else position
            call = self._calls.setdefault(key, {"id": "", "name": "", "arguments": ""})
            function = as_mapping(fragment.get("function"))
            if fragment.get("id"):
                call["id"] = str(fragment["id"])
            if function.get("name"):
                call["name"] = str(function["name"])
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                call["arguments"] += arguments
            elif isinstance(arguments, Mapping):
                call["arguments"] += json.dumps(arguments, ensure_ascii=False)

    def calls(self) -> list[ToolCall]:
        """The calls so far, in index order (a call without an id gets one: the follow-up turn needs it)."""
        return [
            ToolCall.from_text(call["id"] or f"call_{key}", call["name"], call["arguments"])
            for key, call in sorted(self._calls.items())
        ]


def parse_models(data: Any, provider: str) -> list[ModelInfo]:
    """`/v1/models`: the OpenAI list (extra top-level keys such as llama-server's `models` are ignored)."""
    items = data.get("data") if isinstance(data, Mapping) else data
    models = []
    for item in items or ():
        if isinstance(item, Mapping) and item.get("id"):
            reads, writes = modalities(item)
            models.append(
                ModelInfo(
                    id=str(item["id"]),
                    provider=provider,
                    context=windows.from_models_item(item),
                    input_modalities=reads,
                    output_modalities=writes,
                )
            )
    return models


def modalities(item: Mapping[str, Any]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """What a /models entry says the model reads and writes: llama-server (and OpenRouter) write
    `architecture: {input_modalities: [...], output_modalities: [...]}`; (None, None) where it says nothing."""
    architecture = as_mapping(item.get("architecture"))

    def listed(key: str) -> tuple[str, ...] | None:
        value = architecture.get(key)
        if not isinstance(value, list):
            return None
        return tuple(str(kind) for kind in value if isinstance(kind, str))

    return listed("input_modalities"), listed("output_modalities")
