"""puter_magic's OpenAI-compatible provider, session and magic against real servers: llama.cpp's llama-server
(single model, with a key, and router mode) and transformers serve. Their set-up lives in tests/servers/."""

from __future__ import annotations

import pytest

from puter_magic.core.loop import LoopThread
from puter_magic.core.sessions import Session
from puter_magic.datatypes import ChatRequest, Finished, Message, TextDelta
from puter_magic.errors import AuthenticationError, BadRequest, ModelNotFound, ServerError
from puter_magic.providers.openai import OpenAIProvider
from puter_magic.wire.transport import Policy

QUICK = Policy(max_retries=1, first_byte_timeout=60)


@pytest.fixture(scope="module")
def loop():
    thread = LoopThread(name="real-servers")
    yield thread
    thread.close()


def ask(model: str, text: str = "hi", **options) -> ChatRequest:
    return ChatRequest((Message("user", text),), model, **{"max_tokens": 8, "temperature": 0, **options})


def run(loop, server, coro_factory, api_key=None):
    async def go():
        provider = OpenAIProvider(server.base_url, api_key=api_key or server.api_key, name=server.name, policy=QUICK)
        try:
            return await coro_factory(provider)
        finally:
            await provider.aclose()

    return loop.run(go())


async def collect(provider, request):
    texts, finished = [], None
    async for event in provider.stream(request):
        if isinstance(event, TextDelta):
            texts.append(event.text)
        elif isinstance(event, Finished):
            finished = event
    return "".join(texts), finished


def test_llama_server_models_complete_and_stream(loop, llama_server):
    models = run(loop, llama_server, lambda p: p.models())
    assert [m.id for m in models] == [llama_server.model]
    completion = run(loop, llama_server, lambda p: p.complete(ask("tiny")))
    assert completion.text and completion.finish_reason == "length"
    assert completion.usage.output_tokens == 8
    text, finished = run(loop, llama_server, lambda p: collect(p, ask("tiny")))
    assert text == completion.text, "temperature 0 is deterministic"
    assert finished.finish_reason == "length"
    assert finished.usage.output_tokens == 8 and finished.usage.input_tokens, "the include_usage chunk is read"


def test_llama_server_stop_sequences(loop, llama_server):
    full = run(loop, llama_server, lambda p: p.complete(ask("tiny", max_tokens=16))).text
    stop = full[5:7]
    cut = run(loop, llama_server, lambda p: collect(p, ask("tiny", max_tokens=16, stop=(stop,))))
    assert cut[1].finish_reason == "stop"
    assert cut[0] == full[: full.index(stop)]


def test_llama_server_errors(loop, llama_server, llama_server_with_key):
    with pytest.raises(AuthenticationError) as info:
        run(loop, llama_server_with_key, lambda p: p.complete(ask("tiny")), api_key="wrong-key-123")
    assert "API key" in info.value.hint
    assert run(loop, llama_server_with_key, lambda p: p.complete(ask("tiny"))).text
    with pytest.raises(BadRequest):
        run(loop, llama_server, lambda p: p.complete(ask("tiny", extra={"n": 2})))
    with pytest.raises(BadRequest, match="context"):
        run(loop, llama_server, lambda p: collect(p, ask("tiny", "word " * 600)))


def test_router_serves_several_models_and_knows_unknown_ones(loop, llama_router):
    ids = {m.id for m in run(loop, llama_router, lambda p: p.models())}
    assert {"tiny", "tiny-b", "tiny-c"} <= ids
    text, finished = run(loop, llama_router, lambda p: collect(p, ask("tiny-b")))
    assert text and finished.finish_reason == "length"
    with pytest.raises(ModelNotFound, match="not found"):
        run(loop, llama_router, lambda p: p.complete(ask("no-such-model")))


def test_transformers_stream_without_done_and_its_errors(loop, transformers_server):
    model = transformers_server.model
    text, finished = run(loop, transformers_server, lambda p: collect(p, ask(model)))
    assert text and finished is not None and finished.finish_reason in ("length", "stop")
    assert finished.usage.output_tokens, "usage rides on the finish chunk"
    with pytest.raises(ServerError) as info:
        run(loop, transformers_server, lambda p: p.complete(ask("org/no-such-model")))
    assert info.value.status_code == 500 and info.value.message


def test_puter_magic_end_to_end_on_llama_server(shell, llama_server):
    from puter_magic.notebook.magics import PuterMagics, unload

    session = Session()
    magics = PuterMagics(shell, session_=session)
    shell.register_magics(magics)
    try:
        shell.run_line_magic("puter", f"provider {llama_server.base_url}")
        shell.run_line_magic("puter", f"model {llama_server.model}")
        result = shell.run_cell("%%puter --max-tokens 8 --temperature 0 -o answer --quiet\nhello")
        assert result.error_in_exec is None, result.error_in_exec
        assert shell.user_ns["answer"]
        turn = session.conversations.thread().turns[-1]
        assert turn.provider == llama_server.base_url.split("//")[1].split("/")[0]
        assert turn.usage.output_tokens == 8
    finally:
        unload(shell)
        session.close()
