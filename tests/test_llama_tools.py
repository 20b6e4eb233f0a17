"""llama.cpp's llama-server returning tool calls and schema-constrained JSON: the shapes a client must read.

The server runs the tiny random-weight model of tests/servers/make_tiny_tools_gguf.py (fixture
`llama_tools_server`): a tool-aware chat template plus a few hand-set weights make it call a tool on the first turn
and answer "OK" once a tool result is in the context; llama-server's grammar makes every call valid JSON.
Raw httpx, as in test_real_servers.py (whose helpers this file reuses): the client side is tested elsewhere.

What this server does NOT do (so parallel calls and named tool choices are tested against scripted servers):
- a named `tool_choice` is not enforced: it behaves like "auto" over all the tools, even for a name not offered;
- one call per turn: this model never makes parallel calls (`parallel_tool_calls` is accepted and changes nothing).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import jsonschema
import pytest
from servers.fixtures import RealServer
from test_real_servers import chunks_of, content_of, http, post, stream
from tool_requests import WEATHER

__all__ = ["http"]  # the module-scoped client fixture of test_real_servers

ASK = [{"role": "user", "content": "Weather in Paris?"}]
CLOCK = {
    "type": "function",
    "function": {"name": "get_time", "description": "The time now", "parameters": {"type": "object", "properties": {}}},
}
CALL_ID = re.compile(r"[A-Za-z0-9]{32}")  # 32 random characters, no "call_" prefix
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name", "age", "tags"],
    "additionalProperties": False,
}


def ask(server: RealServer, messages: list[dict[str, Any]] = ASK, **body: Any) -> dict[str, Any]:
    """A request offering get_weather; a call is ~55-60 one-character tokens, so max_tokens leaves room."""
    return {"model": server.model, "messages": messages, "tools": [WEATHER], "max_tokens": 120, **body}


def answer(http: httpx.Client, server: RealServer, body: dict[str, Any]) -> dict[str, Any]:
    response = post(http, server, body)
    assert response.status_code == 200, response.text
    choice: dict[str, Any] = response.json()["choices"][0]
    return choice


def follow_up(arguments: str = '{"city":"Paris"}', **assistant: Any) -> list[dict[str, Any]]:
    """The second turn: the call (assistant fields as given, content null unless said) and its result."""
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
    turn = {"role": "assistant", "content": None, **assistant, "tool_calls": [call]}
    if turn["content"] == "omitted":
        del turn["content"]
    return [*ASK, turn, {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c":18}'}]


def test_the_chat_template_is_recognised_as_tool_aware(http: httpx.Client, llama_tools_server: RealServer) -> None:
    props = http.get(f"{llama_tools_server.origin}/props").json()
    assert props["chat_template_caps"]["supports_tools"] is True


def test_a_streamed_tool_call_arrives_in_fragments_by_index(http: httpx.Client, llama_tools_server: RealServer) -> None:
    body = ask(llama_tools_server, stream_options={"include_usage": True})
    response, payloads = stream(http, llama_tools_server, body)
    assert response.status_code == 200 and payloads[-1] == "[DONE]"
    chunks = chunks_of(payloads)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": None}
    tool_deltas = [c["choices"][0]["delta"]["tool_calls"] for c in chunks[1:-2]]
    assert all(len(delta) == 1 for delta in tool_deltas), "one call per chunk"
    first, *rest = (delta[0] for delta in tool_deltas)
    # The first fragment carries index, id, type, the name and the first piece of the arguments...
    assert list(first) == ["index", "id", "type", "function"] and first["index"] == 0
    assert CALL_ID.fullmatch(first["id"]) and first["type"] == "function"
    assert first["function"] == {"name": "get_weather", "arguments": "{"}
    # ...the others only the index and 1-2 more characters of the arguments.
    assert len(rest) >= 5 and all(list(f) == ["index", "function"] and f["index"] == 0 for f in rest)
    assert all(list(f["function"]) == ["arguments"] and 1 <= len(f["function"]["arguments"]) <= 2 for f in rest)
    arguments = first["function"]["arguments"] + "".join(f["function"]["arguments"] for f in rest)
    assert set(json.loads(arguments)) == {"city"} and isinstance(json.loads(arguments)["city"], str)
    assert chunks[-2]["choices"] == [{"finish_reason": "tool_calls", "index": 0, "delta": {}}]
    # usage counts every generated token, the <tool_call> markup included: more than the fragments
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > len(tool_deltas)


def test_a_non_streamed_tool_call(http: httpx.Client, llama_tools_server: RealServer) -> None:
    choice = answer(http, llama_tools_server, ask(llama_tools_server))
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == "" and message["role"] == "assistant"  # "", not null as OpenAI sends
    [call] = message["tool_calls"]
    assert set(call) == {"id", "type", "function"} and CALL_ID.fullmatch(call["id"]) and call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert set(json.loads(call["function"]["arguments"])) == {"city"}  # the model's raw text, e.g. {"city" :"xX" }


@pytest.mark.parametrize("tool_choice", ["auto", "required"])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_every_first_turn_is_one_valid_call(
    http: httpx.Client, llama_tools_server: RealServer, seed: int, tool_choice: str
) -> None:
    body = ask(llama_tools_server, tools=[WEATHER, CLOCK], tool_choice=tool_choice, temperature=0.8, seed=seed)
    choice = answer(http, llama_tools_server, {**body, "parallel_tool_calls": True})
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]  # never two calls in one turn, even with parallel_tool_calls
    arguments = json.loads(call["function"]["arguments"])
    schema = {"get_weather": WEATHER, "get_time": CLOCK}[call["function"]["name"]]["function"]["parameters"]
    jsonschema.validate(arguments, schema)


def test_a_named_tool_choice_is_not_enforced(http: httpx.Client, llama_tools_server: RealServer) -> None:
    named = {"type": "function", "function": {"name": "not_offered"}}
    choice = answer(http, llama_tools_server, ask(llama_tools_server, tool_choice=named))
    # OpenAI refuses a tool_choice naming a tool that is not offered; llama-server calls an offered one.
    assert [call["function"]["name"] for call in choice["message"]["tool_calls"]] == ["get_weather"]


@pytest.mark.parametrize("content", [None, "", "omitted"])
def test_the_follow_up_with_a_tool_result_answers_text(
    http: httpx.Client, llama_tools_server: RealServer, content: str | None
) -> None:
    choice = answer(http, llama_tools_server, ask(llama_tools_server, follow_up(content=content)))
    assert choice == {"finish_reason": "stop", "index": 0, "message": {"role": "assistant", "content": "OK"}}


def test_the_streamed_follow_up_answers_text(http: httpx.Client, llama_tools_server: RealServer) -> None:
    response, payloads = stream(http, llama_tools_server, ask(llama_tools_server, follow_up()))
    chunks = chunks_of(payloads)
    assert response.status_code == 200 and payloads[-1] == "[DONE]"
    assert content_of(chunks) == "OK" and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert not any("tool_calls" in c["choices"][0]["delta"] for c in chunks)


def test_a_required_tool_choice_after_a_result_answers_text_and_calls_again(
    http: httpx.Client, llama_tools_server: RealServer
) -> None:
    choice = answer(http, llama_tools_server, ask(llama_tools_server, follow_up(), tool_choice="required"))
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] == "OK"
    assert [call["function"]["name"] for call in choice["message"]["tool_calls"]] == ["get_weather"]


def test_earlier_call_arguments_that_are_not_json_are_a_500(http: httpx.Client, llama_tools_server: RealServer) -> None:
    response = post(http, llama_tools_server, ask(llama_tools_server, follow_up(arguments="{city")))
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == 500 and error["type"] == "server_error"
    assert error["message"].startswith("Failed to parse tool call arguments as JSON")


def test_without_tools_the_model_writes_text_to_max_tokens(http: httpx.Client, llama_tools_server: RealServer) -> None:
    body = {"model": llama_tools_server.model, "messages": ASK, "max_tokens": 8}
    choice = answer(http, llama_tools_server, body)
    assert choice["finish_reason"] == "length" and "tool_calls" not in choice["message"]


def person_format() -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}


@pytest.mark.parametrize("seed", range(5))
def test_response_format_json_schema_constrains_the_answer(
    http: httpx.Client, llama_tools_server: RealServer, seed: int
) -> None:
    messages = [{"role": "user", "content": "A person"}]
    body = {"model": llama_tools_server.model, "messages": messages, "max_tokens": 300, "temperature": 0.8}
    choice = answer(http, llama_tools_server, {**body, "seed": seed, "response_format": person_format()})
    assert choice["finish_reason"] == "stop" and "tool_calls" not in choice["message"]
    jsonschema.validate(json.loads(choice["message"]["content"]), PERSON)


def test_a_streamed_json_schema_answer_arrives_as_content_deltas(
    http: httpx.Client, llama_tools_server: RealServer
) -> None:
    messages = [{"role": "user", "content": "A person"}]
    body = {"model": llama_tools_server.model, "messages": messages, "max_tokens": 300}
    response, payloads = stream(http, llama_tools_server, {**body, "response_format": person_format()})
    chunks = chunks_of(payloads)
    assert response.status_code == 200 and chunks[-1]["choices"][0]["finish_reason"] == "stop"
    jsonschema.validate(json.loads(content_of(chunks)), PERSON)
