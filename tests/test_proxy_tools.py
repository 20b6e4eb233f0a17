"""What clients send through the proxy, end to end with the real openai SDK over real sockets: tool loops, part
arrays, reasoning and format options, refused parameters, cache reads and the paths clients build.

Upstream is the local Puter server (its request log shows what reached "Puter"), or a small scripted server
speaking Puter's wire format with `tool_use` lines, or one speaking OpenAI's with llama-cpp-python's tool deltas.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
from proxies import chat_calls, running_proxy, sdk
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from tool_requests import WEATHER

from puter_magic.config import Settings
from puter_magic.server.serve import RunningProxy
from puter_magic.testing.runner import serve

QUESTION = {"role": "user", "content": "What is the weather in Paris? Use the get_weather tool."}
ARGUMENTS = '{"city": "Paris"}'
RESULT = '{"temp_c": 18, "sky": "cloudy"}'


def ask(client: openai.OpenAI, stream: bool, **options):
    """One answer as (message dict, finish_reason, usage), read from a stream the way the SDK's users do."""
    if not stream:
        answer = client.chat.completions.create(**options)
        choice = answer.choices[0]
        return choice.message.model_dump(exclude_none=True), choice.finish_reason, answer.usage
    message: dict = {"role": "assistant", "content": ""}
    calls: dict[int, dict] = {}
    reason = usage = None
    for chunk in client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **options):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            message["content"] += choice.delta.content or ""
            for part in choice.delta.tool_calls or ():
                call = calls.setdefault(
                    part.index, {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                )
                call["id"] = part.id or call["id"]
                call["function"]["name"] = part.function.name or call["function"]["name"]
                call["function"]["arguments"] += part.function.arguments or ""
            reason = choice.finish_reason or reason
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return message, reason, usage


@dataclass
class ToolLoop:
    """What the SDK got in a two-turn tool loop: the first answer's one call, finish reason and usage, then the
    answer to the call's result."""

    call: dict
    reason: str
    usage: Any
    final: dict
    final_reason: str


def tool_loop(proxy: RunningProxy, stream: bool, model: str, *, null_content: bool = False) -> ToolLoop:
    """The question with get_weather offered, then the call's result sent back after the assistant message (with
    `content: None` when `null_content`, as the SDK's own message object has it)."""
    with sdk(proxy) as client:
        message, reason, usage = ask(client, stream, model=model, messages=[QUESTION], tools=[WEATHER])
        (call,) = message["tool_calls"]
        if null_content:
            message["content"] = None
        result = {"role": "tool", "tool_call_id": call["id"], "content": RESULT}
        final, final_reason, _ = ask(client, stream, model=model, messages=[QUESTION, message, result], tools=[WEATHER])
    return ToolLoop(call, reason, usage, final, final_reason)


# --- the local Puter server: what reaches "Puter" -------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_tool_history_reaches_puter_as_the_fields_its_backend_turns_into_tool_use_and_tool_result(
    puter_proxy, puter_server, stream
):
    with sdk(puter_proxy) as client:
        ask(client, stream, model="echo", messages=[QUESTION], tools=[WEATHER], tool_choice="auto")
        call = {"id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": ARGUMENTS}}
        history = [
            QUESTION,
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_abc123", "content": RESULT},
        ]
        message, _, _ = ask(client, stream, model="echo", messages=history, tools=[WEATHER])
    first, second = chat_calls(puter_server)
    assert (first["tools"], first["tool_choice"]) == ([WEATHER], "auto")
    assert second["messages"] == [  # recording 104's shape; "" beside the calls is read like null (recording 110)
        QUESTION,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "content": RESULT, "tool_call_id": "call_abc123"},
    ]
    assert message["content"]  # and Puter answered the follow-up turn


