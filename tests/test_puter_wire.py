"""The Puter body translations, checked on the recorded shapes (shared/puter-recorded.md)."""

from __future__ import annotations

import pytest

from puter_magic.datatypes import ChatRequest, Message, ToolCall
from puter_magic.errors import InsufficientFunds, ModelNotFound, NotFound, RateLimited, TokenRejected
from puter_magic.providers import puter_account as account
from puter_magic.providers import puter_wire as wire

RECORDED_FAKE = {
    "success": True,
    "result": {
        "message": {
            "id": "00000000-0000-0000-0000-000000000000",
            "type": "message",
            "role": "assistant",
            "model": "fake",
            "content": [{"type": "text", "text": "Ad est occaecat"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 1, "usd_cents": None},
        },
        "usage": {"input_tokens": 0, "output_tokens": 1, "usd_cents": None},
        "finish_reason": "stop",
        "via_ai_chat_service": True,
    },
    "service": {"name": "ai-chat"},
    "metadata": {"service_used": "fake-chat", "providerUsed": "fake"},
}

OPENAI_SHAPED = {
    "success": True,
    "result": {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        "finish_reason": "tool_calls",
        "usage": {"prompt_tokens": 8, "completion_tokens": 3, "cached_tokens": 0, "usd_cents": 0.0013},
        "via_ai_chat_service": True,
    },
    "metadata": {"service_used": "openai-completion", "providerUsed": "gpt-5.5-2026-04-23"},
}


def test_chat_body_always_sends_model_and_the_ai_chat_driver():
    request = ChatRequest((Message("user", "hi"),), "fake", temperature=0, max_tokens=50, provider_pin="claude")
    body = wire.chat_body(request, stream=True)
    assert body["interface"] == "puter-chat-completion"
    assert body["driver"] == "ai-chat"
    assert body["method"] == "complete"
    assert body["args"] == {
        "messages": [{"role": "user", "content": "hi"}],
        "model": "fake",
        "stream": True,
        "temperature": 0,
        "max_tokens": 50,
        "provider": "claude",
    }


def test_anthropic_shaped_result():
    completion = wire.parse_completion(RECORDED_FAKE, "fake")
    assert completion.text == "Ad est occaecat"
    assert completion.model == "fake"
    assert completion.usage.input_tokens == 0
    assert completion.usage.output_tokens == 1
    assert completion.usage.cost_usd is None
    assert completion.finish_reason == "stop"


def test_openai_shaped_result_with_tool_calls():
    completion = wire.parse_completion(OPENAI_SHAPED, "gpt-5.5")
    assert completion.text == ""
    assert completion.model == "gpt-5.5-2026-04-23"
    assert completion.tool_calls[0].name == "get_weather"
    assert completion.tool_calls[0].arguments == {"city": "Paris"}
    assert completion.usage.input_tokens == 8
    assert completion.usage.cost_usd == pytest.approx(0.000013)
    assert completion.finish_reason == "tool_calls"


def test_model_objects_in_current_and_legacy_cost_shapes():
    current = account.parse_model(
        {
            "puterId": "openai:openai/gpt-5.5",
            "id": "gpt-5.5-2026-04-23",
            "provider": "openai-completion",
            "aliases": ["gpt-5.5", "openai/gpt-5.5", "openai:openai/gpt-5.5"],
            "costs_currency": "usd-cents",
            "input_cost_key": "prompt_tokens",
            "output_cost_key": "completion_tokens",
            "costs": {
                "tokens": 1000000,
                "prompt_tokens": 500,
                "cached_tokens": 50,
                "completion_tokens": 3000,
            },
            "context": 1050000,
            "max_tokens": 128000,
        }
    )
    assert current.id == "openai:openai/gpt-5.5"
    assert current.matches("GPT-5.5") and current.matches("gpt-5.5-2026-04-23")
    assert (current.input_cost, current.output_cost) == (5.0, 30.0)
    assert current.context == 1050000
    legacy = account.parse_model(
        {"id": "claude-3", "cost": {"currency": "usd-cents", "tokens": 1000, "input": 0.3, "output": 1.5}}
    )
    assert legacy.input_cost == pytest.approx(3.0)
    assert legacy.output_cost == pytest.approx(15.0)
    fake = account.parse_model(
        {
            "id": "costly",
            "aliases": [],
            "costs_currency": "usd-cents",
            "costs": {"input-tokens": 1000, "output-tokens": 2000},
            "max_tokens": 8192,
            "provider": "fake-chat",
        }
    )
    assert (fake.input_cost, fake.output_cost) == (10.0, 20.0)
    assert fake.max_tokens == 8192


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            401,
            {
                "error": "Authentication failed",
                "message": "Authentication failed",
                "code": "token_auth_failed",
            },
            TokenRejected,
        ),
        (
            400,
            {"error": "Model not found: x", "message": "Model not found: x", "code": "bad_request"},
            ModelNotFound,
        ),
        (
            402,
            {
                "error": "No usage left for request.",
                "message": "No usage left for request.",
                "code": "insufficient_funds",
            },
            InsufficientFunds,
        ),
        (404, {"error": "Driver not found: puter-chat-completion:claude", "code": "not_found"}, NotFound),
        (429, {"error": "Too many requests.", "code": "too_many_requests"}, RateLimited),
    ],
)
def test_current_error_bodies(status, body, expected):
    error = wire.error_from(status, body)
    assert type(error) is expected
    assert error.status_code == status
    assert error.message == body["error"]


