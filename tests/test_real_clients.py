"""The real clients, from the registry in their own venv (tests/clients/setup_clients.sh), through the proxy: simonw's
`llm` CLI, LangChain's ChatOpenAI, the openai-agents SDK, instructor and the openai SDK, each run as a subprocess
(a driver per client under tests/clients/; `llm` as its own command) the way their users run them.

Two upstreams behind the proxy, once per module each:
- "puter": the local Puter server with the scripted tool-calling model `tools-scripted` (Puter's Claude path): each
  test scripts what "Puter" answers, and its request log shows what reached it.
- "llama": llama.cpp's llama-server with the tiny tool-calling model (real tool calls and json_schema answers
  from a grammar; its text is gibberish, and it answers "OK" once a tool result is in its context).

Structured output against Puter needs the proxy's local JSON-schema enforcement (instruct, validate, retry once):
"Puter" first answers prose, then the JSON, and the client must get the object. Each test adds a cell to
docs/clients.md's table (tests/clients/report.py, tests/clients/table.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from clients.harness import CLIENTS, VENV, Backend, Drivers, llm, llm_last_logs, write_llm_home

from puter_magic.config import Settings
from puter_magic.core.loop import LoopThread
from puter_magic.core.sessions import Session
from puter_magic.server.serve import start
from puter_magic.testing.local import LocalPuter
from puter_magic.testing.processes import last_lines
from puter_magic.testing.scripted import ScriptedCall, ScriptedReply

SETUP_TIMEOUT = 900.0

pytestmark = pytest.mark.timeout(120 if (VENV / ".clients-complete").is_file() else SETUP_TIMEOUT + 120)

HELLO = "Hello from Puter."
WEATHER_ARGUMENTS = {"city": "Paris"}
WEATHER_RESULT = '{"temp_c": 18, "sky": "cloudy"}'  # what tests/clients' get_weather returns
WEATHER_ANSWER = "It is 18 °C and cloudy in Paris."
ADA = {"name": "Ada Lovelace", "age": 36}
ADA_PROSE = "Ada Lovelace was an English mathematician; she died at 36."


# --- the clients' venv and their drivers -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def clients_venv() -> Path:
    """The clients' venv, set up on first use (cached: under a second)."""
    proc = subprocess.run(
        ["bash", str(CLIENTS / "setup_clients.sh")],
        env=dict(os.environ, PROJECT_PYTHON=sys.executable),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SETUP_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"setup_clients.sh failed:\n{last_lines(proc.stdout + proc.stderr, 40)}", pytrace=False)
    return VENV


@pytest.fixture(scope="module")
def drivers(clients_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drivers]:
    started = Drivers(tmp_path_factory.mktemp("clients-home"))
    try:
        yield started
    finally:
        started.stop()


# --- the upstreams behind the proxy ------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["puter", "llama"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    loop = LoopThread(f"real-clients-{request.param}")
    puter: LocalPuter | None = None
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PUTER_MAGIC_HOME", str(tmp_path_factory.mktemp("puter-home")))
        if request.param == "puter":
            puter = request.getfixturevalue("puter_server_session")
            settings = Settings(api_origin=puter.api_origin, gui_origin=puter.gui_origin, token=puter.token)
            session, model = Session(settings, loop=loop), "tools-scripted"
        else:
            llama = request.getfixturevalue("llama_tools_server")
            session, model = Session(Settings(), loop=loop), llama.model
            session.use_provider(llama.base_url)
    try:
        with start(session) as proxy:
            home = tmp_path_factory.mktemp(f"llm-{request.param}")
            write_llm_home(home, proxy.url + "/v1", proxy.key, model)
            yield Backend(request.param, proxy.url + "/v1", proxy.key, model, home, puter)
    finally:
        session.close()
        loop.close()


@pytest.fixture(autouse=True)
def fresh_puter(backend: Backend) -> Iterator[None]:
    if backend.puter is not None:
        backend.puter.reset()
    yield
    if backend.puter is not None:
        backend.puter.reset()


# --- what the tests check, on both upstreams ---------------------------------------------------------------------


def check_text(backend: Backend, text: str) -> None:
    if backend.puter is not None:
        assert text.strip() == HELLO
    else:
        assert text.strip(), "the tiny model's answer came back empty"


