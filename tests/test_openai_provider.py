"""The OpenAI-compatible provider on its own: every server's stream shape at every chunk boundary, every
error shape, and where the key goes. Real servers are exercised in tests/test_real_servers.py."""

from __future__ import annotations

import json

import httpx
import pytest

from puter_magic.datatypes import ChatRequest, Finished, Message, TextDelta, ToolCall
from puter_magic.errors import (
    AuthenticationError,
    BadRequest,
    ConfigurationError,
    ConnectionFailed,
    ContextOverflow,
    ModelNotFound,
    RateLimited,
    ServerError,
    StreamFailed,
    StreamTruncated,
)
from puter_magic.providers.openai import OpenAIProvider, normalize_base_url
from puter_magic.wire.limits import Backoff
from puter_magic.wire.transport import Policy

pytestmark = pytest.mark.anyio
FAST = Policy(backoff=Backoff(0.001, 0.002, 1.0), max_retries=2)
REQUEST = ChatRequest((Message("user", "hi"),), "tiny", max_tokens=8)


def sse(*objects, done=True, spaces=False, pings=False) -> bytes:
    lines = []
    for obj in objects:
        if pings:
            lines.append(": ping\n\n")
        text = json.dumps(obj) if spaces else json.dumps(obj, separators=(",", ":"))
        lines.append(f"data: {text}\n\n")
    if done:
        lines.append("data: [DONE]\n\n")
    return "".join(lines).encode()


def chunk(delta=None, finish=None, usage=None, choices=True):
    body = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "tiny"}
    body["choices"] = [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if choices else []
    if usage:
        body["usage"] = usage
    return body


USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
LLAMA_SERVER = sse(
    chunk({"role": "assistant", "content": None}),
    chunk({"content": "Hel"}),
    chunk({"content": "lo é"}),
    chunk({}, finish="length"),
    chunk(usage=USAGE, choices=False),
)
TRANSFORMERS = sse(
    chunk({"role": "assistant", "content": "Hel"}), chunk({"content": "lo é"}), chunk({}, "stop", USAGE), done=False
)
LLAMA_CPP_PYTHON = sse(
    chunk({"role": "assistant"}),
    chunk({"content": "Hel"}),
    chunk({"content": "lo é"}),
    chunk({}, "stop"),
    spaces=True,
    pings=True,
)


class Split(httpx.AsyncByteStream):
    def __init__(self, parts):
        self.parts = parts

    async def __aiter__(self):
        for part in self.parts:
            yield part


def provider_for(handler, **options) -> OpenAIProvider:
    return OpenAIProvider("http://127.0.0.1:8080", policy=FAST, transport=httpx.MockTransport(handler), **options)


def streaming(body: bytes, cut: int | None = None):
    parts = [body] if cut is None else [body[:cut], body[cut:]]

    def handler(request):
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Split(parts))

    return handler


async def collect(provider):
    texts, finished = [], None
    try:
        async for event in provider.stream(REQUEST):
            if isinstance(event, TextDelta):
                texts.append(event.text)
            elif isinstance(event, Finished):
                finished = event
    finally:
        await provider.aclose()
    return "".join(texts), finished


@pytest.mark.parametrize(
    ("body", "reason", "usage"),
    [(LLAMA_SERVER, "length", 3), (TRANSFORMERS, "stop", 3), (LLAMA_CPP_PYTHON, "stop", None)],
)
async def test_every_server_shape_at_every_chunk_boundary(body, reason, usage):
    for cut in [None, *range(1, len(body))]:
        text, finished = await collect(provider_for(streaming(body, cut)))
        assert text == "Hello é", cut
        assert finished is not None and finished.finish_reason == reason
        assert finished.usage.output_tokens == usage


async def test_the_request_asks_for_usage_and_passes_options():
    seen = []

    def handler(request):
        seen.append(json.loads(request.content))
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=LLAMA_SERVER)

    request = ChatRequest(
        (Message("user", "hi"),),
        "tiny",
        temperature=0.5,
        max_tokens=8,
        stop=("\n",),
        seed=7,
        extra={"ignore_eos": True},
    )
    provider = provider_for(handler)
    async for _ in provider.stream(request):
        pass
    await provider.aclose()
    body = seen[0]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.5 and body["max_tokens"] == 8 and body["stop"] == ["\n"] and body["seed"] == 7
    assert body["ignore_eos"] is True


