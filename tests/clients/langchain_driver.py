"""LangChain's ChatOpenAI through the proxy: invoke, stream, a bind_tools two-turn loop and with_structured_output
(its default, a json_schema response_format). Run by tests/test_real_clients.py in the clients' venv."""

from __future__ import annotations

from typing import Any

from driver_loop import get_weather, serve
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel


class Person(BaseModel):
    name: str
    age: int


@tool
def get_weather_tool(city: str) -> str:
    """Get the current weather for a city"""
    return get_weather(city)


get_weather_tool.name = "get_weather"


def model(request: dict[str, Any]) -> ChatOpenAI:
    return ChatOpenAI(
        model=request["model"],
        base_url=request["base_url"],
        api_key=request["api_key"],
        max_tokens=request["max_tokens"],
        max_retries=0,
        timeout=60,
    )


def invoke(request: dict[str, Any]) -> dict[str, Any]:
    answer = model(request).invoke("Say hello.")
    return {"text": answer.content, "usage": answer.usage_metadata}


def stream(request: dict[str, Any]) -> dict[str, Any]:
    chunks = list(model(request).stream("Say hello."))
    return {"text": "".join(chunk.content for chunk in chunks), "chunks": len(chunks)}


def tools(request: dict[str, Any]) -> dict[str, Any]:
    bound = model(request).bind_tools([get_weather_tool])
    messages: list[Any] = [HumanMessage("What is the weather in Paris? Use the get_weather tool.")]
    first = bound.invoke(messages)
    messages.append(first)
    for call in first.tool_calls:
        messages.append(ToolMessage(get_weather_tool.invoke(call["args"]), tool_call_id=call["id"]))
    final = bound.invoke(messages)
    return {
        "calls": [{"id": c["id"], "name": c["name"], "arguments": c["args"]} for c in first.tool_calls],
        "text": final.content,
        "final_calls": len(final.tool_calls),
    }


def structured(request: dict[str, Any]) -> dict[str, Any]:
    person = model(request).with_structured_output(Person).invoke("Ada Lovelace was 36. Who is she, how old?")
    assert isinstance(person, Person), type(person)
    return person.model_dump()


if __name__ == "__main__":
    serve({"invoke": invoke, "stream": stream, "tools": tools, "structured": structured})
