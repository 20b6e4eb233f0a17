"""The proxy's pure translation layer: request validation, answer shapes, the error table."""

from __future__ import annotations

import json

import pytest

from puter_magic import errors
from puter_magic.datatypes import (
    ChatRequest,
    Completion,
    Finished,
    Message,
    ModelInfo,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    Usage,
)
from puter_magic.server import openai_format as fmt
from puter_magic.wire import jsontext

USER = {"role": "user", "content": "hi"}


def body(**fields):
    return {"model": "echo", "messages": [USER], **fields}


# --- requests -------------------------------------------------------------------------------------


def test_a_minimal_request_becomes_a_chat_request():
    call = fmt.parse_chat_request(body())
    assert call == fmt.ChatCall(ChatRequest((Message("user", "hi"),), "echo"), stream=False, include_usage=False)


def test_every_supported_field_is_carried():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    call = fmt.parse_chat_request(
        body(
            model=" gpt-x:free ",
            temperature=0.5,
            top_p=1,
            max_tokens=10,
            max_completion_tokens=20,
            stop="END",
            seed=7,
            tools=tools,
            tool_choice="auto",
            parallel_tool_calls=False,
            stream=True,
            stream_options={"include_usage": True},
            n=1,
            user="someone",
            frequency_penalty=0.1,
            presence_penalty=-0.5,
            logit_bias={"50256": -100},
            reasoning_effort="high",
            verbosity="low",
            response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}}},
            logprobs=False,
            metadata={"run": "1"},
            store=False,
        )
    )
    request = call.request
    assert (request.model, request.temperature, request.top_p, request.max_tokens) == ("gpt-x:free", 0.5, 1.0, 20)
    assert (request.stop, request.seed, request.tools) == (("END",), 7, tuple(tools))
    assert (request.tool_choice, request.parallel_tool_calls) == ("auto", False)
    assert (request.reasoning_effort, request.verbosity, request.user) == ("high", "low", "someone")
    assert (request.frequency_penalty, request.presence_penalty, request.logit_bias) == (0.1, -0.5, {"50256": -100})
    assert request.response_format == {
        "type": "json_schema",
        "json_schema": {"name": "p", "schema": {"type": "object"}},
    }
    assert request.extra == {}
    assert call.stream and call.include_usage


def test_a_text_response_format_is_the_default_and_json_object_is_carried():
    assert fmt.parse_chat_request(body(response_format={"type": "text"})).request.response_format is None
    json_object = fmt.parse_chat_request(body(response_format={"type": "json_object"})).request
    assert json_object.response_format == {"type": "json_object"}


def test_include_usage_only_counts_for_streams():
    assert fmt.parse_chat_request(body(stream_options={"include_usage": True})).include_usage is False


CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}


def test_content_parts_roles_tool_history_and_stop_lists():
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}
    task = [{"type": "text", "text": "<task>a</task>"}, {"type": "text", "text": "<environment_details>"}]
    call = fmt.parse_chat_request(
        body(
            messages=[
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": task},
                {"role": "assistant", "content": None, "tool_calls": [CALL], "reasoning_content": "needs weather"},
                {"role": "tool", "content": "18 C", "tool_call_id": "call_1"},
                {"role": "user", "content": [{"type": "text", "text": "look"}, image], "name": "ann"},
            ],
            stop=["x", "y"],
        )
    )
    messages = call.request.messages
    assert [m.role for m in messages] == ["system", "user", "assistant", "tool", "user"]
    assert messages[1].content == task  # the parts stay apart, not glued into "ab"
    assert [messages[2].content, messages[3].content] == ["", "18 C"]
    assert messages[2].tool_calls == (ToolCall("call_1", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),)
    assert messages[2].reasoning_content == "needs weather"
    assert messages[3].tool_call_id == "call_1"
    assert (messages[4].content, messages[4].name) == ([{"type": "text", "text": "look"}, image], "ann")
    assert call.request.stop == ("x", "y")
    # and out again, as the upstream reads them: content "" (never null) beside the calls, arguments as sent
    assert messages[2].to_dict() == {
        "role": "assistant",
        "content": "",
        "tool_calls": [CALL],
        "reasoning_content": "needs weather",
    }
    assert messages[3].to_dict() == {"role": "tool", "content": "18 C", "tool_call_id": "call_1"}


