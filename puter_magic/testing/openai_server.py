"""A small local OpenAI-compatible server: `/v1/models` and `/v1/chat/completions`, streamed (SSE) and not.

For offline tests and benchmarks of OpenAI-compatible clients. Its models:
- `echo`: answers the last user message, one word per chunk;
- `count`: streams `chunks` pieces "tok " (request field `fake_chunks`, default 20);
- `tools` (served, not listed): the next reply of `options.script` (puter_magic.testing.scripted): its text as
  content deltas, then each call as llama-server streams it — the first chunk of a call carries `index`, `id`,
  `type`, `function.name` and the first piece of `arguments`, later chunks only `index` and more `arguments` —
  and `finish_reason: "tool_calls"`; non-streamed, `message.tool_calls` with `content` null (OpenAI's choice).
Options mimic real servers' differences: `done=False` ends streams without `data: [DONE]` (transformers serve),
`usage=False` never sends a usage chunk (llama-cpp-python), `batch` writes that many events per HTTP chunk, and the
tool-call quirks of shared/openai-servers.md:
- `repeat_tool_ids=True` (llama-cpp-python 0.3.36): every streamed tool chunk repeats `id`, `type` and
  `function.name`, beside a legacy `function_call` delta; ids look like `call__0_get_weather_cmpl-<uuid>`;
- `reject_null_content=True` (llama-cpp-python): an assistant message with `tool_calls` whose `content` is null or
  missing is a 500 (its body is OpenAI-shaped; the wording is ours);
- `tool_content=""` (llama-server): the non-streamed `content` beside tool calls is "" instead of null.
`seen` records the path, headers and JSON body of every request, image parts as sent (`last_image_parts()` decodes
them; `echo` answers the text parts of a message that has images). Windows, context overflows in each server's words
and an answer from another model than the one asked: `window`, `overflow`, `shape`, `answer_model`
(testing/openai_quirks.py).

    with LocalOpenAI(api_key="sk-test") as server:
        server.base_url        # http://127.0.0.1:PORT/v1
        server.options.script.enqueue(ScriptedReply.calling(ScriptedCall("get_weather", {"city": "Paris"})))
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from puter_magic.datatypes import content_text
from puter_magic.testing.chat_messages import split_words
from puter_magic.testing.image_parts import ImagePart, image_parts
from puter_magic.testing.openai_quirks import describe_model, overflow_answer, window_routes
from puter_magic.testing.runner import serve
from puter_magic.testing.scripted import EMPTY_SCRIPT_TEXT, Script, ScriptedCall, ScriptedReply
from puter_magic.wire.jsontext import dumps

MODELS = ("echo", "count")  # listed; TOOLS_MODEL is served too
TOOLS_MODEL = "tools"
ARGUMENT_PIECE = 3  # characters of `arguments` per streamed chunk


class _JSON(JSONResponse):
    """Compact UTF-8 that cannot fail: a lone surrogate (say, echoed from the request) is sent escaped, as
    Python servers' json.dumps writes it."""

    def render(self, content: Any) -> bytes:
        return dumps(content, escape_surrogates=True)


@dataclass
class OpenAIOptions:
    api_key: str | None = None
    done: bool = True
    usage: bool = True
    batch: int = 1
    repeat_tool_ids: bool = False
    reject_null_content: bool = False
    tool_content: str | None = None
    window: int | None = None
    overflow: str = "openai"  # openai_quirks.OVERFLOWS
    shape: str | None = None  # "llama.cpp", "vllm", "ollama" or "lmstudio": where the window is told
    answer_model: str | None = None
    script: Script = field(default_factory=Script)
    rng: random.Random = field(default_factory=random.Random)
    seen: list[dict[str, Any]] = field(default_factory=list)  # path, headers and body of every request, for tests


def _error(status: int, message: str, kind: str, code: Any = None) -> JSONResponse:
    return _JSON({"error": {"message": message, "type": kind, "code": code}}, status_code=status)


def _pieces(body: dict[str, Any]) -> list[str]:
    if body.get("model") == "echo":
        messages = [m for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
        content = messages[-1].get("content", "") if messages else ""
        text = content_text(content) if isinstance(content, list) else str(content)
        words = text.split(" ")
        return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words)]
    return ["tok "] * int(body.get("fake_chunks", 20))


def build_openai_app(options: OpenAIOptions | None = None) -> Starlette:
    opts = options or OpenAIOptions()

    def authorized(request: Request) -> bool:
        opts.seen.append({"path": request.url.path, "headers": dict(request.headers)})
        return opts.api_key is None or request.headers.get("authorization") == f"Bearer {opts.api_key}"

    async def models(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid API Key", "authentication_error", 401)
        data = [describe_model(opts, {"id": m, "object": "model", "created": 0, "owned_by": "local"}) for m in MODELS]
        return _JSON({"object": "list", "data": data})

    async def completions(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid API Key", "authentication_error", 401)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Malformed JSON", "invalid_request_error")
        opts.seen[-1]["body"] = body
        if not isinstance(body, dict) or "messages" not in body:
            return _error(400, "'messages' is required", "invalid_request_error")
        overflowed = overflow_answer(opts, body)
        if overflowed is not None:
            return overflowed
        if body.get("model") == TOOLS_MODEL:
            return _tools_answer(body, opts)
        if opts.answer_model:
            body["model"] = opts.answer_model
        if body.get("model") not in MODELS:
            return _error(
                404, f"The model `{body.get('model')}` does not exist", "invalid_request_error", "model_not_found"
            )
        pieces = _pieces(body)
        usage = {"prompt_tokens": 1, "completion_tokens": len(pieces), "total_tokens": len(pieces) + 1}
        head = {"id": "chatcmpl-local", "created": int(time.time()), "model": body["model"]}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(pieces)}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return _JSON({**head, "object": "chat.completion", "choices": [choice], "usage": usage})
        wants_usage = opts.usage and bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            _sse(head, [{"content": p} for p in pieces], usage if wants_usage else None, opts),
            media_type="text/event-stream",
        )

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", completions, methods=["POST"]),
            *window_routes(opts, MODELS),
        ]
    )


