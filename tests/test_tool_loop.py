"""The tool loop (core/tool_loop.py) on the in-memory provider: calls in order, approval, limits, Stop and Ctrl-C,
and the exchange kept as one turn (export/import, re-runs, trimming). What the wire makes of it is tested on the
real servers (test_tool_loop_servers.py)."""

from __future__ import annotations

import asyncio
import threading

import pytest

import puter_magic
from puter_magic.core import public
from puter_magic.core.approval import NOBODY_TO_ASK, Prompt
from puter_magic.core.conversation import Conversations
from puter_magic.core.tool_ask import ask_with_tools
from puter_magic.core.tool_calls import DENIED, STOPPED, ToolActivity
from puter_magic.core.tools import Tool
from puter_magic.datatypes import ToolCall
from puter_magic.errors import InputError, ServerError
from puter_magic.redact import REDACTED, register_secret

PARIS = ToolCall("c1", "get_weather", {"city": "Paris"})
OSLO = ToolCall("c2", "get_weather", {"city": "Oslo"})


def get_weather(city: str) -> str:
    """The weather now.

    Args:
        city: the city
    """
    calls.append(city)
    return f"sunny in {city}"


calls: list[str] = []


@pytest.fixture(autouse=True)
def no_calls_yet() -> None:
    calls.clear()


def exchange(session, thread: str | None = None) -> list[tuple[str, str, str | None]]:
    """The last turn's messages, as (role, text, call ids or the id answered)."""
    turn = session.conversations.thread(thread).turns[-1]
    return [(m.role, m.text, ",".join(c.id for c in m.tool_calls) or m.tool_call_id) for m in turn.messages()]


def test_calls_run_in_order_and_their_results_go_back(memory_session, memory_provider):
    memory_provider.enqueue("Looking.", PARIS, OSLO)
    memory_provider.enqueue("Sunny in both.")
    shown: list[ToolActivity | str] = []
    loop = ask_with_tools(memory_session, "Weather?", [get_weather], approve="all", show=shown.append)
    assert "".join(loop) == "Looking.Sunny in both."
    assert calls == ["Paris", "Oslo"], "parallel calls run in the order the model made them"
    second = memory_provider.requests[1]
    assert [(m.role, m.tool_call_id) for m in second.messages[-3:]] == [
        ("assistant", None),
        ("tool", "c1"),
        ("tool", "c2"),
    ]
    assert [(c.id, c.arguments) for c in second.messages[-3].tool_calls] == [
        ("c1", PARIS.arguments),
        ("c2", OSLO.arguments),
    ]
    assert second.messages[-1].text == "sunny in Oslo"
    assert second.tools and second.tools[0]["function"]["name"] == "get_weather"
    lines = [item.line() for item in shown if isinstance(item, ToolActivity)]
    assert lines[0] == '→ get_weather({"city": "Paris"})'
    assert lines[1].startswith("  ← sunny in Paris (")
    assert loop.text() == "Sunny in both." and [c.id for c in loop.answer().tool_calls] == ["c1", "c2"]
    assert exchange(memory_session) == [
        ("user", "Weather?", None),
        ("assistant", "Looking.", "c1,c2"),
        ("tool", "sunny in Paris", "c1"),
        ("tool", "sunny in Oslo", "c2"),
        ("assistant", "Sunny in both.", None),
    ]


def test_the_next_question_carries_the_whole_exchange(memory_session, memory_provider):
    memory_provider.enqueue(PARIS)
    memory_provider.enqueue("Sunny.")
    ask_with_tools(memory_session, "Weather?", [get_weather], approve="all").wait()
    memory_session.chat("Thanks")
    roles = [(m.role, m.text) for m in memory_provider.requests[-1].messages]
    assert roles == [
        ("user", "Weather?"),
        ("assistant", ""),
        ("tool", "sunny in Paris"),
        ("assistant", "Sunny."),
        ("user", "Thanks"),
    ]


@pytest.mark.parametrize(
    ("approve", "answer", "safe", "runs"),
    [
        ("ask", "y", False, True),
        ("ask", "n", False, False),
        ("ask", "", False, False),
        ("none", "y", False, False),
        ("none", None, True, True),
        ("ask", None, True, True),
        ("all", None, False, True),
    ],
)
def test_approval(memory_session, memory_provider, approve, answer, safe, runs):
    asked: list[str] = []

    def read(question: str) -> str:
        asked.append(question)
        assert answer is not None, "nobody is asked here"
        return answer

    weather = Tool.of(get_weather, safe=safe)
    memory_provider.enqueue(PARIS)
    memory_provider.enqueue("Done.")
    prompt = Prompt(read, interactive=lambda: True)
    ask_with_tools(memory_session, "Weather?", [weather], approve=approve, approver=prompt).wait()
    assert calls == (["Paris"] if runs else [])
    result = memory_provider.requests[1].messages[-1]
    assert result.text == ("sunny in Paris" if runs else DENIED)
    if answer is not None and approve == "ask":
        assert asked == ['\nRun get_weather({"city": "Paris"})? [y/N] ']
    else:
        assert asked == []


