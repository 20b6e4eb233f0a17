"""A small local OpenAI-compatible server: `/v1/models` and `/v1/chat/completions`, streamed (SSE) and not.

For offline tests and benchmarks of OpenAI-compatible clients. Its models:
- `echo`: answers the last user message, one word per chunk;
- `count`: streams `chunks` pieces "tok " (request field `fake_chunks`, default 20).
Options mimic real servers' differences: `done=False` ends streams without `data: [DONE]` (transformers serve),
`usage=False` never sends a usage chunk (llama-cpp-python), `batch` writes that many events per HTTP chunk.

    with LocalOpenAI(api_key="sk-test") as server:
        server.base_url        # http://127.0.0.1:PORT/v1
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from puter_magic.jsontext import dumps
from puter_magic.testing.runner import serve

MODELS = ("echo", "count")


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
    seen: list[dict[str, Any]] = field(default_factory=list)  # path and headers of every request, for tests


def _error(status: int, message: str, kind: str, code: Any = None) -> JSONResponse:
    return _JSON({"error": {"message": message, "type": kind, "code": code}}, status_code=status)


def _pieces(body: dict[str, Any]) -> list[str]:
    if body.get("model") == "echo":
        messages = [m for m in body.get("messages", []) if isinstance(m, dict) and m.get("role") == "user"]
        text = str(messages[-1].get("content", "")) if messages else ""
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
        data = [{"id": m, "object": "model", "created": 0, "owned_by": "local"} for m in MODELS]
        return _JSON({"object": "list", "data": data})

    async def completions(request: Request) -> Response:
        if not authorized(request):
            return _error(401, "Invalid API Key", "authentication_error", 401)
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "Malformed JSON", "invalid_request_error")
        if not isinstance(body, dict) or "messages" not in body:
            return _error(400, "'messages' is required", "invalid_request_error")
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
            _sse(head, pieces, usage if wants_usage else None, opts), media_type="text/event-stream"
        )

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", completions, methods=["POST"]),
        ]
    )


async def _sse(
    head: dict[str, Any], pieces: list[str], usage: dict[str, Any] | None, opts: OpenAIOptions
) -> AsyncIterator[bytes]:
    def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return (
            b"data: "
            + dumps({**head, "object": "chat.completion.chunk", "choices": choices, **extra}, escape_surrogates=True)
            + b"\n\n"
        )

    yield event([{"index": 0, "delta": {"role": "assistant", "content": None}, "finish_reason": None}])
    pending: list[bytes] = []
    for piece in pieces:
        pending.append(event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}]))
        if len(pending) >= opts.batch:
            yield b"".join(pending)
            pending.clear()
    if pending:
        yield b"".join(pending)
    yield event([{"index": 0, "delta": {}, "finish_reason": "stop"}])
    if usage is not None:
        yield event([], usage=usage)
    if opts.done:
        yield b"data: [DONE]\n\n"


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