def check_tool_loop(backend: Backend, calls: list[dict[str, Any]], final_text: str) -> None:
    """One get_weather call came back to the client; its result went back; the follow-up was answered."""
    (call,) = calls
    assert call["name"] == "get_weather" and call["id"]
    arguments = json.loads(call["arguments"]) if isinstance(call["arguments"], str) else call["arguments"]
    if backend.puter is None:
        assert isinstance(arguments.get("city"), str)
        assert final_text.strip() == "OK"  # the tiny model answers once a tool result is in its context
        return
    assert arguments == WEATHER_ARGUMENTS
    assert final_text.strip() == WEATHER_ANSWER
    first, second = backend.chat_requests()
    assert [tool["function"]["name"] for tool in first["tools"]] == ["get_weather"]
    (assistant,) = [m for m in second["messages"] if m["role"] == "assistant"]
    (result,) = [m for m in second["messages"] if m["role"] == "tool"]
    assert [c["id"] for c in assistant["tool_calls"]] == [call["id"]]
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == WEATHER_ARGUMENTS
    assert (result["tool_call_id"], result["content"]) == (call["id"], WEATHER_RESULT)


def script_tool_loop(backend: Backend) -> None:
    backend.script(ScriptedReply.calling(ScriptedCall("get_weather", WEATHER_ARGUMENTS)), WEATHER_ANSWER)


def script_structured(backend: Backend) -> None:
    """Prose first: only the proxy's enforcement (validate, retry once) turns it into the object asked for."""
    backend.script(ADA_PROSE, json.dumps(ADA))


def hello_answer(backend: Backend, drivers: Drivers, client: str, scenario: str) -> dict[str, Any]:
    """A driver's answer to "Puter" saying hello, its text checked."""
    backend.script(HELLO)
    answer = drivers[client].run(scenario, backend, "text")
    check_text(backend, answer["text"])
    return answer


def tool_loop_answer(backend: Backend, drivers: Drivers, client: str, scenario: str) -> dict[str, Any]:
    """A driver's answer to a get_weather call and its result, the loop checked."""
    script_tool_loop(backend)
    answer = drivers[client].run(scenario, backend, "tools")
    check_tool_loop(backend, answer["calls"], answer["text"])
    return answer


def check_person(backend: Backend, person: dict[str, Any]) -> None:
    if backend.puter is not None:
        assert person == ADA
    else:  # the grammar made it schema-valid; what it says is the tiny model's
        assert isinstance(person["name"], str) and isinstance(person["age"], int)


# --- llm ------------------------------------------------------------------------------------------------------


@pytest.mark.real_client("llm", "streamed prompt")
def test_llm_streams_a_prompt(backend, clients_venv):
    backend.script(HELLO)
    check_text(backend, llm(backend, "-m", "puter-magic", "-o", "max_tokens", "24", "Say hello."))
    if backend.puter is not None:
        (request,) = backend.chat_requests()
        assert request["stream"] is True


@pytest.mark.real_client("llm", "-c continuation")
def test_llm_continues_a_conversation(backend, clients_venv):
    backend.script(HELLO, "Hello again.")
    llm(backend, "-m", "puter-magic", "-o", "max_tokens", "24", "Say hello.")
    again = llm(backend, "-c", "-o", "max_tokens", "24", "And again?")
    if backend.puter is not None:
        assert again.strip() == "Hello again."
        assert backend.chat_requests()[1]["messages"] == [
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": HELLO},
            {"role": "user", "content": "And again?"},
        ]
    else:  # the first exchange went back as history: the second prompt is longer than both turns of the first
        first, second = llm_last_logs(backend, 2)  # oldest first
        assert second["conversation_id"] == first["conversation_id"]
        assert second["input_tokens"] > first["input_tokens"] + first["output_tokens"]


@pytest.mark.real_client("llm", "--schema")
def test_llm_schema(backend, clients_venv):
    script_structured(backend)
    out = llm(backend, "-m", "puter-magic", "-o", "max_tokens", "300", "--schema", "name, age int", "Who is Ada?")
    check_person(backend, json.loads(out))


@pytest.mark.real_client("llm", "tools (--functions)")
def test_llm_tools(backend, clients_venv):
    script_tool_loop(backend)
    out = llm(
        backend,
        *("-m", "puter-magic", "-o", "max_tokens", "150", "--functions", "llm_functions.py"),
        "What is the weather in Paris? Use the get_weather tool.",
    )
    calling, answering = llm_last_logs(backend, 2)  # the call, then the answer to its result
    calls = [{**call, "id": call["tool_call_id"]} for call in calling["tool_calls"]]
    check_tool_loop(backend, calls, out)
    assert [result["output"] for result in answering["tool_results"]] == [WEATHER_RESULT]


# --- langchain-openai ---------------------------------------------------------------------------------------


@pytest.mark.real_client("langchain-openai", "invoke")
def test_langchain_invoke(backend, drivers):
    hello_answer(backend, drivers, "langchain", "invoke")


