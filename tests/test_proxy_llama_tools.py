"""The openai SDK's own tool loop through the proxy, in front of a session on llama.cpp's llama-server (the tiny
tool-calling model of tests/servers/make_tiny_tools_gguf.py): a real server's tool-call deltas out, the call and
its result back in, streamed and not. (This model answers "OK" whenever a tool result is in its context, so what
the follow-up request carried is checked in test_proxy_tools.py, against scripted servers that record it.)"""

from __future__ import annotations

import json

import openai
import pytest
from proxies import running_proxy
from tool_requests import WEATHER

ASK = {"role": "user", "content": "Weather in Paris?"}


@pytest.fixture
def proxy(puter_settings, loop, llama_tools_server):
    with running_proxy(puter_settings, loop, llama_tools_server.base_url) as running:
        yield running


def streamed(client: openai.OpenAI, **options) -> tuple[dict, str | None]:
    message: dict = {"role": "assistant", "content": ""}
    calls: dict[int, dict] = {}
    reason = None
    for chunk in client.chat.completions.create(stream=True, **options):
        for choice in chunk.choices:
            message["content"] += choice.delta.content or ""
            for part in choice.delta.tool_calls or ():
                call = calls.setdefault(part.index, {"type": "function", "function": {"name": "", "arguments": ""}})
                call["id"] = part.id or call.get("id")
                call["function"]["name"] = part.function.name or call["function"]["name"]
                call["function"]["arguments"] += part.function.arguments or ""
            reason = choice.finish_reason or reason
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    return message, reason


@pytest.mark.parametrize("stream", [False, True])
def test_a_two_turn_tool_loop_with_a_real_server(proxy, llama_tools_server, stream):
    options = {"model": llama_tools_server.model, "tools": [WEATHER], "max_tokens": 120}
    with openai.OpenAI(base_url=proxy.url + "/v1", api_key=proxy.key, max_retries=0, timeout=60) as client:
        if stream:
            message, reason = streamed(client, messages=[ASK], **options)
        else:
            choice = client.chat.completions.create(messages=[ASK], **options).choices[0]
            message, reason = choice.message.model_dump(exclude_none=True), choice.finish_reason
        (call,) = message["tool_calls"]
        assert (call["function"]["name"], reason) == ("get_weather", "tool_calls")
        assert isinstance(json.loads(call["function"]["arguments"]), dict) and call["id"]
        result = {"role": "tool", "tool_call_id": call["id"], "content": '{"temp_c": 18}'}
        history = [ASK, message | {"content": message.get("content") or None}, result]
        if stream:
            final, reason = streamed(client, messages=history, **options)
        else:
            choice = client.chat.completions.create(messages=history, **options).choices[0]
            final, reason = choice.message.model_dump(exclude_none=True), choice.finish_reason
    assert final["content"].strip() == "OK" and not final.get("tool_calls")  # the model answers once it has a result
