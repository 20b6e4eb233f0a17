"""The in-memory provider the session-level tests script: replies played as enqueued, requests recorded."""

from __future__ import annotations

import threading

import pytest

from puter_magic.datatypes import (
    ChatRequest,
    Finished,
    Message,
    ModelInfo,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    Usage,
)
from puter_magic.errors import RateLimited, ServerError, StreamFailed
from puter_magic.providers.base import Provider
from puter_magic.testing.memory import Gate, GateTimeout, MemoryProvider

pytestmark = pytest.mark.anyio


def request(*prompts: str, model: str = "m") -> ChatRequest:
    return ChatRequest(tuple(Message("user", prompt) for prompt in prompts), model)


async def events(provider: MemoryProvider, req: ChatRequest | None = None) -> list:
    return [event async for event in provider.stream(req or request("hi"))]


async def test_text_chunks_stream_in_order_then_one_finished_with_the_usage():
    memory = MemoryProvider()
    memory.enqueue("Hello, ", "world", Usage(3, 2))
    assert await events(memory, request("hi", model="chosen")) == [
        TextDelta("Hello, "),
        TextDelta("world"),
        Finished(Usage(3, 2), "stop", "chosen"),
    ]


async def test_replies_are_taken_first_in_first_out_and_every_request_is_recorded():
    memory = MemoryProvider()
    memory.enqueue("one")
    memory.enqueue("two")
    assert memory.pending == 2
    first = await memory.complete(request("a"))
    second = await events(memory, request("b"))
    assert first.text == "one" and second[0] == TextDelta("two") and memory.pending == 0
    assert [(r.method, r.request.messages[-1].text) for r in memory.received] == [("complete", "a"), ("stream", "b")]
    assert memory.requests == [request("a"), request("b")]


async def test_with_nothing_enqueued_the_last_user_message_comes_back_or_what_otherwise_says():
    memory = MemoryProvider()
    assert (await memory.complete(request("first", "second"))).text == "second"
    scripted = MemoryProvider(otherwise=lambda req: [f"{len(req.messages)} messages"])
    assert (await scripted.complete(request("x", "y", "z"))).text == "3 messages"


async def test_reasoning_and_tool_calls_stream_as_given_and_complete_gathers_them():
    call = ToolCall("c1", "weather", {"city": "Oslo"})
    memory = MemoryProvider()
    script = (ReasoningDelta("let me "), ReasoningDelta("see"), "Looking.", call, Usage(5, 1))
    memory.enqueue(*script)
    assert await events(memory) == [
        ReasoningDelta("let me "),
        ReasoningDelta("see"),
        TextDelta("Looking."),
        call,
        Finished(Usage(5, 1), "tool_calls", "m"),
    ]
    memory.enqueue(*script)
    completion = await memory.complete(request("hi"))
    assert (completion.text, completion.reasoning, completion.tool_calls) == ("Looking.", "let me see", (call,))
    assert (completion.usage, completion.finish_reason, completion.model) == (Usage(5, 1), "tool_calls", "m")


async def test_an_error_before_any_text_or_after_some():
    memory = MemoryProvider()
    memory.enqueue(ServerError("down"))
    with pytest.raises(ServerError, match="down"):
        await events(memory)
    memory.enqueue("half ", StreamFailed("cut", partial="half "), "never")
    seen = []
    with pytest.raises(StreamFailed) as info:
        async for event in memory.stream(request("hi")):
            seen.append(event)
    assert seen == [TextDelta("half ")] and info.value.partial == "half "
    memory.enqueue("text first", RateLimited("slow down"))
    with pytest.raises(RateLimited):
        await memory.complete(request("hi"))


async def test_a_finished_step_ends_the_reply_as_written():
    memory = MemoryProvider()
    memory.enqueue("cut", Finished(Usage(1, 1), "length", "served-model"), "never sent")
    assert await events(memory) == [TextDelta("cut"), Finished(Usage(1, 1), "length", "served-model")]
    memory.enqueue("cut", Finished(Usage(1, 1), "length", "served-model"))
    assert (await memory.complete(request("hi"))).model == "served-model"


def test_a_step_of_another_kind_is_refused_when_enqueued():
    memory = MemoryProvider()
    with pytest.raises(TypeError, match="a reply step is"):
        memory.enqueue("fine", 42)
    assert memory.pending == 0


async def test_models_status_and_close():
    memory = MemoryProvider("mine", models=[ModelInfo("a"), ModelInfo("b")])
    assert isinstance(memory, Provider)
    assert [m.id for m in await memory.models()] == ["a", "b"]
    status = await memory.status()
    assert (status.provider, status.origin, status.reachable, status.model_count) == ("mine", "memory://mine", True, 2)
    await memory.aclose()
    assert memory.closed


# --- the gate, through a real Session and its loop thread ------------------------------------------------------


def test_a_gate_holds_the_reply_until_released(memory_provider, memory_session):
    gate = Gate()
    memory_provider.enqueue("before ", gate, "after")
    pieces: list[str] = []
    reader = threading.Thread(target=lambda: pieces.extend(memory_session.ask("hi")))
    reader.start()
    try:
        assert gate.arrived(1)
        assert gate.waiting == 1 and memory_session.conversations.thread().turns == []
    finally:
        gate.release()
        reader.join(10)
    assert pieces == ["before ", "after"] and gate.waiting == 0 and gate.cancelled == 0
    assert memory_session.conversations.thread().turns[-1].answer == "before after"


def test_a_released_gate_lets_later_replies_pass_and_a_stop_cancels_a_waiting_one(memory_provider, memory_session):
    gate = Gate()
    memory_provider.enqueue("a ", "b ", gate, "never")
    stopper = threading.Thread(target=lambda: gate.arrived(1) and memory_session.stop())
    stopper.start()
    pieces = list(memory_session.ask("hi"))
    stopper.join(10)
    assert pieces == ["a ", "b "], "the text before the gate is handed on before the gate counts the arrival"
    assert gate.wait_cancelled(1)
    turn = memory_session.conversations.thread().turns[-1]
    assert turn.interrupted and turn.answer == "a b "
    gate.release()
    memory_provider.enqueue(gate, "passes")
    assert memory_session.chat("again").text == "passes"


def test_a_session_adopts_the_provider_under_its_name(memory_provider, memory_session):
    assert memory_session.provider is memory_provider and memory_session.provider_name == "memory"
    other = MemoryProvider("other")
    memory_session.registry.adopt(other)
    assert memory_session.use_provider("other") is other and memory_session.model is None
    memory_session.use_provider("memory")
    assert memory_session.provider is memory_provider and memory_session.model == "memory-model"
    memory_provider.enqueue("scripted")
    assert memory_session.chat("question").text == "scripted"
    assert memory_provider.requests[-1].model == "memory-model"


async def test_a_gate_never_released_fails_the_reply_after_its_timeout():
    memory = MemoryProvider()
    gate = Gate(timeout=0.01)
    memory.enqueue("before", gate, "after")
    with pytest.raises(GateTimeout, match=r"not released within 0\.01 s"):
        await events(memory)
    assert gate.arrivals == 1 and gate.waiting == 0 and gate.cancelled == 0
