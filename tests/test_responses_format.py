"""The pure translation of `/v1/responses`: request bodies to ChatRequests, and stream events to Responses events."""

from __future__ import annotations

import json

import pytest

from puter_magic.datatypes import Completion, Finished, Message, TextDelta, ToolCall, Usage
from puter_magic.server.openai_errors import InvalidRequest
from puter_magic.server.responses_format import ResponseEventWriter, response_object
from puter_magic.server.responses_request import parse_responses_request
from puter_magic.wire import jsontext


def parse(**body):
    return parse_responses_request({"model": "m"} | body)


def test_a_string_input_is_one_user_message_after_the_instructions():
    call = parse(input="hello", instructions="be kind", stream=True)
    assert call.request.messages == (Message("system", "be kind"), Message("user", "hello"))
    assert call.stream and call.echo["instructions"] == "be kind"


def test_items_become_chat_messages_with_calls_and_reasoning_joined_to_their_assistant_turn():
    items = [
        {"role": "developer", "content": "rules"},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "<task>"}, {"type": "input_text", "text": "<env>"}],
        },
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}]},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Looking.", "annotations": []}],
        },
        {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1}'},
        {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "one"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "two"}]},
    ]
    system, user, assistant, first, second = parse(input=items).request.messages
    assert system == Message("system", "rules")
    assert user.content == [{"type": "text", "text": "<task>"}, {"type": "text", "text": "<env>"}]
    assert (assistant.role, assistant.content, assistant.reasoning_content) == ("assistant", "Looking.", "think")
    assert [(c.id, c.name, c.arguments) for c in assistant.tool_calls] == [("c1", "f", {"a": 1}), ("c2", "g", {})]
    assert (first.role, first.tool_call_id, first.content) == ("tool", "c1", "one")
    assert second.content == [{"type": "text", "text": "two"}]


def test_two_assistant_messages_in_a_row_stay_two_turns():
    items = [
        {"role": "assistant", "content": "one"},
        {"role": "assistant", "content": "two"},
        {"role": "user", "content": "three"},
    ]
    assert [m.text for m in parse(input=items).request.messages] == ["one", "two", "three"]


def test_an_input_image_is_a_chat_image_part_with_its_detail():
    part = {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}
    (message,) = parse(input=[{"role": "user", "content": [part]}]).request.messages
    assert message.content == [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}}
    ]


def test_function_tools_tool_choice_and_text_format_are_translated_to_chats_shapes():
    tool = {"type": "function", "name": "f", "description": "d", "parameters": {"type": "object"}, "strict": True}
    schema_format = {"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": True}
    call = parse(
        input="hi",
        tools=[tool],
        tool_choice={"type": "function", "name": "f"},
        text={"format": schema_format, "verbosity": "low"},
        reasoning={"effort": "high", "summary": "auto"},
        max_output_tokens=50,
        user="me",
    )
    request = call.request
    assert request.tools == ({"type": "function", "function": {k: v for k, v in tool.items() if k != "type"}},)
    assert request.tool_choice == {"type": "function", "function": {"name": "f"}}
    assert request.response_format == {
        "type": "json_schema",
        "json_schema": {k: v for k, v in schema_format.items() if k != "type"},
    }
    assert (request.verbosity, request.reasoning_effort, request.max_tokens, request.user) == ("low", "high", 50, "me")
    assert call.echo["text"]["format"] == schema_format and call.echo["tools"] == [tool]
    assert parse(input="hi", text={"format": {"type": "text"}}).request.response_format is None
    assert parse(input="hi", text={"format": {"type": "json_object"}}).request.response_format == {
        "type": "json_object"
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi", "previous_response_id": "resp_1"}, "previous_response_id"),
        ({"input": []}, "input"),
        ({"input": 3}, "input"),
        ({"input": [{"role": "critic", "content": "x"}]}, "input[0].role"),
        ({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}, "input[0].call_id"),
        ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
            "input[0].content[0].type",
        ),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
            "input[0].content[0].file_id",
        ),
        ({"input": "hi", "tools": [{"type": "file_search"}]}, "tools[0].type"),
        ({"input": "hi", "tool_choice": {"type": "web_search"}}, "tool_choice"),
        ({"input": "hi", "text": {"format": {"type": "json_schema", "name": "x"}}}, "text.format.schema"),
        ({"input": "hi", "max_output_tokens": 0}, "max_output_tokens"),
        ({"input": "hi", "reasoning": {"effort": 3}}, "reasoning.effort"),
        ({"input": "hi", "model": ""}, "model"),
    ],
)
def test_what_cannot_be_served_names_its_param(body, param):
    with pytest.raises(InvalidRequest) as caught:
        parse_responses_request({"model": "m"} | body)
    assert caught.value.param == param and caught.value.status == 400