async def test_a_stream_cut_before_its_end_is_truncated_with_the_partial_text():
    body = sse(chunk({"role": "assistant", "content": None}), chunk({"content": "Hel"}), done=False)
    with pytest.raises(StreamTruncated) as info:
        await collect(provider_for(streaming(body)))
    assert info.value.partial == "Hel"


async def test_an_error_event_inside_the_stream():
    body = sse(chunk({"content": "Hel"}), {"error": {"message": "context overflow", "code": 400}}, done=False)
    with pytest.raises(StreamFailed, match="context overflow") as info:
        await collect(provider_for(streaming(body)))
    assert info.value.partial == "Hel"


@pytest.mark.parametrize(
    ("status", "body", "cls", "text"),
    [
        (
            401,
            {"error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}},
            AuthenticationError,
            "Invalid API Key",
        ),
        (
            400,
            {"error": {"code": 400, "message": "model 'x' not found", "type": "invalid_request_error"}},
            ModelNotFound,
            "model 'x' not found",
        ),
        (
            404,
            {"error": {"message": 'model "x" not found, try pulling it first', "type": "api_error"}},
            ModelNotFound,
            "try pulling",
        ),
        (
            404,
            {"error": {"message": "The model `x` does not exist", "code": "model_not_found"}},
            ModelNotFound,
            "does not exist",
        ),
        (
            422,
            {"detail": [{"loc": ["body", "messages"], "msg": "Field required", "type": "missing"}]},
            BadRequest,
            "Field required (messages)",
        ),
        (400, {"detail": "Malformed JSON"}, BadRequest, "Malformed JSON"),
        (500, "Internal Server Error", ServerError, "Internal Server Error"),
        (
            400,
            {
                "error": {
                    "code": 400,
                    "message": "the request exceeds the available context size",
                    "type": "exceed_context_size_error",
                }
            },
            ContextOverflow,
            "context size",
        ),
    ],
)
async def test_error_shapes(status, body, cls, text):
    def handler(request):
        if isinstance(body, str):
            return httpx.Response(status, text=body, headers={"content-type": "text/plain"})
        return httpx.Response(status, json=body)

    provider = provider_for(handler)
    try:
        with pytest.raises(cls) as info:
            await provider.complete(REQUEST)
    finally:
        await provider.aclose()
    assert type(info.value) is cls
    assert text in info.value.message
    if cls is AuthenticationError:
        assert "API key" in info.value.hint and "%puter login" not in info.value.hint


async def test_429_with_retry_after_is_retried():
    answers = [httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"message": "slow down"}})] * 2
    answers.append(
        httpx.Response(
            200, json={"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}], "model": "tiny"}
        )
    )
    calls = []

    def handler(request):
        calls.append(request)
        return answers[len(calls) - 1]

    provider = provider_for(handler)
    completion = await provider.complete(REQUEST)
    await provider.aclose()
    assert completion.text == "ok" and len(calls) == 3
    always = provider_for(
        lambda r: httpx.Response(429, headers={"Retry-After": "999"}, json={"error": {"message": "no"}})
    )
    with pytest.raises(RateLimited):
        await always.complete(REQUEST)
    await always.aclose()


async def test_the_key_goes_only_to_its_own_origin_and_redirects_are_not_followed():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(302, headers={"Location": "http://elsewhere.example/v1/models"})

    provider = provider_for(handler, api_key="sk-local-secret-123")
    with pytest.raises(ConfigurationError, match=r"redirects to http://elsewhere\.example"):
        await provider.models()
    await provider.aclose()
    assert [r.url.host for r in seen] == ["127.0.0.1"]
    assert seen[0].headers["authorization"] == "Bearer sk-local-secret-123"
    assert "sk-local-secret-123" not in repr(provider)


async def test_models_tolerate_extra_keys_and_name_the_window_the_server_runs_with():
    body = {
        "object": "list",
        "data": [
            {
                "id": "tiny",
                "object": "model",
                "created": 1.5,
                "owned_by": "me",
                "meta": {"n_ctx": 2048, "n_ctx_train": 8192},
            }
        ],
        "models": [{"name": "tiny"}],
    }
    provider = provider_for(lambda r: httpx.Response(200, json=body))
    models = await provider.models()
    await provider.aclose()
    assert [(m.id, m.context, m.provider) for m in models] == [("tiny", 2048, "127.0.0.1:8080")]


async def test_a_refused_connection_names_the_url_and_how_to_start_the_preset():
    provider = OpenAIProvider("http://127.0.0.1:9/v1", name="ollama", policy=Policy(max_retries=0))
    with pytest.raises(ConnectionFailed) as info:
        await provider.complete(REQUEST)
    await provider.aclose()
    assert "http://127.0.0.1:9/v1" in info.value.message and "ollama serve" in info.value.message


def test_base_urls():
    assert normalize_base_url("http://localhost:11434") == "http://localhost:11434/v1"
    assert normalize_base_url("http://h:1/v1/") == "http://h:1/v1"
    assert normalize_base_url("https://api.example.com/openai/v1") == "https://api.example.com/openai/v1"
    with pytest.raises(ConfigurationError):
        normalize_base_url("localhost:11434")


def tool_delta(index, arguments, id=None, name=None):
    function = {"arguments": arguments} | ({"name": name} if name else {})
    return {"tool_calls": [{"index": index, **({"id": id, "type": "function"} if id else {}), "function": function}]}


# llama-server and OpenAI: id and name in the first fragment only; two parallel calls by index.
OPENAI_TOOLS = sse(
    chunk({"role": "assistant", "content": None}),
    chunk(tool_delta(0, "", id="call_a", name="get_weather")),
    chunk(tool_delta(0, '{"city": "Pa')),
    chunk(tool_delta(1, '{"city": "Rome"}', id="call_b", name="get_weather")),
    chunk(tool_delta(0, 'ris"}')),
    chunk({}, finish="tool_calls"),
    chunk(usage=USAGE | {"prompt_tokens_details": {"cached_tokens": 4}}, choices=False),
)
# llama-cpp-python: id and name repeated in every fragment (appending names would give "get_weatherget_weather").
LLAMA_CPP_PYTHON_TOOLS = sse(
    chunk({"role": "assistant"}),
    chunk(tool_delta(0, '{"city": "Pa', id="call_a", name="get_weather")),
    chunk(tool_delta(0, 'ris"}', id="call_a", name="get_weather")),
    chunk({}, "tool_calls"),
    spaces=True,
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (OPENAI_TOOLS, [("call_a", "get_weather", {"city": "Paris"}), ("call_b", "get_weather", {"city": "Rome"})]),
        (LLAMA_CPP_PYTHON_TOOLS, [("call_a", "get_weather", {"city": "Paris"})]),
    ],
)
async def test_streamed_tool_call_fragments_become_whole_calls_at_every_chunk_boundary(body, expected):
    for cut in [None, *range(1, len(body), 7)]:
        provider = provider_for(streaming(body, cut))
        events = [event async for event in provider.stream(REQUEST)]
        await provider.aclose()
        calls = [(e.id, e.name, dict(e.arguments)) for e in events if isinstance(e, ToolCall)]
        assert calls == expected, cut
        assert isinstance(events[-1], Finished) and events[-1].finish_reason == "tool_calls"


