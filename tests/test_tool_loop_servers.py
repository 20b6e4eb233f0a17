"""The tool loop over real sockets: the local Puter server's scripted tool models (Claude and OpenAI paths),
the local OpenAI server's `tools` model with llama-cpp-python's quirks, and llama.cpp's llama-server with its tiny
tool-calling model — streamed and not, the follow-up request with the results checked as the server received it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from puter_magic.core.loop import LoopThread
from puter_magic.core.sessions import Session
from puter_magic.core.tool_ask import ask_with_tools
from puter_magic.errors import StreamFailed
from puter_magic.testing import ScriptedCall, ScriptedReply
from puter_magic.testing.openai_server import LocalOpenAI

PARALLEL = ScriptedReply.calling(
    ScriptedCall("get_weather", {"city": "Paris"}), ScriptedCall("get_weather", {"city": "Oslo"}), text="Both."
)
ran: list[str] = []


def get_weather(city: str) -> str:
    """Get the current weather for a city.

    Args:
        city: the city's name
    """
    ran.append(city)
    return f'{{"city": "{city}", "temp_c": 18}}'


@pytest.fixture(autouse=True)
def nothing_ran() -> None:
    ran.clear()


@pytest.fixture
def puter(puter_settings) -> Iterator[Session]:
    session = Session(puter_settings)
    yield session
    session.close()


def puter_bodies(puter_server) -> list[dict[str, Any]]:
    return [r.body["args"] for r in puter_server.state.requests if r.path == "/drivers/call"]


@pytest.mark.parametrize("model", ["tools-scripted", "tools-scripted-openai"])
@pytest.mark.parametrize("stream", [True, False])
def test_parallel_calls_on_the_local_puter_server(puter, puter_server, model, stream):
    puter_server.state.script.enqueue(PARALLEL, "Sunny in Paris, cold in Oslo.")
    loop = ask_with_tools(puter, "Weather in Paris and Oslo?", [get_weather], approve="all", model=model, stream=stream)
    assert "".join(loop) == "Both.Sunny in Paris, cold in Oslo."
    assert ran == ["Paris", "Oslo"]
    first, second = puter_bodies(puter_server)
    assert first["tools"][0]["function"]["name"] == "get_weather"
    assert first["tools"][0]["function"]["parameters"]["required"] == ["city"]
    call, *results = second["messages"][-3:]
    assert call["role"] == "assistant" and call["content"] == "Both."
    ids = [c["id"] for c in call["tool_calls"]]
    assert [(r["role"], r["tool_call_id"]) for r in results] == [("tool", ids[0]), ("tool", ids[1])]
    assert results[1]["content"] == '{"city": "Oslo", "temp_c": 18}'
    assert [m.role for m in puter.conversations.thread().turns[0].messages()] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]


def test_a_call_with_content_null_goes_back_with_empty_content(puter, puter_server):
    puter_server.state.script.enqueue({"tool_calls": [{"name": "get_weather", "arguments": {"city": "Rome"}}]}, "Ok")
    ask_with_tools(puter, "Rome?", [get_weather], approve="all", model="tools-scripted-openai", stream=False).wait()
    call = puter_bodies(puter_server)[1]["messages"][-2]
    assert call["content"] == "" and call["tool_calls"][0]["function"]["arguments"] == '{"city":"Rome"}'


def test_invalid_json_arguments_not_streamed_go_back_to_the_model(puter, puter_server):
    puter_server.state.script.enqueue({"tool_calls": [{"name": "get_weather", "arguments": "{city: Paris"}]}, "Sorry")
    loop = ask_with_tools(puter, "Paris?", [get_weather], approve="all", model="tools-scripted", stream=False)
    assert loop.text() == "Sorry" and ran == []
    result = puter_bodies(puter_server)[1]["messages"][-1]
    assert result["content"].startswith("invalid arguments for get_weather: not valid JSON")


def test_invalid_json_arguments_streamed_fail_in_one_line_and_keep_nothing(puter, puter_server):
    """Puter's own JSON.parse throws while it writes the call: the stream ends with an error line."""
    puter_server.state.script.enqueue({"tool_calls": [{"name": "get_weather", "arguments": "{city: Paris"}]})
    with pytest.raises(StreamFailed) as failure:
        ask_with_tools(puter, "Paris?", [get_weather], approve="all", model="tools-scripted").wait()
    assert "JSON" in failure.value.one_line() and "\n" not in failure.value.one_line()
    assert puter.conversations.thread().turns == []


def test_a_model_that_never_stops_calling_ends_at_max_steps(puter, puter_server, capsys):
    puter_server.state.script.enqueue(
        {"tool_calls": [{"name": "get_weather", "arguments": {"city": "X"}}], "repeat": True}
    )
    loop = ask_with_tools(puter, "Loop?", [get_weather], approve="all", model="tools-scripted", max_steps=4)
    loop.wait()
    assert loop.limit_reached and len(puter_bodies(puter_server)) == 4 and len(ran) == 3
    assert "still calling tools after 4 steps" in capsys.readouterr().err
    turn = puter.conversations.thread().turns[0]
    assert sum(1 for m in turn.steps if m.role == "tool") == 4, "every call has its result, the last ones 'not run'"


@pytest.mark.parametrize("stream", [True, False])
def test_llama_cpp_python_quirks(stream):
    """Every streamed chunk repeats id and name (gathered by index, not appended); content null is refused."""
    loop_thread = LoopThread("tool-loop-quirks")
    with LocalOpenAI(repeat_tool_ids=True, reject_null_content=True) as server:
        server.options.script.enqueue(PARALLEL, "Done.")
        session = Session(loop=loop_thread)
        try:
            session.use_provider(server.base_url)
            loop = ask_with_tools(session, "Weather?", [get_weather], approve="all", model="tools", stream=stream)
            assert loop.text() == "Done." and ran == ["Paris", "Oslo"]
            names = [c.name for c in loop.tool_calls]
            assert names == ["get_weather", "get_weather"], "a repeated name is taken, not appended"
        finally:
            session.close()
            loop_thread.close()


@pytest.mark.parametrize("stream", [True, False])
def test_llama_server_calls_then_answers_from_the_result(llama_tools_server, stream):
    loop_thread = LoopThread("tool-loop-llama")
    session = Session(loop=loop_thread)
    try:
        session.use_provider(llama_tools_server.base_url)
        loop = ask_with_tools(
            session, "Weather in Paris?", [get_weather], approve="all", model=llama_tools_server.model, stream=stream
        )
        text = "".join(loop)
        assert len(ran) == 1, "the model called the tool once, with arguments that bound"
        assert text == "OK" and loop.text() == "OK", "the follow-up turn carried the result"
        turn = session.conversations.thread().turns[0]
        assert [m.role for m in turn.steps] == ["assistant", "tool"]
        assert turn.steps[1].tool_call_id == turn.steps[0].tool_calls[0].id
    finally:
        session.close()
        loop_thread.close()