def written(events) -> tuple[list[dict], ResponseEventWriter]:
    writer = ResponseEventWriter(parse(input="hi"), created_at=1)
    out = writer.start()
    for event in events:
        out += writer.feed(event)
    return out, writer


def test_an_emoji_split_between_two_deltas_goes_out_whole():
    out, _ = written([TextDelta("a\ud83d"), TextDelta("\ude00b"), Finished()])
    sent = [json.loads(jsontext.dumps(e)) for e in out]  # as the proxy encodes them
    assert [e["delta"] for e in sent if e["type"] == "response.output_text.delta"] == ["a", "\U0001f600b"]
    assert sent[-1]["response"]["output"][0]["content"][0]["text"] == "a\U0001f600b"


def test_a_tool_call_after_text_closes_the_message_then_streams_its_arguments_whole():
    out, _ = written([TextDelta("Let me look."), ToolCall("c1", "f", {"a": 1}, '{"a":1}'), Finished()])
    kinds = [e["type"] for e in out]
    assert kinds[kinds.index("response.output_item.done") + 1 :] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    _, call = out[-1]["response"]["output"]
    assert (call["call_id"], call["name"], call["arguments"], call["status"]) == ("c1", "f", '{"a":1}', "completed")
    assert [e["output_index"] for e in out if e["type"].startswith("response.function_call")] == [1, 1]


def test_an_answer_cut_by_max_output_tokens_ends_incomplete_with_estimated_usage():
    out, _ = written([TextDelta("abcd" * 5), Finished(finish_reason="length")])
    final = out[-1]
    assert final["type"] == "response.incomplete"
    assert final["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert final["response"]["usage"]["output_tokens"] == 5 and final["response"]["usage"]["estimated"] is True


def test_a_failure_after_some_text_is_an_error_event_then_response_failed_and_then_nothing():
    out, writer = written([TextDelta("half")])
    error = {"message": "cut", "type": "server_error", "param": None, "code": "upstream_stream_failed"}
    failed = writer.fail(error)
    assert [e["type"] for e in failed] == ["error", "response.failed"]
    assert failed[0]["code"] == "upstream_stream_failed"
    assert failed[1]["response"]["error"] == {"code": "server_error", "message": "cut"}
    assert [e["sequence_number"] for e in out + failed] == list(range(len(out) + 2))
    assert writer.feed(TextDelta("more")) == [] and writer.finish() == []


def test_a_whole_response_lists_reasoning_then_text_then_calls_and_no_empty_message_beside_calls():
    call = parse(input="hi")
    calls = (ToolCall("c1", "f", {}),)
    only_calls = response_object(Completion("", "m", Usage(3, 2), "tool_use", tool_calls=calls), call, created_at=1)
    assert [item["type"] for item in only_calls["output"]] == ["function_call"]
    assert only_calls["status"] == "completed" and only_calls["usage"]["total_tokens"] == 5
    full = response_object(Completion("ok", "m2", Usage(1, 1), reasoning="hm", tool_calls=calls), call, created_at=1)
    assert [item["type"] for item in full["output"]] == ["reasoning", "message", "function_call"]
    assert full["model"] == "m2" and full["store"] is False and full["previous_response_id"] is None
