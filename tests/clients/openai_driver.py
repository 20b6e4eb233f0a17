"""The `openai` SDK through the proxy: chat completions (plain, streamed, a two-turn tool loop) and the Responses
API (plain, streamed, a two-turn tool loop). Run by tests/test_real_clients.py in the clients' venv."""

from __future__ import annotations

import json
from typing import Any

import openai
from driver_loop import WEATHER_ARGUMENTS_SCHEMA, WEATHER_DESCRIPTION, get_weather, serve

CHAT_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": WEATHER_DESCRIPTION, "parameters": WEATHER_ARGUMENTS_SCHEMA},
}
RESPONSES_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": WEATHER_DESCRIPTION,
    "parameters": WEATHER_ARGUMENTS_SCHEMA,
    "strict": False,
}
QUESTION = "What is the weather in Paris? Use the get_weather tool."


def client(request: dict[str, Any]) -> openai.OpenAI:
    return openai.OpenAI(base_url=request["base_url"], api_key=request["api_key"], max_retries=0, timeout=60)


def chat(request: dict[str, Any]) -> dict[str, Any]:
    answer = client(request).chat.completions.create(
        model=request["model"],
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=request["max_tokens"],
    )
    choice = answer.choices[0]
    return {"text": choice.message.content, "finish_reason": choice.finish_reason, "usage": answer.usage.model_dump()}


def chat_stream(request: dict[str, Any]) -> dict[str, Any]:
    text, reason, usage = "", None, None
    stream = client(request).chat.completions.create(
        model=request["model"],
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=request["max_tokens"],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = 0
    for chunk in stream:
        chunks += 1
        usage = chunk.usage.model_dump() if chunk.usage else usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            reason = choice.finish_reason or reason
    return {"text": text, "finish_reason": reason, "usage": usage, "chunks": chunks}


def chat_tools(request: dict[str, Any]) -> dict[str, Any]:
    sdk = client(request)
    messages: list[Any] = [{"role": "user", "content": QUESTION}]
    options = {"model": request["model"], "tools": [CHAT_TOOL], "max_tokens": request["max_tokens"]}
    first = sdk.chat.completions.create(messages=messages, **options).choices[0]
    calls = first.message.tool_calls or []
    messages.append(first.message.model_dump(exclude_none=True))
    for call in calls:
        result = get_weather(**json.loads(call.function.arguments))
        messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
    final = sdk.chat.completions.create(messages=messages, **options).choices[0]
    return {
        "first_finish_reason": first.finish_reason,
        "calls": [{"id": c.id, "name": c.function.name, "arguments": json.loads(c.function.arguments)} for c in calls],
        "text": final.message.content,
        "finish_reason": final.finish_reason,
    }


def responses(request: dict[str, Any]) -> dict[str, Any]:
    answer = client(request).responses.create(
        model=request["model"],
        instructions="Answer briefly.",
        input="Say hello.",
        max_output_tokens=request["max_tokens"],
        store=False,
    )
    return {"text": answer.output_text, "status": answer.status, "usage": answer.usage.model_dump()}


def responses_stream(request: dict[str, Any]) -> dict[str, Any]:
    text, types, usage = "", [], None
    stream = client(request).responses.create(
        model=request["model"], input="Say hello.", max_output_tokens=request["max_tokens"], store=False, stream=True
    )
    for event in stream:
        if not types or types[-1] != event.type:
            types.append(event.type)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type in ("response.completed", "response.incomplete"):
            usage = event.response.usage.model_dump() if event.response.usage else None
    return {"text": text, "event_types": types, "usage": usage}


def responses_tools(request: dict[str, Any]) -> dict[str, Any]:
    sdk = client(request)
    options = {"model": request["model"], "tools": [RESPONSES_TOOL], "max_output_tokens": request["max_tokens"]}
    items: list[Any] = [{"role": "user", "content": QUESTION}]
    first = sdk.responses.create(input=items, store=False, **options)
    calls = [item for item in first.output if item.type == "function_call"]
    items += [item.model_dump(exclude_none=True) for item in first.output]
    for call in calls:
        output = get_weather(**json.loads(call.arguments))
        items.append({"type": "function_call_output", "call_id": call.call_id, "output": output})
    final = sdk.responses.create(input=items, store=False, **options)
    return {
        "calls": [{"id": c.call_id, "name": c.name, "arguments": json.loads(c.arguments)} for c in calls],
        "text": final.output_text,
        "final_calls": sum(item.type == "function_call" for item in final.output),
    }


if __name__ == "__main__":
    serve(
        {
            "chat": chat,
            "chat_stream": chat_stream,
            "chat_tools": chat_tools,
            "responses": responses,
            "responses_stream": responses_stream,
            "responses_tools": responses_tools,
        }
    )