def test_nobody_to_ask_denies_and_says_so_once(memory_session, memory_provider):
    memory_provider.enqueue(PARIS, OSLO)
    memory_provider.enqueue("Without them.")
    shown: list[ToolActivity | str] = []
    prompt = Prompt(interactive=lambda: False)
    ask_with_tools(memory_session, "Weather?", [get_weather], approver=prompt, show=shown.append).wait()
    assert calls == []
    assert [item for item in shown if isinstance(item, str)] == [NOBODY_TO_ASK]
    assert [m.text for m in memory_provider.requests[1].messages[-2:]] == [DENIED, DENIED]


def test_an_unknown_tool_bad_arguments_and_an_exception_go_back_as_text(memory_session, memory_provider):
    secret = "sk-tool-secret-123456"
    register_secret(secret)

    def explode(city: str) -> str:
        raise RuntimeError(f"no access with {secret}")

    memory_provider.enqueue(
        ToolCall("a", "nope", {}),
        ToolCall.from_text("b", "get_weather", '{"city": Paris'),
        ToolCall("c", "explode", {"city": "Oslo"}),
    )
    memory_provider.enqueue("Sorry.")
    loop = ask_with_tools(memory_session, "Weather?", [get_weather, explode], approve="all")
    assert loop.text() == "Sorry."
    texts = [m.text for m in memory_provider.requests[1].messages[-3:]]
    assert texts[0] == "there is no tool named 'nope'; the tools are: get_weather, explode"
    assert texts[1].startswith("invalid arguments for get_weather: not valid JSON")
    assert texts[2] == f"RuntimeError: no access with {REDACTED}"
    assert secret not in repr(memory_session.conversations.to_json())


def test_a_model_that_never_stops_calling_reaches_the_step_limit(memory_session, memory_provider):
    for _ in range(3):
        memory_provider.enqueue(PARIS)
    loop = ask_with_tools(memory_session, "Weather?", [get_weather], approve="all", max_steps=3)
    loop.wait()
    assert loop.limit_reached and not loop.interrupted
    assert len(memory_provider.requests) == 3 and calls == ["Paris", "Paris"], "the last step's calls do not run"
    messages = exchange(memory_session)
    assert messages[-2] == ("tool", "not run: the limit of 3 steps was reached", "c1")
    assert messages[-1] == ("assistant", "(no answer: the step limit was reached)", None)


def test_a_failed_step_records_nothing(memory_session, memory_provider):
    memory_provider.enqueue(PARIS)
    memory_provider.enqueue(ServerError("upstream down"))
    with pytest.raises(ServerError):
        ask_with_tools(memory_session, "Weather?", [get_weather], approve="all").wait()
    assert memory_session.conversations.thread().turns == []


def test_stop_during_a_call_answers_every_call_and_keeps_the_exchange(memory_session, memory_provider):
    def stops(city: str) -> str:
        memory_session.stop()  # the panel's Stop, pressed while this call runs
        return "partial"

    memory_provider.enqueue(ToolCall("a", "stops", {"city": "Paris"}), OSLO)
    loop = ask_with_tools(memory_session, "Weather?", [stops, get_weather], approve="all")
    loop.wait()
    assert loop.interrupted and len(memory_provider.requests) == 1 and calls == []
    assert exchange(memory_session)[1:] == [
        ("assistant", "", "a,c2"),
        ("tool", "partial", "a"),
        ("tool", STOPPED, "c2"),
        ("assistant", "(stopped before answering)", None),
    ]
    assert memory_session.conversations.thread().turns[-1].interrupted


def test_ctrl_c_inside_a_call_keeps_the_history_whole(memory_session, memory_provider):
    def interrupted(city: str) -> str:
        raise KeyboardInterrupt

    memory_provider.enqueue(ToolCall("a", "interrupted", {"city": "Paris"}), OSLO)
    with pytest.raises(KeyboardInterrupt):
        ask_with_tools(memory_session, "Weather?", [interrupted, get_weather], approve="all").wait()
    assert exchange(memory_session)[2:4] == [("tool", STOPPED, "a"), ("tool", STOPPED, "c2")]


def test_stop_cancels_an_awaited_async_tool(memory_session, memory_provider):
    started = threading.Event()

    async def waits(city: str) -> str:
        started.set()
        await asyncio.sleep(30)
        return "never"

    memory_provider.enqueue(ToolCall("a", "waits", {"city": "Paris"}))
    loop = ask_with_tools(memory_session, "Weather?", [waits], approve="all")
    threading.Thread(target=lambda: started.wait(10) and memory_session.stop(), daemon=True).start()

    async def read() -> None:
        async for _ in loop:
            pass

    asyncio.run(asyncio.wait_for(read(), 10))
    assert loop.interrupted
    assert exchange(memory_session)[2] == ("tool", STOPPED, "a")


