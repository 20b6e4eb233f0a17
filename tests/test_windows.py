"""Each server's context window, found where it says it; overflows in its words; the model that really answered.

Real llama-server (a 512-token window) for /props, /v1/models and the overflow body; the local OpenAI-compatible
server (testing/openai_quirks.py) for vLLM's, Ollama's, LM Studio's and llama-cpp-python's shapes.
"""

from __future__ import annotations

import re

import httpx
import pytest

from puter_magic.datatypes import ChatRequest, Finished, Message, TextDelta, answered_by_another
from puter_magic.errors import ContextOverflow
from puter_magic.providers import windows
from puter_magic.providers.openai import OpenAIProvider
from puter_magic.testing.openai_server import LocalOpenAI

pytestmark = pytest.mark.anyio
LONG = "word " * 300  # 1,500 characters: over a 512-token window on every server here


def ask(text: str, model: str = "echo") -> ChatRequest:
    return ChatRequest((Message("user", text),), model, max_tokens=8)


async def collect(provider: OpenAIProvider, request: ChatRequest) -> list:
    return [event async for event in provider.stream(request)]


# --- where each server says it (recorded answers) ------------------------------------------------------------


def test_llama_server_models_entry_gives_the_window_it_runs_with_not_the_trained_one():
    item = {"id": "smol", "meta": {"vocab_type": 2, "n_vocab": 49152, "n_ctx": 512, "n_ctx_train": 8192}}
    assert windows.from_models_item(item) == 512
    assert windows.from_models_item({"id": "old", "meta": {"n_ctx_train": 8192}}) is None


def test_each_servers_field():
    assert windows.from_models_item({"id": "m", "max_model_len": 32768}) == 32768  # vLLM
    assert windows.from_models_item({"id": "m", "context_length": 200000}) == 200000  # OpenRouter-style
    assert windows.from_props({"default_generation_settings": {"n_ctx": 1024}, "total_slots": 2}) == 1024
    assert windows.from_props({"n_ctx": 4096}) == 4096
    lmstudio = {"data": [{"id": "qwen", "max_context_length": 32768, "loaded_context_length": 4096}]}
    assert windows.from_models_list(lmstudio, "qwen") == 4096
    assert windows.from_models_list(lmstudio, "other") == 4096  # one model: it answers whatever is asked
    two = {"data": [{"id": "a", "max_context_length": 1}, {"id": "b", "max_context_length": 2}]}
    assert windows.from_models_list(two, "c") is None


def test_ollama_runs_with_num_ctx_when_it_is_set_else_the_architectures_length():
    info = {"general.architecture": "qwen2", "qwen2.context_length": 32768}
    assert windows.from_ollama_show({"model_info": info, "parameters": "num_ctx 8192\nstop <|im_end|>"}) == 8192
    assert windows.from_ollama_show({"model_info": info, "parameters": 'stop "<|im_end|>"'}) == 32768
    assert windows.from_ollama_show({"error": "model 'x' not found"}) is None


def test_nonsense_is_no_window():
    for value in (None, [], "512", {"n_ctx": -1}, {"n_ctx": True}, {"default_generation_settings": 5}):
        assert windows.from_props(value) is None


# --- probing, cached per model (local OpenAI-compatible server) ----------------------------------------------


@pytest.mark.parametrize("shape", ["llama.cpp", "vllm", "ollama", "lmstudio"])
async def test_the_provider_finds_each_servers_window_once(shape):
    with LocalOpenAI(window=700, shape=shape) as server:
        provider = OpenAIProvider(server.base_url)
        try:
            assert await provider.context_window("echo") == 700
            asked = len(server.options.seen)
            assert await provider.context_window("echo") == 700
            assert len(server.options.seen) == asked  # cached
        finally:
            await provider.aclose()


async def test_a_server_that_never_says_is_asked_once_per_model():
    with LocalOpenAI() as server:
        provider = OpenAIProvider(server.base_url)
        try:
            assert await provider.context_window("echo") is None
            asked = len(server.options.seen)
            assert await provider.context_window("echo") is None
            assert len(server.options.seen) == asked
        finally:
            await provider.aclose()


async def test_tokens_are_counted_by_the_servers_tokenizer_once_per_text():
    with LocalOpenAI(window=700, shape="llama.cpp") as server:
        provider = OpenAIProvider(server.base_url)
        try:
            assert await provider.count_tokens("one two three") == 3
            assert await provider.count_tokens("one two three") == 3
            assert await provider.count_tokens("four") == 1
        finally:
            await provider.aclose()
        assert [s["body"] for s in server.options.seen if s["path"] == "/tokenize"] == ["one two three", "four"]
    with LocalOpenAI() as server:  # no /tokenize: asked once, then never again
        sent = Counting()
        provider = OpenAIProvider(server.base_url, transport=sent)
        try:
            assert await provider.count_tokens("a") is None and await provider.count_tokens("b") is None
        finally:
            await provider.aclose()
        assert sent.paths == ["/tokenize"]


