"""The openai-agents SDK through the proxy, on its default Responses API: a run with a function tool, a run with an
output_type, and a run that starts from earlier items (a call and its output). Tracing is off (no network but
loopback). Run by tests/test_real_clients.py in the clients' venv."""

from __future__ import annotations

from typing import Any

from agents import Agent, ModelSettings, Runner, function_tool, set_default_openai_client, set_tracing_disabled
from driver_loop import get_weather, serve
from openai import AsyncOpenAI
from pydantic import BaseModel

set_tracing_disabled(True)


class Person(BaseModel):
    name: str
    age: int


@function_tool(name_override="get_weather")
def weather_tool(city: str) -> str:
    """Get the current weather for a city"""
    return get_weather(city)


def agent(request: dict[str, Any], **options: Any) -> Agent:
    set_default_openai_client(
        AsyncOpenAI(base_url=request["base_url"], api_key=request["api_key"], max_retries=0, timeout=60),
        use_for_tracing=False,
    )
    settings = ModelSettings(max_tokens=request["max_tokens"], store=False)
    model = request["model"]
    return Agent(name="helper", instructions="Answer briefly.", model=model, model_settings=settings, **options)


def resumed(request: dict[str, Any]) -> dict[str, Any]:
    earlier = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"type": "function_call", "call_id": "call_earlier", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_earlier", "output": get_weather("Paris")},
    ]
    result = Runner.run_sync(agent(request, tools=[weather_tool]), earlier, max_turns=2)
    return {"text": result.final_output, "items": [item.type for item in result.new_items]}


def tools(request: dict[str, Any]) -> dict[str, Any]:
    result = Runner.run_sync(agent(request, tools=[weather_tool]), "What is the weather in Paris?", max_turns=4)
    calls = [item.raw_item for item in result.new_items if item.type == "tool_call_item"]
    return {
        "calls": [{"id": c.call_id, "name": c.name, "arguments": c.arguments} for c in calls],
        "outputs": [item.output for item in result.new_items if item.type == "tool_call_output_item"],
        "text": result.final_output,
    }


def structured(request: dict[str, Any]) -> dict[str, Any]:
    result = Runner.run_sync(agent(request, output_type=Person), "Ada Lovelace was 36. Who is she, how old?")
    assert isinstance(result.final_output, Person), type(result.final_output)
    return result.final_output.model_dump()


if __name__ == "__main__":
    serve({"resumed": resumed, "tools": tools, "structured": structured})
