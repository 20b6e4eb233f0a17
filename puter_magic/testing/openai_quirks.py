"""The local OpenAI-compatible server's impressions of real servers' windows, overflows and model substitutions.

Switched on by `OpenAIOptions` (testing/openai_server.py):
- `window=N`: a request longer than N "tokens" (one per character of its messages' text) overflows, answered in
  the words of `overflow` — one of OVERFLOWS, each a server's recorded answer (status, body) — and, for
  "llama-cpp-python", a streamed request gets a 200 event stream that ends at once, empty and without `[DONE]`
  (its reason only in the non-streamed answer);
- `shape`: where the server tells its window — "llama.cpp" (`meta.n_ctx` in /v1/models, `/props`, `/tokenize`
  with one token per word), "vllm" (`max_model_len`), "ollama" (`/api/show`), "lmstudio" (`/api/v0/models`);
- `answer_model`: every answer names this model, whatever was asked, and unknown names are served
  (llama-cpp-python, and llama-server without a router).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/usr/local/lib/python3.12/site-packages/llama_cpp/server/errors.py", line 171, in custom_route_handler\n'
    "    response = await original_route_handler(request)\n"
    "               ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "/usr/local/lib/python3.12/site-packages/llama_cpp/llama.py", line 1182, in _create_completion\n'
    "    raise ValueError(\n"
    "ValueError: Requested tokens ({n}) exceed context window of {window}"
)


def _openai_body(message: str, code: str | None = "context_length_exceeded", kind: str = "invalid_request_error"):
    return {"error": {"message": message, "type": kind, "param": "messages", "code": code}}


OVERFLOWS: dict[str, Callable[[int, int], tuple[int, Any]]] = {
    "openai": lambda n, w: (
        400,
        _openai_body(
            f"This model's maximum context length is {w} tokens. However, your messages resulted in {n} tokens. "
            "Please reduce the length of the messages."
        ),
    ),
    "llama.cpp": lambda n, w: (
        400,
        {
            "error": {
                "code": 400,
                "message": f"request ({n} tokens) exceeds the available context size ({w} tokens), try increasing it",
                "type": "exceed_context_size_error",
                "n_prompt_tokens": n,
                "n_ctx": w,
            }
        },
    ),
    "llama-cpp-python": lambda n, w: (500, TRACEBACK.format(n=n, window=w)),
    "vllm": lambda n, w: (
        400,
        {
            "object": "error",
            "message": f"This model's maximum context length is {w} tokens. However, you requested {n} tokens "
            f"({n} in the messages, 0 in the completion). Please reduce the length of the messages or completion.",
            "type": "BadRequestError",
            "param": None,
            "code": 400,
        },
    ),
}


def prompt_size(body: dict[str, Any]) -> int:
    """The request's length in this server's "tokens": one per character of the messages' text."""
    total = 0
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        total += len(content) if isinstance(content, str) else 0
    return total


def overflow_answer(opts: Any, body: dict[str, Any]) -> Response | None:
    """The overflow answer for a request longer than `opts.window`, or None when it fits."""
    size = prompt_size(body)
    if opts.window is None or size <= opts.window:
        return None
    if opts.overflow == "llama-cpp-python" and body.get("stream"):
        return StreamingResponse(_nothing(), media_type="text/event-stream")
    status, answer = OVERFLOWS[opts.overflow](size, opts.window)
    if isinstance(answer, str):
        return PlainTextResponse(answer, status_code=status)
    return JSONResponse(answer, status_code=status)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""


def describe_model(opts: Any, item: dict[str, Any]) -> dict[str, Any]:
    """A /v1/models entry with the window where `opts.shape`'s server puts it."""
    if opts.window is None:
        return item
    if opts.shape == "llama.cpp":
        return {**item, "meta": {"n_ctx": opts.window, "n_ctx_train": 8 * opts.window, "n_vocab": 256}}
    if opts.shape == "vllm":
        return {**item, "max_model_len": opts.window}
    return item


def window_routes(opts: Any, listed: tuple[str, ...]) -> list[Route]:
    """The endpoints beside /v1 where `opts.shape`'s server tells its window or counts tokens."""

    async def props(request: Request) -> Response:
        settings = {"n_ctx": opts.window, "params": {"n_predict": -1}}
        return JSONResponse({"default_generation_settings": settings, "total_slots": 1, "model_alias": "echo"})

    async def tokenize(request: Request) -> Response:
        content = (await request.json()).get("content", "")
        opts.seen.append({"path": request.url.path, "body": content})
        return JSONResponse({"tokens": list(range(len(str(content).split())))})

    async def show(request: Request) -> Response:
        info = {"general.architecture": "llama", "llama.context_length": 8 * (opts.window or 1)}
        parameters = f'stop                           "<|im_end|>"\nnum_ctx                        {opts.window}'
        return JSONResponse({"model_info": info, "parameters": parameters, "details": {"format": "gguf"}})

    async def lmstudio(request: Request) -> Response:
        models = [{"id": m, "type": "llm", "state": "loaded", "max_context_length": opts.window} for m in listed]
        return JSONResponse({"object": "list", "data": models})

    routes = {
        "llama.cpp": [Route("/props", props), Route("/tokenize", tokenize, methods=["POST"])],
        "ollama": [Route("/api/show", show, methods=["POST"])],
        "lmstudio": [Route("/api/v0/models", lmstudio)],
    }
    return routes.get(opts.shape or "", [])
