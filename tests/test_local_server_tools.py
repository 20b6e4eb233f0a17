"""Tools on the local Puter server: the fake provider against shared/puter-recorded-2.md §6 (exchanges 100-112,
numbered as there), and the scripted tool-calling models against the shapes of shared/puter-protocol.md §3.4-3.5.

Raw httpx over the real socket, with test_local_server.py's helpers.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_local_server import Http, assert_matches, chat, compact, err, json_of, ndjson_lines, recorded_chat
from tool_requests import WEATHER

from puter_magic.testing import LocalPuter, ScriptedCall, ScriptedReply
from puter_magic.testing.scripted import EMPTY_SCRIPT_TEXT, v8_json_error

ASK = {"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."}
CALL = {"id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
FOLLOW_UP = [
    ASK,
    {"role": "assistant", "content": None, "tool_calls": [CALL]},
    {"role": "tool", "tool_call_id": "call_abc123", "content": '{"temp_c":18,"sky":"cloudy"}'},
]
TOOLU_ID = re.compile(r"toolu_01[A-Za-z0-9]{22}")
CALL_ID = re.compile(r"call_[A-Za-z0-9]{24}")
TEXT = frozenset({"text"})


def complete(model: str = "fake", messages: list[Any] | None = None, **args: Any) -> dict[str, Any]:
    return chat(model, messages=[ASK] if messages is None else messages, **args)


# -- recorded exchanges: the fake provider ignores tools -----------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        pytest.param({"tools": [WEATHER]}, id="100-tools"),
        pytest.param({"tools": [WEATHER], "tool_choice": "required"}, id="103-tool-choice-required"),
        pytest.param({"messages": FOLLOW_UP, "tools": [WEATHER]}, id="104-tool-result-follow-up"),
        pytest.param(
            {
                "messages": [
                    ASK,
                    {"role": "assistant", "tool_calls": [{**CALL, "id": "call_1", "function": {**CALL["function"]}}]},
                    {"role": "tool", "tool_call_id": "call_1", "content": {"temp_c": 18}},
                ]
            },
            id="107-object-arguments-without-tools",
        ),
        pytest.param({"messages": [ASK, {"role": "tool", "content": "orphan result"}]}, id="108-tool-without-call"),
        pytest.param(
            {
                "messages": [
                    ASK,
                    {"role": "assistant", "content": "", "tool_calls": [{**CALL, "id": "call_2"}]},
                    {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
                ]
            },
            id="110-empty-string-content",
        ),
        pytest.param(
            {"tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}]},
            id="112-anthropic-style-tools",
        ),
    ],
)
def test_the_fake_model_answers_text_whatever_the_tools(http: Http, args: dict[str, Any]) -> None:
    body = complete(**args)
    assert_matches(json_of(http.call(body)), recorded_chat(), TEXT)
    [record] = http.server.state.requests
    assert record.body == body, "the tools, tool calls and tool messages reached the server as sent"


@pytest.mark.parametrize("messages", [[ASK], FOLLOW_UP], ids=["101-102-streamed", "105-follow-up-streamed"])
def test_the_fake_model_streams_one_text_line_and_usage(http: Http, messages: list[Any]) -> None:
    response, raw = http.stream(complete(messages=messages, tools=[WEATHER], stream=True))
    lines = ndjson_lines(response, raw)
    assert [line["type"] for line in lines] == ["text", "usage"] and list(lines[0]) == ["type", "text"]
    assert raw.split(b"\n")[-2] == b'{"type":"usage","usage":{"usd_cents":null}}'


def test_106_costly_counts_only_the_text_of_a_follow_up(http: Http) -> None:
    body = json_of(http.call(complete("costly", FOLLOW_UP, tools=[WEATHER])))
    assert_matches(body, recorded_chat("costly", 14, 93), TEXT | {"output_tokens"})
    assert 50 <= body["result"]["usage"]["output_tokens"] < 200  # 14 = ceil(55/4): the tool blocks count nothing


def test_109_an_assistant_message_with_null_content_and_no_calls_is_refused(http: Http) -> None:
    response = http.call(complete(messages=[ASK, {"role": "assistant", "content": None}]))
    assert json_of(response, 400) == err("each message must have a 'content' property", "bad_request")
    assert response.headers["content-length"] == "132"


def test_111_tools_that_are_not_a_list_crash_the_normaliser(http: Http) -> None:
    response = http.call(complete(tools="not-a-list"))
    assert json_of(response, 500) == err("Internal Server Error", "internal_error")
    assert response.headers["content-length"] == "91"


# -- scripted tool calls: Puter's Claude path ---------------------------------------------------------------


def script(server: LocalPuter, *replies: ScriptedReply | str | dict[str, Any]) -> None:
    server.state.script.enqueue(*replies)


def weather_call(city: str = "Paris", **fields: Any) -> ScriptedCall:
    return ScriptedCall("get_weather", {"city": city}, **fields)


def test_claude_path_answers_an_anthropic_message_with_tool_use_and_finish_reason_stop(http: Http) -> None:
    script(http.server, ScriptedReply.calling(weather_call(), text="Let me look."))
    body = json_of(http.call(complete("tools-scripted", tools=[WEATHER])))
    result = body["result"]
    assert list(result) == ["message", "usage", "finish_reason", "via_ai_chat_service"]
    assert result["finish_reason"] == "stop", "Puter's Claude path says stop even for tool use"
    message = result["message"]
    assert list(message) == ["id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"]
    assert message["stop_reason"] == "tool_use" and re.fullmatch(r"msg_01\w{22}", message["id"])
    text, call = message["content"]
    assert text == {"type": "text", "text": "Let me look."}
    assert list(call) == ["type", "id", "name", "input"] and TOOLU_ID.fullmatch(call["id"])
    assert (call["type"], call["name"], call["input"]) == ("tool_use", "get_weather", {"city": "Paris"})
    usage_keys = ["input_tokens", "ephemeral_5m_input_tokens", "ephemeral_1h_input_tokens", "cache_read_input_tokens"]
    assert list(result["usage"]) == [*usage_keys, "output_tokens", "thinking_tokens", "usd_cents"]
    assert body["metadata"] == {"service_used": "claude", "providerUsed": "tools-scripted"}


def test_claude_path_final_text_ends_the_turn(http: Http) -> None:
    script(http.server, "Sunny, 18 °C.")
    message = json_of(http.call(complete("tools-scripted", FOLLOW_UP, tools=[WEATHER])))["result"]["message"]
    assert message["content"] == [{"type": "text", "text": "Sunny, 18 °C."}] and message["stop_reason"] == "end_turn"


@pytest.mark.parametrize("model", ["tools-scripted", "tools-scripted-openai"])
def test_a_stream_sends_text_lines_then_one_tool_use_line_per_call_then_usage(http: Http, model: str) -> None:
    script(http.server, ScriptedReply.calling(weather_call(), weather_call("Oslo"), text="Two cities."))
    response, raw = http.stream(complete(model, tools=[WEATHER], stream=True))
    lines = ndjson_lines(response, raw)
    assert [line["type"] for line in lines] == ["text", "text", "tool_use", "tool_use", "usage"]
    assert "".join(line["text"] for line in lines[:2]) == "Two cities."
    first, second = lines[2:4]
    assert list(first) == ["type", "id", "name", "input", "text"] and first["text"] == ""
    assert [(c["name"], c["input"]) for c in (first, second)] == [
        ("get_weather", {"city": c}) for c in ("Paris", "Oslo")
    ]
    ids = TOOLU_ID if model == "tools-scripted" else CALL_ID
    assert ids.fullmatch(first["id"]) and ids.fullmatch(second["id"]) and first["id"] != second["id"]
    usage = lines[-1]["usage"]
    expected = ["input_tokens", "ephemeral_5m_input_tokens"] if model == "tools-scripted" else ["prompt_tokens"]
    assert list(usage)[: len(expected)] == expected and isinstance(usage["usd_cents"], float)


# -- scripted tool calls: an OpenAI-compatible provider -----------------------------------------------------


def test_openai_path_answers_the_choice_with_tool_calls_and_null_content(http: Http) -> None:
    script(http.server, ScriptedReply.calling(weather_call(), ScriptedCall("get_time")))
    body = json_of(http.call(complete("tools-scripted-openai", tools=[WEATHER])))
    result = body["result"]
    assert list(result) == ["index", "message", "logprobs", "finish_reason", "usage", "via_ai_chat_service"]
    assert result["finish_reason"] == "tool_calls"
    message = result["message"]
    assert list(message) == ["role", "content", "refusal", "annotations", "tool_calls"] and message["content"] is None
    first, second = message["tool_calls"]
    assert list(first) == ["id", "type", "function"] and CALL_ID.fullmatch(first["id"]) and first["type"] == "function"
    assert first["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}  # a JSON string
    assert second["function"] == {"name": "get_time", "arguments": "{}"}
    assert list(result["usage"]) == ["prompt_tokens", "completion_tokens", "cached_tokens", "usd_cents"]
    assert body["metadata"] == {"service_used": "openai-completion", "providerUsed": "tools-scripted-openai"}


def test_openai_path_final_text(http: Http) -> None:
    script(http.server, "Sunny.")
    result = json_of(http.call(complete("tools-scripted-openai", FOLLOW_UP)))["result"]
    assert result["finish_reason"] == "stop" and "tool_calls" not in result["message"]
    assert result["message"]["content"] == "Sunny."


# -- scripted shapes: bad arguments, a model that never stops, the script itself ------------------------------

NOT_JSON = "{city: Paris"


@pytest.mark.parametrize("model", ["tools-scripted", "tools-scripted-openai"])
def test_arguments_that_are_not_json_end_the_stream_with_puters_parse_error(http: Http, model: str) -> None:
    script(http.server, ScriptedReply.calling(weather_call(), ScriptedCall("get_weather", NOT_JSON)))
    response, raw = http.stream(complete(model, tools=[WEATHER], stream=True))
    lines = ndjson_lines(response, raw)
    assert [line["type"] for line in lines] == ["tool_use", "error"], "no usage line after an error"
    assert lines[1] == {"type": "error", "message": "Expected property name or '}' in JSON at position 1"}


def test_arguments_that_are_not_json_pass_through_unstreamed(http: Http) -> None:
    script(http.server, *[ScriptedReply.calling(ScriptedCall("get_weather", NOT_JSON))] * 2)
    [call] = json_of(http.call(complete("tools-scripted-openai")))["result"]["message"]["tool_calls"]
    assert call["function"]["arguments"] == NOT_JSON  # as the model wrote it
    [block] = json_of(http.call(complete("tools-scripted")))["result"]["message"]["content"]
    assert block["input"] == NOT_JSON  # not an object: a client reads it as unparsable arguments


def test_a_repeating_reply_is_a_model_that_never_stops_calling(http: Http) -> None:
    script(http.server, ScriptedReply.calling(weather_call(), repeat=True))
    ids = []
    for _ in range(3):
        [call] = json_of(http.call(complete("tools-scripted-openai")))["result"]["message"]["tool_calls"]
        ids.append(call["id"])
    assert len(set(ids)) == 3, "every call gets a fresh id"
    assert http.server.state.script.served == 3 and len(http.server.state.script.pending) == 1


def test_replies_are_served_in_order_then_the_script_is_empty(http: Http) -> None:
    script(http.server, ScriptedReply.calling(weather_call(id="call_fixed")), "Done.")
    [call] = json_of(http.call(complete("tools-scripted-openai")))["result"]["message"]["tool_calls"]
    assert call["id"] == "call_fixed"
    answers = [json_of(http.call(complete("tools-scripted-openai")))["result"]["message"]["content"] for _ in "ab"]
    assert answers == ["Done.", EMPTY_SCRIPT_TEXT]


def test_the_request_log_shows_the_tools_calls_and_results_of_each_turn(http: Http) -> None:
    script(http.server, ScriptedReply.calling(weather_call()), "Sunny.")
    first = complete("tools-scripted", tools=[WEATHER], tool_choice="auto")
    [call] = json_of(http.call(first))["result"]["message"]["content"]
    result = {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}
    calls = [
        {"id": call["id"], "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}
    ]
    second = complete("tools-scripted", [ASK, {"role": "assistant", "content": None, "tool_calls": calls}, result])
    json_of(http.call(second))
    assert [record.body for record in http.server.state.requests] == [first, second]
    logged = json_of(http.client.get("/__fake__/requests"))["requests"]
    assert logged[0]["body"]["args"]["tools"] == [WEATHER] and logged[1]["body"]["args"]["messages"][2] == result


def test_the_control_api_scripts_the_model(http: Http) -> None:
    reply = {"text": "Look:", "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}], "repeat": False}
    state = json_of(http.client.post("/__fake__/script", json={"replies": [reply, "Done."]}))
    assert state["served"] == 0 and [r["text"] for r in state["pending"]] == ["Look:", "Done."]
    assert state["pending"][0]["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": None}]
    message = json_of(http.call(complete("tools-scripted")))["result"]["message"]
    assert [block["type"] for block in message["content"]] == ["text", "tool_use"]
    assert json_of(http.client.get("/__fake__/script"))["served"] == 1
    assert json_of(http.client.delete("/__fake__/script")) == {"pending": [], "served": 0}


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        ({"tool_calls": [{"arguments": {}}]}, "each tool call needs a `name` (a non-empty string)"),
        ({"txt": "hi"}, "unknown scripted reply field(s): txt"),
        ({}, "a scripted reply needs `text` or `tool_calls`"),
        ({"tool_calls": [{"name": "f", "args": {}}]}, "unknown tool call field(s): args"),
    ],
)
def test_the_control_api_refuses_a_reply_it_cannot_play(http: Http, reply: dict[str, Any], message: str) -> None:
    response = http.client.post("/__fake__/script", json=[{"text": "kept out too"}, reply])
    assert json_of(response, 400) == err(message, "bad_request")
    assert http.server.state.script.pending == [], "all or nothing"


def test_reset_empties_the_script(http: Http) -> None:
    script(http.server, "one")
    assert json_of(http.client.post("/__fake__/reset")) == {"ok": True}
    assert http.server.state.script.pending == []


@pytest.mark.parametrize(
    ("text", "node"),  # what Node 20.20's JSON.parse said for each text
    [
        ('{"city": Paris}', 'Unexpected token \'P\', "{"city": Paris}" is not valid JSON'),
        ('{"city": "Par', "Unterminated string in JSON at position 13"),
        ("{city:1}", "Expected property name or '}' in JSON at position 1"),
        ('{"a":1,}', "Expected double-quoted property name in JSON at position 7"),
        ("", "Unexpected end of JSON input"),
    ],
)
def test_parse_errors_read_like_nodes(text: str, node: str) -> None:
    assert v8_json_error(text) == node


def test_compact_arguments_are_what_javascript_writes() -> None:
    assert (
        ScriptedCall("f", {"city": "Zürich", "n": [1, 2]}).arguments_text
        == compact({"city": "Zürich", "n": [1, 2]}).decode()
    )