async def test_cache_reads_are_read_from_prompt_tokens_details():
    provider = provider_for(streaming(OPENAI_TOOLS))
    events = [event async for event in provider.stream(REQUEST)]
    await provider.aclose()
    assert (events[-1].usage.input_tokens, events[-1].usage.cached_tokens) == (5, 4)


async def test_tool_history_and_every_option_are_passed_through():
    seen = []

    def handler(request):
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}]})

    call = ToolCall("call_a", "get_weather", {"city": "Paris"}, '{"city":"Paris"}')
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}}}
    request = ChatRequest(
        (
            Message("user", [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]),
            Message("assistant", "", tool_calls=(call,)),
            Message("tool", "18 C", tool_call_id="call_a"),
        ),
        "tiny",
        tools=({"type": "function", "function": {"name": "get_weather"}},),
        tool_choice="auto",
        parallel_tool_calls=True,
        response_format=fmt,
        reasoning_effort="low",
        verbosity="low",
        frequency_penalty=0.1,
        presence_penalty=0.2,
        logit_bias={"7": 1},
        user="u",
    )
    provider = provider_for(handler)
    await provider.complete(request)
    await provider.aclose()
    body = seen[0]
    assert body["messages"][1] == {  # content "" beside the calls: llama-cpp-python refuses null
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
        ],
    }
    assert body["messages"][0]["content"] == [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert body["messages"][2] == {"role": "tool", "content": "18 C", "tool_call_id": "call_a"}
    assert (body["tool_choice"], body["parallel_tool_calls"], body["response_format"]) == ("auto", True, fmt)
    assert (body["reasoning_effort"], body["verbosity"], body["user"]) == ("low", "low", "u")
    assert (body["frequency_penalty"], body["presence_penalty"], body["logit_bias"]) == (0.1, 0.2, {"7": 1})
