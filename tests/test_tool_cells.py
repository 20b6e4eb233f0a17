"""%%puter --tools in an in-process IPython shell (terminal mode) on the in-memory provider, and the Approve/Deny
row clicked in process. The real kernel's click is in test_tool_kernel.py."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from cells import run
from IPython.core.error import UsageError
from test_magics import both_ways

from puter_magic.core import tools
from puter_magic.core.approval import NOBODY_TO_ASK, Nobody, Prompt
from puter_magic.core.tool_calls import DENIED
from puter_magic.datatypes import ToolCall
from puter_magic.notebook.tool_cell import RowOrPrompt, approver_for
from puter_magic.widgets.approval import ApprovalRow

PARIS = ToolCall("c1", "get_weather", {"city": "Paris"})


@pytest.fixture
def session(memory_session):
    return memory_session


@pytest.fixture(params=["called", "awaited"])
def magics(request, shell, magics):
    yield from both_ways(request.param, shell, magics)


@pytest.fixture(autouse=True)
def notebook_function(shell, monkeypatch):
    monkeypatch.setattr(tools, "_REGISTRY", {})

    def get_weather(city: str) -> str:
        """The weather now."""
        return f"sunny in {city}"

    shell.user_ns["get_weather"] = get_weather
    yield
    shell.user_ns.pop("get_weather", None)


def test_a_tool_cell_shows_each_call_and_keeps_the_exchange(shell, magics, memory_provider, capsys):
    memory_provider.enqueue(PARIS)
    memory_provider.enqueue("Sunny.")
    run(shell, "%%puter --tools get_weather --approve all\nWeather in Paris?", "w1")
    out = capsys.readouterr().out
    assert '→ get_weather({"city": "Paris"})' in out and "← sunny in Paris" in out
    assert out.rstrip().endswith("Sunny.")
    [turn] = magics.session.conversations.thread().turns
    assert (turn.key, turn.answer, [m.role for m in turn.steps]) == ("w1", "Sunny.", ["assistant", "tool"])
    memory_provider.enqueue("No need.")
    run(shell, "%%puter --tools get_weather --approve all\nWeather in Paris?", "w1")
    [turn] = magics.session.conversations.thread().turns
    assert (turn.answer, turn.steps) == ("No need.", ()), "a re-run replaces the whole exchange of the cell"


def test_nobody_at_a_terminal_denies_in_one_line(shell, magics, memory_provider, capsys):
    memory_provider.enqueue(PARIS)
    memory_provider.enqueue("Without it.")
    run(shell, "%%puter --tools get_weather\nWeather in Paris?", "w2")
    out = capsys.readouterr().out
    assert f"({NOBODY_TO_ASK})" in out
    assert memory_provider.requests[1].messages[-1].text == DENIED


def test_the_step_limit_is_one_line_and_keeps_everything(shell, magics, memory_provider, capsys):
    memory_provider.enqueue(PARIS)
    memory_provider.enqueue(PARIS)
    run(shell, "%%puter --tools get_weather --approve all --max-steps 2\nWeather?", "w3")
    assert "still calling tools after 2 steps" in capsys.readouterr().out
    [turn] = magics.session.conversations.thread().turns
    assert [m.role for m in turn.steps] == ["assistant", "tool", "assistant", "tool"]


def test_an_unknown_tool_or_mode_is_one_line(shell, magics):
    with pytest.raises(UsageError, match="no tool named 'nope'"):
        run(shell, "%%puter --tools nope\nWeather?")
    with pytest.raises(UsageError, match="invalid choice: 'sometimes'"):
        run(shell, "%%puter --tools get_weather --approve sometimes\nWeather?")
    assert magics.session.conversations.thread().turns == []


def test_puter_tools_lists_the_registered_tools(shell, magics):
    assert "No tools registered" in str(run(shell, "%puter tools"))

    @tools.tool(safe=True)
    def clock() -> str:
        """The time now."""
        return "noon"

    report = run(shell, "%puter tools")
    assert "| clock | yes | The time now. |" in report.markdown


def test_who_is_asked_depends_on_where_the_cell_runs(shell):
    assert isinstance(approver_for(shell), Prompt), "terminal IPython: a y/n prompt"
    headless = SimpleNamespace(kernel=SimpleNamespace(_allow_stdin=False))
    assert isinstance(approver_for(headless), Nobody), "nbclient: nobody can answer"
    person = SimpleNamespace(kernel=SimpleNamespace(_allow_stdin=True))
    assert isinstance(approver_for(person), RowOrPrompt)


@pytest.mark.parametrize(("button", "expected"), [("_approve", True), ("_deny", False)])
def test_the_approval_row_waits_for_a_click(button, expected):
    async def scenario() -> tuple[bool, ApprovalRow]:
        row = ApprovalRow(PARIS)
        waiting = asyncio.ensure_future(row.decision())
        await asyncio.sleep(0)
        assert not waiting.done(), "no decision before the click"
        getattr(row, button).click()
        return await asyncio.wait_for(waiting, 5), row

    decided, row = asyncio.run(scenario())
    assert decided is expected
    assert row._approve.disabled and row._deny.disabled
    assert row._question.value.startswith("Approved" if expected else "Denied")