def test_tool_call_arguments_as_an_object_or_as_text_that_is_not_json_are_carried():
    calls = [
        {"id": "a", "function": {"name": "f", "arguments": {"x": 1}}},
        {"id": "b", "function": {"name": "g", "arguments": "{not json"}},
    ]
    message = fmt.parse_chat_request(body(messages=[{"role": "assistant", "tool_calls": calls}])).request.messages[0]
    assert [(c.arguments, c.arguments_json) for c in message.tool_calls] == [({"x": 1}, '{"x": 1}'), ({}, "{not json")]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"function_call": "auto"}, "function_call"),
        ({"audio": {"voice": "alloy"}}, "audio"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"web_search_options": {}}, "web_search_options"),
        (
            {"messages": [{"role": "assistant", "content": "", "function_call": {"name": "f"}}]},
            "messages[0].function_call",
        ),
    ],
)
def test_what_would_change_the_answer_and_cannot_be_served_is_refused_by_name(fields, param):
    with pytest.raises(fmt.InvalidRequest) as caught:
        fmt.parse_chat_request(body(**fields))
    assert (caught.value.status, caught.value.param, caught.value.code) == (400, param, "unsupported_parameter")


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"),
        ({"model": ""}, "model"),
        ({"model": 3}, "model"),
        ({"messages": []}, "messages"),
        ({"messages": "hi"}, "messages"),
        ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"text": "x"}]}]}, "messages[0].content[0]"),
        ({"messages": [{"role": "user", "content": [{"type": "text"}]}]}, "messages[0].content[0].text"),
        ({"temperature": 3}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"temperature": True}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 1.5}, "max_tokens"),
        ({"max_completion_tokens": 10**40}, "max_completion_tokens"),
        ({"seed": "1"}, "seed"),
        ({"stop": [1]}, "stop"),
        ({"n": 2}, "n"),
        ({"n": True}, "n"),
        ({"stream": "yes"}, "stream"),
        ({"stream_options": []}, "stream_options"),
        ({"stream_options": {"include_usage": 1}}, "stream_options.include_usage"),
        ({"tools": {"type": "function"}}, "tools"),
        ({"tool_choice": 1}, "tool_choice"),
        ({"messages": [{"role": "function", "content": "x", "name": "f"}]}, "messages[0].role"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "assistant", "tool_calls": {"id": "1"}}]}, "messages[0].tool_calls"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "1"}]}]}, "messages[0].tool_calls[0]"),
        (
            {"messages": [{"role": "assistant", "tool_calls": [{"id": "1", "function": {"arguments": "{}"}}]}]},
            "messages[0].tool_calls[0].function.name",
        ),
        (
            {
                "messages": [
                    {"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": 1}}]}
                ]
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
        ({"response_format": "json"}, "response_format"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        ({"reasoning_effort": 3}, "reasoning_effort"),
        ({"verbosity": ["low"]}, "verbosity"),
        ({"frequency_penalty": 2.5}, "frequency_penalty"),
        ({"presence_penalty": "x"}, "presence_penalty"),
        ({"logit_bias": {"1": 200}}, "logit_bias"),
        ({"logit_bias": [1]}, "logit_bias"),
        ({"user": 5}, "user"),
        ({"messages": [{"role": "user", "content": "x", "name": 5}]}, "messages[0].name"),
    ],
)
def test_invalid_fields_are_named(fields, param):
    with pytest.raises(fmt.InvalidRequest) as caught:
        fmt.parse_chat_request(body(**fields))
    assert (caught.value.status, caught.value.param) == (400, param)
    reply = fmt.error_reply(caught.value)
    assert reply.status == 400
    assert reply.body["error"]["type"] == "invalid_request_error" and reply.body["error"]["param"] == param


@pytest.mark.parametrize("value", [None, [], "text", 1, True])
def test_a_body_that_is_not_an_object_is_refused(value):
    with pytest.raises(fmt.InvalidRequest, match="JSON object"):
        fmt.parse_chat_request(value)


@pytest.mark.parametrize(
    "raw", [b"", b"{", b'{"model": NaN}', b"[Infinity]", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000]
)
def test_bodies_that_are_not_strict_json_are_refused(raw):
    with pytest.raises(fmt.InvalidRequest) as caught:
        fmt.parse_body(raw)
    assert caught.value.code == "invalid_json"


def test_json_bodies_parse():
    assert fmt.parse_body('{"a": [1, 2.5, "é"]}'.encode()) == {"a": [1, 2.5, "é"]}


# --- answers --------------------------------------------------------------------------------------

REQUEST = ChatRequest((Message("system", "abcd"), Message("user", "efgh")), "m")


