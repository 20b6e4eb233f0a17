"""The local OpenAI-compatible server's scripted `tools` model: llama-server's tool-call deltas, and the recorded
quirks of llama-cpp-python (shared/openai-servers.md) switched on per server, for clients to be tested against.
Raw httpx over the real socket."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from puter_magic.testing import ScriptedCall, ScriptedReply
from puter_magic.testing.openai_server import LocalOpenAI
from puter_magic.testing.scripted import EMPTY_SCRIPT_TEXT

ASK = [{"role": "user", "content": "Weather in Paris and Oslo?"}]
PARALLEL = ScriptedReply.calling(
    ScriptedCall("get_weather", {"city": "Paris"}), ScriptedCall("get_weather", {"city": "Oslo"}), text="Two cities."
)


def post(server: LocalOpenAI, **body: Any) -> httpx.Response:
    return httpx.post(f"{server.base_url}/chat/completions", json={"model": "tools", "messages": ASK, **body})


def streamed_deltas(server: LocalOpenAI, **body: Any) -> tuple[list[dict[str, Any]], str | None]:
    """The deltas of a streamed answer and its finish_reason (checks [DONE] at the end)."""
    response = post(server, stream=True, **body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    payloads = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert payloads[-1] == "[DONE]"
    choices = [json.loads(p)["choices"][0] for p in payloads[:-1]]
    return [c["delta"] for c in choices[:-1]], choices[-1]["finish_reason"]


def gather_by_index(deltas: list[dict[str, Any]]) -> list[dict[str, str]]:
    """What a careful client builds: id and name overwritten, arguments appended, per index."""
    calls: dict[int, dict[str, str]] = {}
    for delta in deltas:
        for fragment in delta.get("tool_calls", []):
            call = calls.setdefault(fragment["index"], {"id": "", "name": "", "arguments": ""})
            call["id"] = fragment.get("id", call["id"])
            call["name"] = fragment.get("function", {}).get("name", call["name"])
            call["arguments"] += fragment["function"]["arguments"]
    return [calls[index] for index in sorted(calls)]


@pytest.fixture
def server() -> Iterator[LocalOpenAI]:
    with LocalOpenAI() as local:
        yield local


def test_a_streamed_call_arrives_as_llama_server_sends_it(server: LocalOpenAI) -> None:
    server.options.script.enqueue(PARALLEL)
    deltas, finish = streamed_deltas(server)
    assert finish == "tool_calls" and deltas[0] == {"role": "assistant", "content": None}
    assert "".join(d.get("content") or "" for d in deltas) == "Two cities."
    fragments = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    firsts = [f for f in fragments if "id" in f]
    assert [f["index"] for f in firsts] == [0, 1]
    assert all(
        list(f) == ["index", "id", "type", "function"] and list(f["function"]) == ["name", "arguments"] for f in firsts
    )
    assert all(
        list(f) == ["index", "function"] and list(f["function"]) == ["arguments"] for f in fragments if "id" not in f
    )
    calls = gather_by_index(deltas)
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Oslo"}),
    ]
    assert calls[0]["id"].startswith("call_") and calls[0]["id"] != calls[1]["id"]


def test_a_non_streamed_call_has_null_content(server: LocalOpenAI) -> None:
    server.options.script.enqueue(ScriptedReply.calling(ScriptedCall("get_time", id="call_7")))
    choice = post(server).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "call_7", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}],
    }


def test_llama_server_sends_empty_content_beside_calls() -> None:
    with LocalOpenAI(tool_content="") as server:
        server.options.script.enqueue(ScriptedReply.calling(ScriptedCall("get_time")))
        assert post(server).json()["choices"][0]["message"]["content"] == ""


def test_a_text_reply_finishes_with_stop(server: LocalOpenAI) -> None:
    server.options.script.enqueue("Sunny.")
    deltas, finish = streamed_deltas(server)
    assert finish == "stop" and not any("tool_calls" in d for d in deltas)
    assert post(server).json()["choices"][0]["message"]["content"] == EMPTY_SCRIPT_TEXT  # the script ran out


def test_llama_cpp_python_repeats_id_and_name_in_every_chunk() -> None:
    with LocalOpenAI(repeat_tool_ids=True) as server:
        server.options.script.enqueue(PARALLEL)
        deltas, finish = streamed_deltas(server)
    tool_deltas = [d for d in deltas if "tool_calls" in d]
    assert finish == "tool_calls" and len(tool_deltas) > 2
    for delta in tool_deltas:
        [fragment] = delta["tool_calls"]
        assert list(fragment) == ["index", "id", "type", "function"] and fragment["function"]["name"] == "get_weather"
        assert delta["function_call"] == {"name": "get_weather", "arguments": fragment["function"]["arguments"]}
        assert fragment["id"].startswith(f"call__{fragment['index']}_get_weather_cmpl-")
    appended = "".join(d["tool_calls"][0]["function"]["name"] for d in tool_deltas if d["tool_calls"][0]["index"] == 0)
    assert appended.startswith("get_weatherget_weather"), "what a client that appends names builds"
    assert [json.loads(c["arguments"]) for c in gather_by_index(deltas)] == [{"city": "Paris"}, {"city": "Oslo"}]


def follow_up(**assistant: Any) -> list[dict[str, Any]]:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    return [
        *ASK,
        {"role": "assistant", **assistant, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18"},
    ]


@pytest.mark.parametrize(("assistant", "status"), [({"content": None}, 500), ({}, 500), ({"content": ""}, 200)])
def test_llama_cpp_python_refuses_a_call_turn_without_string_content(assistant: dict[str, Any], status: int) -> None:
    with LocalOpenAI(reject_null_content=True) as server:
        response = post(server, messages=follow_up(**assistant))
    assert response.status_code == status
    if status == 500:
        assert response.json()["error"]["type"] == "internal_server_error"


def test_other_servers_take_null_content_and_see_the_tool_messages(server: LocalOpenAI) -> None:
    server.options.script.enqueue("Sunny.")
    messages = follow_up(content=None)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    assert post(server, messages=messages, tools=tools).status_code == 200
    assert server.options.seen[-1]["body"]["messages"] == messages and server.options.seen[-1]["body"]["tools"] == tools


def test_the_tools_model_is_served_but_not_listed(server: LocalOpenAI) -> None:
    listed = httpx.get(f"{server.base_url}/models").json()["data"]
    assert [model["id"] for model in listed] == ["echo", "count"]
