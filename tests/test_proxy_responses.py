"""`/v1/responses` through the proxy, judged by the real openai SDK over real sockets: text, streaming (the SDK's
`responses.stream()` helper and raw `stream=True`), a function-tool loop, instructions, images, reasoning summaries,
usage, refused parameters and failures.

Upstream is the local Puter server (its request log shows what reached "Puter"; `tools-scripted` calls tools as
Puter's Claude path does) or, where a reply must carry reasoning, exact usage or a failure, the in-memory provider.
"""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest
from proxies import chat_calls, sdk

from puter_magic.datatypes import ReasoningDelta, Usage
from puter_magic.errors import ServerError, StreamFailed
from puter_magic.testing.media import png_image
from puter_magic.testing.scripted import ScriptedCall, ScriptedReply

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
QUESTION = {"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."}
RESULT = '{"temp_c": 18, "sky": "cloudy"}'
TEXT_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


def squeezed(types: list[str]) -> list[str]:
    """Event types with runs of the same delta type counted once."""
    return [kind for index, kind in enumerate(types) if index == 0 or kind != types[index - 1]]


def test_a_text_answer_with_instructions_and_usage(puter_proxy, puter_server):
    with sdk(puter_proxy) as client:
        response = client.responses.create(model="echo", instructions="Answer briefly.", input="Say hello back")
    assert (response.status, response.output_text) == ("completed", "Say hello back")
    assert response.id.startswith("resp_") and response.instructions == "Answer briefly."
    usage = response.usage
    assert usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert usage.input_tokens_details.cached_tokens == 0
    (args,) = chat_calls(puter_server)
    assert args["messages"] == [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "Say hello back"},
    ]


def test_the_sdks_stream_helper_gets_openais_event_sequence(puter_proxy):
    with sdk(puter_proxy) as client, client.responses.stream(model="echo", input="one two three") as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert squeezed([event.type for event in events]) == TEXT_EVENTS
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = "".join(event.delta for event in events if event.type == "response.output_text.delta")
    assert deltas == final.output_text == "one two three"
    assert final.status == "completed" and final.usage.total_tokens > 0


def test_raw_streaming_events_carry_ids_that_agree(puter_proxy):
    with sdk(puter_proxy) as client:
        events = list(client.responses.create(model="echo", input="hi there", stream=True))
    created, completed = events[0], events[-1]
    assert created.type == "response.created" and completed.type == "response.completed"
    assert created.response.id == completed.response.id and created.response.status == "in_progress"
    (message,) = completed.response.output
    item_ids = {event.item_id for event in events if hasattr(event, "item_id")}
    assert item_ids == {message.id} and message.content[0].text == "hi there"


@pytest.mark.parametrize("stream", [False, True])
def test_a_function_tool_loop_with_function_call_output(puter_proxy, puter_server, stream):
    puter_server.state.script.enqueue(
        ScriptedReply.calling(ScriptedCall("get_weather", {"city": "Paris"})), "18 C and cloudy in Paris."
    )

    def ask(client: openai.OpenAI, items: list) -> openai.types.responses.Response:
        options = {"model": "tools-scripted", "input": items, "tools": [WEATHER]}
        if not stream:
            return client.responses.create(**options)
        with client.responses.stream(**options) as events:
            return events.get_final_response()

    with sdk(puter_proxy) as client:
        first = ask(client, [QUESTION])
        (call,) = [item for item in first.output if item.type == "function_call"]
        assert (call.name, json.loads(call.arguments)) == ("get_weather", {"city": "Paris"})
        answer = {"type": "function_call_output", "call_id": call.call_id, "output": RESULT}
        second = ask(client, [QUESTION, *[item.model_dump(exclude_none=True) for item in first.output], answer])
    assert second.output_text == "18 C and cloudy in Paris."
    tools_sent, history = chat_calls(puter_server)[0]["tools"], chat_calls(puter_server)[1]["messages"]
    assert tools_sent == [{"type": "function", "function": {k: v for k, v in WEATHER.items() if k != "type"}}]
    assert history[1]["role"] == "assistant" and history[1]["tool_calls"][0]["id"] == call.call_id
    assert json.loads(history[1]["tool_calls"][0]["function"]["arguments"]) == {"city": "Paris"}
    assert history[2] == {"role": "tool", "content": RESULT, "tool_call_id": call.call_id}


def test_an_input_image_reaches_the_server_as_an_image_part(puter_proxy, puter_server):
    png = png_image(4, 3, "a tiny picture")
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    content = [{"type": "input_text", "text": "What is in this picture?"}, {"type": "input_image", "image_url": url}]
    with sdk(puter_proxy) as client:
        client.responses.create(model="echo", input=[{"role": "user", "content": content}])
    (image,) = puter_server.state.last_image_parts()
    assert (image.kind, image.media_type, image.data) == ("image_url", "image/png", png)
    (args,) = chat_calls(puter_server)
    assert args["messages"][0]["content"][0] == {"type": "text", "text": "What is in this picture?"}