def test_a_completion_object_with_reported_usage():
    completion = Completion("hello", "m-used", Usage(3, 2), "end_turn")
    obj = fmt.completion_object(completion, REQUEST, created=123, id="chatcmpl-x")
    assert obj == {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 123,
        "model": "m-used",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "hello"},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def test_a_completion_with_tool_calls_and_reasoning_and_no_usage_is_estimated():
    call = ToolCall("call_1", "lookup", {"q": "x"})
    completion = Completion("", "m", Usage(), "tool_use", reasoning="think", tool_calls=(call,))
    obj = fmt.completion_object(completion, REQUEST, created=1)
    assert obj["id"].startswith("chatcmpl-")
    choice = obj["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None and choice["message"]["reasoning_content"] == "think"
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"q": "x"}'}}
    ]
    assert obj["usage"]["estimated"] is True
    assert obj["usage"]["prompt_tokens"] == 2  # 8 characters


def test_tool_call_arguments_go_out_as_the_model_wrote_them_and_cache_reads_are_reported():
    call = ToolCall("c", "f", {}, '{"a":1, "b" : 2}')
    usage = Usage(input_tokens=100, output_tokens=5, cached_tokens=80)
    obj = fmt.completion_object(Completion("", "m", usage, "tool_calls", tool_calls=(call,)), REQUEST, created=1)
    assert obj["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == '{"a":1, "b" : 2}'
    assert obj["usage"] == {
        "prompt_tokens": 100,
        "completion_tokens": 5,
        "total_tokens": 105,
        "prompt_tokens_details": {"cached_tokens": 80},
    }


@pytest.mark.parametrize(
    ("raw", "tools", "expected"),
    [
        ("stop", False, "stop"),
        ("end_turn", False, "stop"),
        ("max_tokens", False, "length"),
        ("length", False, "length"),
        ("tool_use", True, "tool_calls"),
        ("stop", True, "tool_calls"),  # Puter's Claude path and its tool_use stream lines say "stop"
        ("max_tokens", True, "length"),
        (None, True, "tool_calls"),
        (None, False, "stop"),
        ("weird", False, "stop"),
        ("content_filter", False, "content_filter"),
    ],
)
def test_finish_reasons(raw, tools, expected):
    assert fmt.finish_reason(raw, tool_calls=tools) == expected


def test_usage_is_estimated_only_where_the_provider_said_nothing():
    assert fmt.usage_object(Usage(10, 5), prompt_chars=400, completion_chars=4) == {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
    }
    assert fmt.usage_object(Usage(10, None), prompt_chars=400, completion_chars=9) == {
        "prompt_tokens": 10,
        "completion_tokens": 3,
        "total_tokens": 13,
        "estimated": True,
    }
    assert fmt.usage_object(Usage(1, 1, estimated=True), prompt_chars=0, completion_chars=0)["estimated"] is True


def test_chunks_of_a_stream_with_usage():
    writer = fmt.ChunkWriter(REQUEST, created=5, include_usage=True, id="chatcmpl-s")
    first = writer.start()
    assert first == {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 5,
        "model": "m",
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        ],
    }
    chunks = [
        *writer.feed(TextDelta("Hel")),
        *writer.feed(TextDelta("")),
        *writer.feed(ReasoningDelta("hmm")),
        *writer.feed(TextDelta("lo")),
        *writer.feed(Finished(Usage(4, None), "stop", "m")),
    ]
    deltas = [chunk["choices"][0]["delta"] if chunk["choices"] else None for chunk in chunks]
    assert deltas == [{"content": "Hel"}, {"reasoning_content": "hmm"}, {"content": "lo"}, {}, None]
    assert chunks[3]["choices"][0]["finish_reason"] == "stop"
    assert chunks[4]["usage"] == {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6, "estimated": True}
    assert {chunk["id"] for chunk in chunks} == {"chatcmpl-s"}
    assert writer.feed(TextDelta("late")) == [] and writer.finish() == []