@pytest.mark.real_client("langchain-openai", "stream")
def test_langchain_stream(backend, drivers):
    assert hello_answer(backend, drivers, "langchain", "stream")["chunks"] > 2


@pytest.mark.real_client("langchain-openai", "bind_tools two-turn loop")
def test_langchain_tool_loop(backend, drivers):
    assert tool_loop_answer(backend, drivers, "langchain", "tools")["final_calls"] == 0


# --- openai-agents ------------------------------------------------------------------------------------------


@pytest.mark.real_client("openai-agents", "Runner on earlier items (Responses API)")
def test_agents_run_resumed(backend, drivers):
    """A run whose input is an earlier exchange (a call and its output), as `result.to_input_list()` gives it: the
    tiny model ends its answer only once a tool result is in its context."""
    backend.script(WEATHER_ANSWER)
    answer = drivers["agents"].run("resumed", backend, "text")
    if backend.puter is None:
        assert answer["text"].strip() == "OK"
        return
    assert answer["text"] == WEATHER_ANSWER
    (request,) = backend.chat_requests()
    assert [m["role"] for m in request["messages"]] == ["system", "user", "assistant", "tool"]
    assert request["messages"][-1] == {"role": "tool", "content": WEATHER_RESULT, "tool_call_id": "call_earlier"}


@pytest.mark.real_client("openai-agents", "function tool")
def test_agents_tool(backend, drivers):
    assert tool_loop_answer(backend, drivers, "agents", "tools")["outputs"] == [WEATHER_RESULT]


# --- instructor ---------------------------------------------------------------------------------------------


@pytest.mark.real_client("instructor", "Mode.TOOLS")
def test_instructor_tools_mode(backend, drivers):
    backend.script(ScriptedReply.calling(ScriptedCall("Person", ADA)))
    check_person(backend, drivers["instructor"].run("tools", backend, "schema"))
    if backend.puter is not None:
        (request,) = backend.chat_requests()
        assert request["tool_choice"] == {"type": "function", "function": {"name": "Person"}}


# --- structured output from "Puter"'s prose, then its JSON, in each client's own way -------------------------


@pytest.mark.parametrize(
    ("client", "scenario"),
    [
        pytest.param(
            "langchain", "structured", marks=pytest.mark.real_client("langchain-openai", "with_structured_output")
        ),
        pytest.param("agents", "structured", marks=pytest.mark.real_client("openai-agents", "output_type")),
        pytest.param("instructor", "json_schema", marks=pytest.mark.real_client("instructor", "Mode.JSON_SCHEMA")),
    ],
)
def test_structured_output(backend, drivers, client, scenario):
    script_structured(backend)
    check_person(backend, drivers[client].run(scenario, backend, "schema"))


# --- the openai SDK -----------------------------------------------------------------------------------------


@pytest.mark.real_client("openai", "chat completions")
def test_openai_chat(backend, drivers):
    assert hello_answer(backend, drivers, "openai", "chat")["usage"]["completion_tokens"] > 0


@pytest.mark.real_client("openai", "chat completions, streamed")
def test_openai_chat_stream(backend, drivers):
    answer = hello_answer(backend, drivers, "openai", "chat_stream")
    assert answer["finish_reason"] in {"stop", "length"} and answer["usage"]["completion_tokens"] > 0


@pytest.mark.real_client("openai", "chat completions tool loop")
def test_openai_chat_tool_loop(backend, drivers):
    assert tool_loop_answer(backend, drivers, "openai", "chat_tools")["first_finish_reason"] == "tool_calls"


@pytest.mark.real_client("openai", "responses")
def test_openai_responses(backend, drivers):
    answer = hello_answer(backend, drivers, "openai", "responses")
    assert answer["status"] in {"completed", "incomplete"} and answer["usage"]["output_tokens"] > 0
    if backend.puter is not None:
        (request,) = backend.chat_requests()
        assert request["messages"][0]["content"] == "Answer briefly."  # `instructions`


@pytest.mark.real_client("openai", "responses, streamed")
def test_openai_responses_stream(backend, drivers):
    answer = hello_answer(backend, drivers, "openai", "responses_stream")
    types = answer["event_types"]
    assert types[0] == "response.created" and types[-1] in {"response.completed", "response.incomplete"}
    assert "response.output_text.delta" in types and answer["usage"]["output_tokens"] > 0


@pytest.mark.real_client("openai", "responses tool loop")
def test_openai_responses_tool_loop(backend, drivers):
    assert tool_loop_answer(backend, drivers, "openai", "responses_tools")["final_calls"] == 0