def test_part_arrays_arrive_as_separate_parts_and_reasoning_options_arrive(puter_proxy, puter_server):
    """(response_format, which the proxy enforces for Puter, is tests/test_proxy_structured.py's.)"""
    parts = [{"type": "text", "text": "<task>\nfix it\n</task>"}, {"type": "text", "text": "<environment_details>"}]
    with sdk(puter_proxy) as client:
        client.chat.completions.create(
            model="echo",
            messages=[{"role": "user", "content": parts}],
            reasoning_effort="high",
            verbosity="low",
            frequency_penalty=0.5,
            user="cline",
        )
    (args,) = chat_calls(puter_server)
    assert args["messages"] == [{"role": "user", "content": parts}]
    assert (args["reasoning_effort"], args["verbosity"], args["frequency_penalty"], args["user"]) == (
        "high",
        "low",
        0.5,
        "cline",
    )


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"logprobs": True, "top_logprobs": 3}, "logprobs"),
        ({"n": 2}, "n"),
        ({"functions": [WEATHER["function"]]}, "functions"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"messages": [QUESTION, {"role": "tool", "content": RESULT}]}, "messages[1].tool_call_id"),
    ],
)
def test_what_cannot_be_served_is_a_400_naming_the_param_and_nothing_goes_upstream(
    puter_proxy, puter_server, options, param
):
    with sdk(puter_proxy) as client, pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(**({"model": "echo", "messages": [QUESTION]} | options))
    assert caught.value.status_code == 400 and caught.value.param == param
    assert chat_calls(puter_server) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/models"),
        ("GET", "/v1//models"),
        ("GET", "/v1/models/"),
        ("GET", "//v1/models"),
        ("GET", "/models/echo"),
        ("POST", "/chat/completions"),
        ("POST", "/v1//chat/completions/"),
    ],
)
def test_paths_without_v1_or_with_extra_slashes_reach_the_api_and_still_need_the_key(puter_proxy, method, path):
    body = {"model": "echo", "messages": [QUESTION]} if method == "POST" else None
    with httpx.Client(base_url=puter_proxy.url, timeout=10) as http:
        refused = http.request(method, path, json=body)
        answered = http.request(method, path, json=body, headers={"Authorization": f"Bearer {puter_proxy.key}"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert answered.status_code == 200, answered.text
    assert answered.json()["object"] in ("list", "model", "chat.completion")


@pytest.mark.parametrize("base", ["", "/", "/v1/"])
def test_the_sdk_works_with_a_base_url_without_v1_or_with_a_trailing_slash(puter_proxy, base):
    with sdk(puter_proxy, base) as client:
        assert "echo" in {model.id for model in client.models.list()}
        assert client.chat.completions.create(model="echo", messages=[QUESTION]).choices[0].message.content


# --- a Puter upstream that calls tools: the whole loop ----------------------------------------------------------


def puter_calling_tools(received: list[dict]) -> Starlette:
    """Puter's wire format as its Claude path answers (protocol notes §3.4-3.5): `tool_use` stream lines, Anthropic
    content blocks, `finish_reason: "stop"` even for tool use, cache reads metered apart."""
    usage = {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 5, "usd_cents": 0.01}
    use = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}

    async def call(request: Request) -> Response:
        body = await request.json()
        received.append(body)
        args = body["args"]
        answered = args["messages"][-1]["role"] == "tool"
        if args.get("stream"):
            lines = [{"type": "text", "text": "18 C, cloudy"} if answered else use | {"text": ""}]
            lines.append({"type": "usage", "usage": usage})
            payload = "".join(json.dumps(line) + "\n" for line in lines)
            return StreamingResponse(iter([payload.encode()]), media_type="application/x-ndjson")
        content = [{"type": "text", "text": "18 C, cloudy"}] if answered else [use]
        message = {"role": "assistant", "content": content, "stop_reason": "end_turn" if answered else "tool_use"}
        result = {"message": message, "usage": usage, "finish_reason": "stop"}
        return JSONResponse({"success": True, "result": result, "metadata": {"providerUsed": "claude-x"}})

    return Starlette(routes=[Route("/drivers/call", call, methods=["POST"])])


@pytest.fixture
def tool_calling_puter(loop):
    received: list[dict] = []
    with serve(puter_calling_tools(received)) as upstream:
        settings = Settings(api_origin=upstream.origin, token="scripted-token", rate_limit=None, max_concurrent=None)
        with running_proxy(settings, loop) as proxy:
            yield proxy, received


@pytest.mark.parametrize("stream", [False, True])
def test_the_sdks_tool_loop_through_a_puter_that_calls_tools(tool_calling_puter, stream):
    proxy, received = tool_calling_puter
    answers = tool_loop(proxy, stream, "claude-x")
    assert answers.reason == "tool_calls"  # though Puter said "stop"
    call = answers.call
    assert (call["id"], call["function"]["name"], json.loads(call["function"]["arguments"])) == (
        "toolu_1",
        "get_weather",
        {"city": "Paris"},
    )
    assert (answers.usage.prompt_tokens, answers.usage.prompt_tokens_details.cached_tokens) == (100, 90)
    assert (answers.final["content"], answers.final_reason) == ("18 C, cloudy", "stop")
    sent = received[1]["args"]["messages"]
    assert sent[1]["tool_calls"] == [call] and sent[1]["content"] == ""
    assert sent[2] == {"role": "tool", "content": RESULT, "tool_call_id": "toolu_1"}


# --- an OpenAI-compatible upstream with llama-cpp-python's tool deltas ---------------------------------------


def openai_calling_tools(received: list[dict]) -> Starlette:
    """Streams a tool call llama-cpp-python's way: id and name repeated in every fragment; refuses `content: null`
    on an assistant message, as llama-cpp-python does."""

    def chunk(delta: dict, finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return b"data: " + json.dumps({"model": "tiny", "choices": [choice]}).encode() + b"\n\n"

    def fragment(arguments: str) -> dict:
        function = {"name": "get_weather", "arguments": arguments}
        return {"tool_calls": [{"index": 0, "id": "call_7", "type": "function", "function": function}]}

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "tiny", "object": "model"}]})

    async def completions(request: Request) -> Response:
        body = await request.json()
        received.append(body)
        if any(m["role"] == "assistant" and m.get("content") is None for m in body["messages"]):
            return JSONResponse({"error": {"message": "content: null", "type": "invalid_request_error"}}, 400)
        answered = body["messages"][-1]["role"] == "tool"
        if not body.get("stream"):
            call = {"id": "call_7", "type": "function", "function": {"name": "get_weather", "arguments": ARGUMENTS}}
            message = (
                {"role": "assistant", "content": "18 C"} if answered else {"role": "assistant", "tool_calls": [call]}
            )
            choice = {"index": 0, "message": message, "finish_reason": "stop" if answered else "tool_calls"}
            return JSONResponse({"model": "tiny", "choices": [choice]})
        if answered:
            events = [chunk({"role": "assistant", "content": "18 C"}), chunk({}, "stop")]
        else:
            events = [chunk({"role": "assistant"}), chunk(fragment('{"city": ')), chunk(fragment('"Paris"}'))]
            events.append(chunk({}, "tool_calls"))
        return StreamingResponse(iter([*events, b"data: [DONE]\n\n"]), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/models", models), Route("/v1/chat/completions", completions, methods=["POST"])])


@pytest.fixture
def tool_calling_openai_server(puter_settings, loop):
    received: list[dict] = []
    with (
        serve(openai_calling_tools(received)) as upstream,
        running_proxy(puter_settings, loop, f"{upstream.origin}/v1") as proxy,
    ):
        yield proxy, received


@pytest.mark.parametrize("stream", [False, True])
def test_the_sdks_tool_loop_through_an_openai_compatible_server(tool_calling_openai_server, stream):
    proxy, received = tool_calling_openai_server
    answers = tool_loop(proxy, stream, "tiny", null_content=True)
    call = answers.call
    assert (call["id"], call["function"]["name"], call["function"]["arguments"], answers.reason) == (
        "call_7",
        "get_weather",  # not "get_weatherget_weather"
        ARGUMENTS,
        "tool_calls",
    )
    assert answers.final["content"] == "18 C"
    assert received[0]["tools"] == [WEATHER]
    assert received[1]["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [call]}