async def _sse(
    head: dict[str, Any],
    deltas: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    opts: OpenAIOptions,
    finish: str = "stop",
) -> AsyncIterator[bytes]:
    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return (
            b"data: "
            + dumps({**head, "object": "chat.completion.chunk", "choices": choices, **extra}, escape_surrogates=True)
            + b"\n\n"
        )

    yield event([{"index": 0, "delta": {"role": "assistant", "content": None}, "finish_reason": None}])
    pending: list[bytes] = []
    for delta in deltas:
        pending.append(event([{"index": 0, "delta": delta, "finish_reason": None}]))
        if len(pending) >= opts.batch:
            yield b"".join(pending)
            pending.clear()
    if pending:
        yield b"".join(pending)
    yield event([{"index": 0, "delta": {}, "finish_reason": finish}])
    if usage is not None:
        yield event([], usage=usage)
    if opts.done:
        yield b"data: [DONE]\n\n"


def _null_content_refused(body: dict[str, Any]) -> bool:
    return any(
        isinstance(m, dict) and m.get("role") == "assistant" and m.get("tool_calls") and m.get("content") is None
        for m in body["messages"]
    )


def _call_id(opts: OpenAIOptions, index: int, call: ScriptedCall) -> str:
    if call.id:
        return call.id
    if opts.repeat_tool_ids:
        return f"call__{index}_{call.name}_cmpl-{uuid.UUID(int=opts.rng.getrandbits(128), version=4)}"
    return "call_" + "".join(opts.rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))


def _tools_answer(body: dict[str, Any], opts: OpenAIOptions) -> Response:
    if opts.reject_null_content and _null_content_refused(body):
        refusal = "an assistant message with tool_calls needs a string `content` (llama-cpp-python refuses null)"
        return _error(500, refusal, "internal_server_error")
    reply = opts.script.next() or ScriptedReply(EMPTY_SCRIPT_TEXT)
    calls = [(_call_id(opts, i, call), call) for i, call in enumerate(reply.calls)]
    written = len(reply.text) + sum(len(call.arguments_text) for call in reply.calls)
    usage = {"prompt_tokens": 1, "completion_tokens": written, "total_tokens": written + 1}
    head = {"id": "chatcmpl-local", "created": int(time.time()), "model": TOOLS_MODEL}
    finish = "tool_calls" if calls else "stop"
    if not body.get("stream"):
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or (opts.tool_content if calls else "")}
        if calls:
            message["tool_calls"] = [_whole_call(call_id, call) for call_id, call in calls]
        choice = {"index": 0, "message": message, "finish_reason": finish}
        return _JSON({**head, "object": "chat.completion", "choices": [choice], "usage": usage})
    deltas: list[dict[str, Any]] = [{"content": word} for word in split_words(reply.text)]
    for index, (call_id, call) in enumerate(calls):
        deltas += _call_deltas(index, call_id, call, opts.repeat_tool_ids)
    wants_usage = opts.usage and bool((body.get("stream_options") or {}).get("include_usage"))
    return StreamingResponse(
        _sse(head, deltas, usage if wants_usage else None, opts, finish), media_type="text/event-stream"
    )


def _whole_call(call_id: str, call: ScriptedCall) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": call.name, "arguments": call.arguments_text}}


def _call_deltas(index: int, call_id: str, call: ScriptedCall, repeat_ids: bool) -> list[dict[str, Any]]:
    text = call.arguments_text
    pieces = [text[i : i + ARGUMENT_PIECE] for i in range(0, len(text), ARGUMENT_PIECE)] or [""]
    deltas = []
    for number, piece in enumerate(pieces):
        if number == 0 or repeat_ids:
            fragment = {"index": index, **_whole_call(call_id, call)}
            fragment["function"]["arguments"] = piece
        else:
            fragment = {"index": index, "function": {"arguments": piece}}
        delta: dict[str, Any] = {"tool_calls": [fragment]}
        if repeat_ids:
            delta = {"content": None, "function_call": {"name": call.name, "arguments": piece}, **delta}
        deltas.append(delta)
    return deltas


class LocalOpenAI:
    """The app above on a free port of 127.0.0.1, in a background thread."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.options = OpenAIOptions(**options)
        self.server = serve(build_openai_app(self.options), host, port)

    def __enter__(self) -> LocalOpenAI:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return f"{self.server.origin}/v1"

    def last_image_parts(self) -> list[ImagePart]:
        """The image parts of the last chat request, decoded (``[]`` when it had none)."""
        sent = [seen["body"] for seen in self.options.seen if "body" in seen]
        return image_parts(sent[-1]) if sent else []