class Counting(httpx.AsyncHTTPTransport):
    """A real transport that remembers the path of every request it sends."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await super().handle_async_request(request)


# --- overflows, streamed and not -----------------------------------------------------------------------------


@pytest.mark.parametrize("overflow", ["openai", "llama.cpp", "llama-cpp-python", "vllm"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_every_servers_overflow_is_a_context_overflow_naming_the_window(overflow, streamed):
    with LocalOpenAI(window=512, overflow=overflow) as server:
        provider = OpenAIProvider(server.base_url)
        try:
            with pytest.raises(ContextOverflow) as info:
                await (collect(provider, ask(LONG)) if streamed else provider.complete(ask(LONG)))
        finally:
            await provider.aclose()
    assert info.value.window == 512 and info.value.requested == len(LONG)
    line = info.value.one_line()
    assert "512" in line and "stream ended" not in line
    assert "site-packages" not in line and "Traceback" not in line


async def test_llama_cpp_pythons_empty_stream_is_asked_again_without_streaming():
    with LocalOpenAI(window=512, overflow="llama-cpp-python") as server:
        provider = OpenAIProvider(server.base_url)
        try:
            with pytest.raises(ContextOverflow, match=r"exceed context window of 512"):
                await collect(provider, ask(LONG))
        finally:
            await provider.aclose()
        bodies = [s.get("body", {}) for s in server.options.seen if s["path"] == "/v1/chat/completions"]
    assert [body.get("stream", False) for body in bodies] == [True, False]


async def test_a_stream_that_fits_is_not_asked_twice():
    with LocalOpenAI(window=512, overflow="llama-cpp-python") as server:
        provider = OpenAIProvider(server.base_url)
        try:
            events = await collect(provider, ask("short question"))
        finally:
            await provider.aclose()
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "short question"
        assert len([s for s in server.options.seen if s["path"] == "/v1/chat/completions"]) == 1


# --- the model that answered ---------------------------------------------------------------------------------


async def test_the_final_event_names_the_model_that_answered_not_the_one_asked():
    with LocalOpenAI(answer_model="echo") as server:
        provider = OpenAIProvider(server.base_url)
        try:
            events = await collect(provider, ask("hi", "no-such-model"))
            completion = await provider.complete(ask("hi", "no-such-model"))
        finally:
            await provider.aclose()
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.model == "echo" and completion.model == "echo"
    assert answered_by_another("no-such-model", finished.model)


def test_the_same_model_under_a_revision_tag_or_path_is_not_another():
    assert not answered_by_another("puter-magic/tiny-llama", "puter-magic/tiny-llama@main")  # transformers serve
    assert not answered_by_another("llama3", "llama3:latest")  # Ollama
    assert not answered_by_another("tiny", "tiny")
    assert not answered_by_another("tiny", None)
    assert answered_by_another("gpt-4o", "tiny")


# --- the real llama-server, started with -c 512 --------------------------------------------------------------


async def test_real_llama_server_tells_its_window_and_counts_tokens(llama_small_context):
    server = llama_small_context
    with httpx.Client(trust_env=False) as client:
        props = client.get(f"{server.origin}/props").json()
        listed = client.get(f"{server.base_url}/models").json()
    assert windows.from_props(props) == 512
    assert windows.from_models_list(listed, server.model) == 512
    provider = OpenAIProvider(server.base_url)
    try:
        assert await provider.context_window(server.model) == 512
        assert await provider.count_tokens("hello") == len(_tokenize(server, "hello"))
    finally:
        await provider.aclose()


def _tokenize(server, text: str) -> list[int]:
    with httpx.Client(trust_env=False) as client:
        return client.post(f"{server.origin}/tokenize", json={"content": text}).json()["tokens"]


@pytest.mark.parametrize("streamed", [False, True])
async def test_real_llama_servers_overflow_body_is_recorded_and_recognised(llama_small_context, streamed):
    server = llama_small_context
    body = {"model": server.model, "messages": [{"role": "user", "content": LONG}], "max_tokens": 4}
    with httpx.Client(trust_env=False, timeout=60) as client:
        answer = client.post(f"{server.base_url}/chat/completions", json={**body, "stream": streamed})
    assert answer.status_code == 400  # a plain JSON 400 even when streaming
    error = answer.json()["error"]
    assert error["type"] == "exceed_context_size_error" and error["n_ctx"] == 512 and error["code"] == 400
    requested = error["n_prompt_tokens"]
    assert re.fullmatch(
        rf"request \({requested} tokens\) exceeds the available context size \(512 tokens\), try increasing it",
        error["message"],
    )
    provider = OpenAIProvider(server.base_url)
    try:
        with pytest.raises(ContextOverflow) as info:
            await (
                collect(provider, ask(LONG, server.model)) if streamed else provider.complete(ask(LONG, server.model))
            )
    finally:
        await provider.aclose()
    assert (info.value.window, info.value.requested) == (512, requested)