def test_a_json_schema_text_format_is_carried_as_chats_response_format(puter_proxy, puter_server):
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    text = {"format": {"type": "json_schema", "name": "person", "schema": schema}}
    puter_server.state.script.enqueue('{"name": "Ada"}')
    with sdk(puter_proxy) as client:
        response = client.responses.create(model="tools-scripted", input="Name someone", text=text)
    (args,) = chat_calls(puter_server)
    assert args["text"] == {"format": {"type": "json_schema", "name": "person", "schema": schema}}
    assert response.text.format.type == "json_schema" and response.output_text == '{"name": "Ada"}'


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_becomes_a_reasoning_summary_and_usage_is_the_providers(memory_proxy, memory_provider, stream):
    memory_provider.enqueue(
        ReasoningDelta("Six times seven. "), ReasoningDelta("Easy."), "42", Usage(12, 5, cached_tokens=4)
    )
    with sdk(memory_proxy) as client:
        if stream:
            with client.responses.stream(model="memory-model", input="6 x 7?") as events:
                types = squeezed([event.type for event in events])
                response = events.get_final_response()
            assert types[2:8] == [
                "response.output_item.added",
                "response.reasoning_summary_part.added",
                "response.reasoning_summary_text.delta",
                "response.reasoning_summary_text.done",
                "response.reasoning_summary_part.done",
                "response.output_item.done",
            ]
        else:
            response = client.responses.create(model="memory-model", input="6 x 7?")
    reasoning, _ = response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == "Six times seven. Easy."
    assert response.output_text == "42"
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (12, 5, 17)
    assert usage.input_tokens_details.cached_tokens == 4


def test_a_reasoning_item_sent_back_in_input_goes_upstream_as_reasoning_content(memory_proxy, memory_provider):
    items = [
        {"role": "user", "content": "6 x 7?"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Easy."}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "42", "annotations": []}]},
        {"role": "user", "content": "And 6 x 8?"},
    ]
    with sdk(memory_proxy) as client:
        client.responses.create(model="memory-model", input=items)
    sent = memory_provider.requests[-1].messages
    assert [(m.role, m.text, m.reasoning_content) for m in sent] == [
        ("user", "6 x 7?", None),
        ("assistant", "42", "Easy."),
        ("user", "And 6 x 8?", None),
    ]


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"previous_response_id": "resp_123"}, "previous_response_id"),
        ({"conversation": "conv_123"}, "conversation"),
        ({"background": True}, "background"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"include": ["message.output_text.logprobs"]}, "include"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"text": {"format": {"type": "yaml"}}}, "text.format.type"),
    ],
)
def test_what_cannot_be_served_is_a_400_naming_the_param_and_nothing_goes_upstream(
    puter_proxy, puter_server, options, param
):
    with sdk(puter_proxy) as client, pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(**({"model": "echo", "input": "hi"} | options))
    assert caught.value.status_code == 400 and caught.value.param == param
    assert caught.value.body["message"]
    assert chat_calls(puter_server) == []


def test_previous_response_id_is_refused_saying_what_to_do(puter_proxy):
    with sdk(puter_proxy) as client, pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="echo", input="and then?", previous_response_id="resp_abc")
    message = caught.value.body["message"]
    assert "previous_response_id" in message and "send the whole conversation in `input`" in message


def test_a_failure_before_the_first_event_keeps_its_http_status(memory_proxy, memory_provider):
    memory_provider.enqueue(ServerError("the upstream is down"))
    with sdk(memory_proxy) as client, pytest.raises(openai.APIStatusError) as caught:
        list(client.responses.create(model="memory-model", input="hi", stream=True))
    assert caught.value.status_code == 502 and caught.value.body["code"] == "upstream_error"


def test_a_failure_mid_stream_is_an_error_event_then_response_failed(memory_proxy, memory_provider):
    memory_provider.enqueue("half an ans", StreamFailed("the model stopped", partial="half an ans"))
    with sdk(memory_proxy) as client:
        events = list(client.responses.create(model="memory-model", input="hi", stream=True))
    error, failed = events[-2:]
    assert (error.type, error.code) == ("error", "upstream_stream_failed") and "the model stopped" in error.message
    assert failed.type == "response.failed" and failed.response.status == "failed"
    assert failed.response.error.code == "server_error" and "the model stopped" in failed.response.error.message
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "half an ans"
    assert [event.sequence_number for event in events] == list(range(len(events)))


@pytest.mark.parametrize("path", ["/responses", "/v1//responses/"])
def test_the_path_without_v1_or_with_extra_slashes_reaches_responses(puter_proxy, path):
    headers = {"Authorization": f"Bearer {puter_proxy.key}"}
    with httpx.Client(base_url=puter_proxy.url, timeout=10) as http:
        answered = http.post(path, json={"model": "echo", "input": "hi"}, headers=headers)
    assert answered.status_code == 200 and answered.json()["object"] == "response"