def test_chunks_of_a_stream_with_a_tool_call_and_no_usage_chunk():
    writer = fmt.ChunkWriter(REQUEST, created=5)
    (call,) = writer.feed(ToolCall("c1", "f", {"a": 1}))
    assert call["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    ]
    closing = writer.finish()  # a stream that ended without a Finished event
    assert len(closing) == 1 and closing[0]["choices"][0]["finish_reason"] == "tool_calls"


def test_model_objects():
    models = [ModelInfo("a/b:free", provider="openrouter"), ModelInfo("c")]
    assert fmt.model_list(models, "puter") == {
        "object": "list",
        "data": [
            {"id": "a/b:free", "object": "model", "created": 0, "owned_by": "openrouter"},
            {"id": "c", "object": "model", "created": 0, "owned_by": "puter"},
        ],
    }


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "kind", "code"),
    [
        (errors.ModelNotFound("Model not found: x", status_code=400), 404, "invalid_request_error", "model_not_found"),
        (
            errors.BadRequest("bad", status_code=400, code="field_invalid"),
            400,
            "invalid_request_error",
            "field_invalid",
        ),
        (errors.InputError("no"), 400, "invalid_request_error", None),
        (errors.NotLoggedIn("not logged in"), 502, "server_error", "upstream_auth_failed"),
        (errors.TokenRejected("expired", status_code=401), 502, "server_error", "upstream_auth_failed"),
        (errors.ReauthRequired("again", status_code=401), 502, "server_error", "upstream_auth_failed"),
        (errors.VerificationRequired("confirm", status_code=403), 403, "permission_error", "permission_denied"),
        (errors.InsufficientFunds("broke", status_code=402), 402, "insufficient_quota", "insufficient_quota"),
        (errors.RateLimited("slow down", status_code=429), 429, "rate_limit_error", "rate_limit_exceeded"),
        (errors.NotFound("Driver not found", status_code=404), 502, "server_error", "upstream_not_found"),
        (errors.Timeout("slow"), 504, "server_error", "upstream_timeout"),
        (errors.StreamTimeout("silent"), 504, "server_error", "upstream_timeout"),
        (errors.ConnectionFailed("refused"), 502, "server_error", "upstream_unreachable"),
        (errors.StreamTruncated("cut"), 502, "server_error", "upstream_stream_failed"),
        (errors.StreamFailed("failed"), 502, "server_error", "upstream_stream_failed"),
        (errors.ServerError("boom", status_code=503), 502, "server_error", "upstream_error"),
        (errors.APIError("odd", status_code=418), 502, "server_error", "upstream_error"),
        (errors.ConfigurationError("bad url"), 500, "server_error", "configuration_error"),
        (errors.PuterError("?"), 500, "server_error", "internal_error"),
        (ZeroDivisionError("secret-detail"), 500, "server_error", "internal_error"),
    ],
)
def test_the_error_table(error, status, kind, code):
    reply = fmt.error_reply(error)
    assert reply.status == status
    assert set(reply.body["error"]) == {"message", "type", "param", "code"}
    assert (reply.body["error"]["type"], reply.body["error"]["code"]) == (kind, code)
    assert "secret-detail" not in json.dumps(reply.body)


def test_rate_limits_carry_retry_after_and_auth_failures_say_whose():
    assert fmt.error_reply(errors.RateLimited("x", retry_after=1.2)).headers == {"Retry-After": "2"}
    assert fmt.error_reply(errors.RateLimited("x")).headers == {}
    assert "proxy's own session" in fmt.error_reply(errors.TokenRejected("expired")).body["error"]["message"]
    assert fmt.error_reply(errors.ModelNotFound("gone")).body["error"]["param"] == "model"
    refused = fmt.InvalidRequest("wrong key", code="invalid_api_key", status=401)
    assert fmt.error_reply(refused).headers == {"WWW-Authenticate": "Bearer"}


def test_messages_are_cleaned():
    reply = fmt.error_reply(errors.ServerError("token tok-123 leaked"), lambda text: text.replace("tok-123", "[x]"))
    assert "tok-123" not in reply.body["error"]["message"] and "[x]" in reply.body["error"]["message"]


# --- text that is not well formed -----------------------------------------------------------------


def test_a_lone_surrogate_in_a_request_is_repaired_not_refused():
    raw = b'{"model": "echo", "messages": [{"role": "user", "content": "half \\ud83d, whole \\ud83d\\ude00"}]}'
    call = fmt.parse_chat_request(fmt.parse_body(raw))
    assert call.request.messages[0].content == "half \ufffd, whole \U0001f600"


def test_an_emoji_split_across_two_events_is_joined_and_a_lone_half_is_replaced():
    writer = fmt.ChunkWriter(REQUEST, created=5)
    chunks = [
        *writer.feed(TextDelta("smile \ud83d")),
        *writer.feed(TextDelta("\ude00!")),
        *writer.feed(TextDelta("\ud83d")),
        *writer.feed(ReasoningDelta("\ud83d")),
        *writer.feed(Finished()),
    ]
    sent = [json.loads(jsontext.dumps(chunk))["choices"][0]["delta"] for chunk in chunks]
    assert sent == [
        {"content": "smile "},
        {"content": "\U0001f600!"},
        {"content": "\ufffd"},
        {"reasoning_content": "\ufffd"},
        {},
    ]