def test_v1_envelope_error_fields():
    body = {
        "success": False,
        "error": {
            "code": "insufficient_funds",
            "$": "heyputer:api/APIError",
            "message": "Available funding is insufficient for this request.",
            "status": 402,
        },
    }
    assert wire.error_fields(body) == (
        "Available funding is insufficient for this request.",
        "insufficient_funds",
        402,
    )
    assert wire.error_fields({"success": False, "error": "boom"}) == ("boom", None, None)
    assert wire.error_fields("Username not found.") == ("Username not found.", None, None)


def test_v1_unknown_model_is_model_not_found():
    message = 'Field "model" is invalid. Expected a valid model name from x. Got nope.'
    error = wire.error_from(400, {"message": message, "code": "field_invalid"})
    assert isinstance(error, ModelNotFound)


def test_credits_are_dollars():
    credits = account.parse_credits(
        {
            "usage": {"total": 25_000_000},
            "allowanceInfo": {"remaining": 25_000_000, "monthUsageAllowance": 50_000_000},
        }
    )
    assert credits.remaining_usd == pytest.approx(0.25)
    assert credits.allowance_usd == pytest.approx(0.5)
    assert credits.used_usd == pytest.approx(0.25)


def test_usage_limited_envelope_is_detected():
    assert wire.is_usage_limited({"success": True, "metadata": {"usage_limited": True}})
    assert not wire.is_usage_limited(RECORDED_FAKE)


def test_money_shows_the_digits_that_matter():
    from puter_magic.core.formats import money

    assert money(1.25) == "$1.25"
    assert money(0.0042) == "$0.0042"
    assert money(0.000013) == "$0.000013"


WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}}


def test_chat_body_carries_tool_history_parts_and_options_where_puters_backend_reads_them():
    call = ToolCall("call_abc123", "get_weather", {"city": "Paris"}, '{"city":"Paris"}')
    parts = [{"type": "text", "text": "<task>"}, {"type": "text", "text": "<environment_details>"}]
    request = ChatRequest(
        (
            Message("user", parts),
            Message("assistant", "", tool_calls=(call,), reasoning_content="look it up"),
            Message("tool", '{"temp_c":18}', tool_call_id="call_abc123"),
        ),
        "gpt-5-nano",
        tools=(WEATHER,),
        tool_choice="required",
        parallel_tool_calls=False,
        reasoning_effort="low",
        verbosity="high",
        frequency_penalty=0.5,
        presence_penalty=-0.5,
        logit_bias={"1": 5},
        user="u1",
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA, "strict": True}},
    )
    args = wire.chat_body(request, stream=False)["args"]
    assert args["messages"] == [  # recording 104's shape, with "" for the content beside the calls (recording 110)
        {"role": "user", "content": parts},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_abc123",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
            "reasoning_content": "look it up",
        },
        {"role": "tool", "content": '{"temp_c":18}', "tool_call_id": "call_abc123"},
    ]
    assert args["tools"] == [WEATHER]
    assert (args["tool_choice"], args["parallel_tool_calls"]) == ("required", False)
    assert (args["reasoning_effort"], args["verbosity"], args["user"]) == ("low", "high", "u1")
    assert (args["frequency_penalty"], args["presence_penalty"], args["logit_bias"]) == (0.5, -0.5, {"1": 5})
    schema_format = {"type": "json_schema", "name": "person", "schema": SCHEMA, "strict": True}
    assert args["text"] == {"format": schema_format}  # what Puter's OpenAI Responses provider forwards
    assert args["outputFormat"] == schema_format  # what its newer OpenAI-dialect providers read
    assert "response_format" not in args


def test_a_json_object_format_goes_as_text_format_and_plain_text_adds_nothing():
    json_object = ChatRequest((Message("user", "hi"),), "m", response_format={"type": "json_object"})
    assert wire.chat_body(json_object, stream=False)["args"]["text"] == {"format": {"type": "json_object"}}
    plain = wire.chat_body(ChatRequest((Message("user", "hi"),), "m"), stream=False)["args"]
    assert plain.keys() == {"messages", "model"}


@pytest.mark.parametrize(
    ("usage", "inputs", "cached"),
    [
        ({"prompt_tokens": 20, "completion_tokens": 3, "cached_tokens": 80}, 100, 80),  # OpenAI: prompt is uncached
        ({"input_tokens": 5, "output_tokens": 3, "cache_read_input_tokens": 95}, 100, 95),  # Claude
        ({"prompt_tokens": 20, "completion_tokens": 3, "cached_tokens": 0}, 20, 0),
        ({"input_tokens": 0, "output_tokens": 1, "usd_cents": None}, 0, None),  # fake-chat
    ],
)
def test_cache_reads_are_counted_into_the_prompt_and_kept_apart(usage, inputs, cached):
    parsed = wire.parse_usage(usage)
    assert (parsed.input_tokens, parsed.cached_tokens) == (inputs, cached)


def test_tool_call_arguments_that_are_not_json_are_kept_as_written():
    data = {
        "result": {
            "message": {"content": None, "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "{oops"}}]}
        }
    }
    (call,) = wire.parse_completion(data, "m").tool_calls
    assert (call.arguments, call.arguments_json) == ({}, "{oops")
