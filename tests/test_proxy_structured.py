"""Structured output through the proxy, judged by the real openai SDK over real sockets (issue 19).

Puter's models mostly ignore `response_format`, so for the Puter provider the proxy enforces it (core/structured.py):
the format still goes upstream (`text.format`, `outputFormat`), the instruction joins the prompt, the answer is
checked, a misfit is asked again once, and the client gets the JSON that fits — or a 502 naming `response_format`.
Upstream is the local Puter server's scripted model (`tools-scripted`: its request log shows what reached "Puter");
a provider that honours the format itself (the in-memory one, flagged) gets the request as the client sent it.
"""

from __future__ import annotations

import json

import openai
import pytest
from proxies import chat_calls, sdk

ADA = {"name": "Ada Lovelace", "age": 36}
PROSE = "Ada Lovelace was an English mathematician; she died at 36."
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA}}
QUESTION = [{"role": "user", "content": "Who is Ada?"}]


def ask(proxy, stream: bool, response_format=JSON_SCHEMA) -> str:
    with sdk(proxy) as client:
        if not stream:
            answer = client.chat.completions.create(
                model="tools-scripted", messages=QUESTION, response_format=response_format
            )
            return answer.choices[0].message.content
        chunks = client.chat.completions.create(
            model="tools-scripted", messages=QUESTION, response_format=response_format, stream=True
        )
        return "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)


@pytest.mark.parametrize("stream", [False, True])
def test_prose_then_json_the_client_gets_the_json_and_puter_was_asked_twice(puter_proxy, puter_server, stream):
    puter_server.state.script.enqueue(PROSE, json.dumps(ADA))
    assert json.loads(ask(puter_proxy, stream)) == ADA
    first, second = chat_calls(puter_server)
    assert first["text"] == {"format": {"type": "json_schema", "name": "person", "schema": SCHEMA}}
    assert first["outputFormat"] == first["text"]["format"]
    (asked,) = first["messages"]
    assert asked["content"].startswith("Who is Ada?\n\nAnswer with JSON only")
    assert second["messages"][1] == {"role": "assistant", "content": PROSE}
    assert second["messages"][2]["content"].startswith("That answer does not fit: the answer: not valid JSON")


@pytest.mark.parametrize("stream", [False, True])
def test_json_at_once_is_one_request(puter_proxy, puter_server, stream):
    puter_server.state.script.enqueue("```json\n" + json.dumps(ADA) + "\n```")
    assert "Ada Lovelace" in ask(puter_proxy, stream)
    assert len(chat_calls(puter_server)) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_never_valid_is_a_502_naming_response_format(puter_proxy, puter_server, stream):
    puter_server.state.script.enqueue(PROSE, '{"name": "Ada"}')
    with pytest.raises(openai.APIStatusError) as caught:
        ask(puter_proxy, stream)
    assert caught.value.status_code == 502
    error = caught.value.body
    assert (error["param"], error["code"]) == ("response_format", "response_format_unmet")
    assert error["message"] == (
        'response_format was not met: the answer does not fit person, even when asked again: missing required "age"'
    )
    assert len(chat_calls(puter_server)) == 2


def test_json_object_must_parse_as_an_object(puter_proxy, puter_server):
    puter_server.state.script.enqueue("[1, 2]", '{"ok": true}')
    assert json.loads(ask(puter_proxy, False, {"type": "json_object"})) == {"ok": True}
    first, second = chat_calls(puter_server)
    assert first["text"] == {"format": {"type": "json_object"}}
    assert second["messages"][2]["content"].startswith("That answer does not fit: expected a JSON object, got [1, 2]")


@pytest.mark.parametrize("stream", [False, True])
def test_the_responses_api_text_format_is_enforced_too(puter_proxy, puter_server, stream):
    puter_server.state.script.enqueue(PROSE, json.dumps(ADA))
    text = {"format": {"type": "json_schema", "name": "person", "schema": SCHEMA}}
    with sdk(puter_proxy) as client:
        if stream:
            with client.responses.stream(model="tools-scripted", input="Who is Ada?", text=text) as events:
                response = events.get_final_response()
        else:
            response = client.responses.create(model="tools-scripted", input="Who is Ada?", text=text)
    assert json.loads(response.output_text) == ADA
    assert len(chat_calls(puter_server)) == 2


def test_a_provider_that_honours_the_format_gets_the_request_as_sent(memory_proxy, memory_provider):
    memory_provider.structured_output = True
    memory_provider.enqueue(PROSE)  # not checked: the server itself is trusted to honour the format
    with sdk(memory_proxy) as client:
        answer = client.chat.completions.create(model="memory-model", messages=QUESTION, response_format=JSON_SCHEMA)
    assert answer.choices[0].message.content == PROSE
    (request,) = memory_provider.requests
    assert request.messages[-1].content == "Who is Ada?" and request.response_format == JSON_SCHEMA