def test_the_exchange_survives_export_and_import_and_a_rerun_replaces_it(memory_session, memory_provider):
    memory_provider.enqueue(PARIS)
    memory_provider.enqueue("Sunny.")
    ask_with_tools(memory_session, "Weather?", [get_weather], approve="all", key="cell-1").wait()
    data = memory_session.conversations.to_json()
    restored = Conversations.from_json(data)
    assert restored == memory_session.conversations
    assert restored.thread().turns[0].steps[0].tool_calls[0].arguments == {"city": "Paris"}
    memory_provider.enqueue(OSLO)
    memory_provider.enqueue("Cold.")
    ask_with_tools(memory_session, "Weather?", [get_weather], approve="all", key="cell-1").wait()
    [turn] = memory_session.conversations.thread().turns
    assert turn.answer == "Cold." and turn.steps[0].tool_calls[0].id == "c2", "the whole exchange was replaced"


def test_a_save_with_a_call_without_its_result_is_refused(memory_session, memory_provider):
    memory_provider.enqueue(PARIS)
    memory_provider.enqueue("Sunny.")
    ask_with_tools(memory_session, "Weather?", [get_weather], approve="all").wait()
    data = memory_session.conversations.to_json()
    del data["threads"]["default"]["turns"][0]["steps"][1]
    with pytest.raises(InputError, match="has no result for the tool call 'c1'"):
        Conversations.from_json(data)


def test_an_exchange_is_trimmed_as_a_unit(memory_session, memory_provider):
    memory_provider.enqueue(ToolCall("c1", "get_weather", {"city": "P" * 40_000}))  # alone beyond the 8192 tokens
    memory_provider.enqueue("Sunny.")
    ask_with_tools(memory_session, "Weather?", [get_weather], approve="all").wait()
    memory_session.chat("small one")
    roles = [m.role for m in memory_provider.requests[-1].messages]
    assert roles == ["user"], "the turn with its calls went whole"


def test_chat_with_tools_returns_the_final_answer(memory_session, memory_provider):
    memory_provider.enqueue(PARIS)
    memory_provider.enqueue("Sunny.")
    answer = memory_session.chat("Weather?", tools=[get_weather], approve="all")
    assert answer.text == "Sunny." and [c.name for c in answer.tool_calls] == ["get_weather"]
    assert [r.method for r in memory_provider.received] == ["complete", "complete"]


def test_stream_with_tools_yields_the_text_of_every_step(memory_session, memory_provider, monkeypatch):
    monkeypatch.setattr(public, "session", lambda: memory_session)
    memory_provider.enqueue("Looking.", PARIS)
    memory_provider.enqueue("Sunny.")
    assert list(puter_magic.stream("Weather?", tools=[get_weather], approve="all")) == ["Looking.", "Sunny."]
    assert calls == ["Paris"] and exchange(memory_session)[-1] == ("assistant", "Sunny.", None)


@pytest.mark.anyio
async def test_astream_with_tools_yields_the_text_of_every_step(memory_session, memory_provider, monkeypatch):
    monkeypatch.setattr(public, "session", lambda: memory_session)
    memory_provider.enqueue("Looking.", PARIS)
    memory_provider.enqueue("Sunny.")
    pieces = [p async for p in puter_magic.astream("Weather?", tools=[get_weather], approve="all")]
    assert pieces == ["Looking.", "Sunny."] and calls == ["Paris"]
    assert exchange(memory_session)[1] == ("assistant", "Looking.", "c1")


def test_an_unknown_approval_mode_is_one_line(memory_session):
    with pytest.raises(InputError, match="approve must be one of ask, all, none"):
        memory_session.chat("Weather?", tools=[get_weather], approve="sometimes")


def test_stop_while_a_person_is_asked_ends_the_wait(memory_session, memory_provider):
    asked = threading.Event()

    class Waits:
        def ask(self, call, tool):
            raise AssertionError("the awaited path asks with aask")

        async def aask(self, call, tool):
            asked.set()
            await asyncio.sleep(30)  # nobody clicks
            return True

    memory_provider.enqueue(PARIS)
    loop = ask_with_tools(memory_session, "Weather?", [get_weather], approver=Waits())
    threading.Thread(target=lambda: asked.wait(10) and memory_session.stop(), daemon=True).start()

    async def read() -> None:
        async for _ in loop:
            pass

    asyncio.run(asyncio.wait_for(read(), 10))
    assert loop.interrupted and calls == []
    assert exchange(memory_session)[2] == ("tool", STOPPED, "c1")
