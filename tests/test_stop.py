"""Stopping an answer: the %%puter rewrite that lets a kernel handle clicks while a cell streams, Session.stop()
on every way of asking, and the panel's Stop button. (A real kernel and a real browser: test_kernel.py and
tests/browser/.)

The answers come from the in-memory provider (no socket): three words, then a Gate that is never released, so
a stop always lands mid-answer; the test presses Stop once the answer waits at the gate. Nothing sleeps.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.error import UsageError

from puter_magic.notebook.awaiting import CellAwaiter, magic_call
from puter_magic.notebook.batch_call import batch
from puter_magic.notebook.magics import unload
from puter_magic.testing.memory import Gate, echo
from puter_magic.widgets.kernel import stop_reaches_answers
from puter_magic.widgets.panel import panel

WAIT = 10.0
WORDS = ["a ", "long ", "answer "]  # what arrives before the gate


@pytest.fixture
def session(memory_session):
    """The conftest `magics` fixture builds on this one: every session here is on the in-memory provider."""
    return memory_session


@pytest.fixture
def gate(memory_provider) -> Gate:
    """Every answer: WORDS, then this gate, never released."""
    held = Gate()
    memory_provider.otherwise = lambda request: [*WORDS, held, "never shown"]
    return held


def press_when(gate: Gate, press, count: int = 1) -> threading.Thread:
    """Press once `count` answers wait at `gate` (and the words before it have been handed on)."""

    def wait_then_press():
        if gate.arrived(count, WAIT):
            press()

    thread = threading.Thread(target=wait_then_press, daemon=True)
    thread.start()
    return thread


def last_turn(session):
    return session.conversations.thread().turns[-1]


# --- the rewrite ----------------------------------------------------------------------------------------


@pytest.fixture
def awaiter(shell):
    instance = CellAwaiter(shell)
    instance.supported = True  # the in-process shell is no kernel; what is tested here is the rewrite itself
    instance.install()
    yield instance
    instance.uninstall()


def test_a_top_level_puter_cell_becomes_an_awaited_call(shell, awaiter):
    code = shell.transform_cell('%%puter -m echo\nHello, \'world\' """ {x} @{y}\n')
    assert code == (
        "await get_ipython().magics_manager.registry['PuterMagics']"
        ".ask_async('-m echo', 'Hello, \\'world\\' \"\"\" {x} @{y}\\n')\n"
    )
    assert shell.should_run_async("%%puter\nx", transformed_cell=code)


@pytest.mark.parametrize(
    "source",
    [
        "%%capture out\n%%puter\nnested in another cell magic",
        "%%time\n%%puter\nanother",
        "print('%%puter')\n",
        "get_ipython().run_cell_magic('puter', '', 'x') + 1\n",
        "%puter status",
    ],
)
def test_everything_else_is_left_alone(shell, awaiter, source):
    assert not shell.transform_cell(source).startswith("await")


def test_no_rewrite_inside_a_running_cell_without_autoawait_or_when_turned_off(shell, awaiter):
    awaiter.pre_execute()  # what a cell that runs %%puter code itself (%%capture, %run, run_cell) looks like
    assert not shell.transform_cell("%%puter\nx").startswith("await")
    awaiter.post_execute()
    awaiter.post_execute()  # an empty cell fires post_execute only: the count does not go below zero
    assert shell.transform_cell("%%puter\nx").startswith("await")
    shell.autoawait = False
    try:
        assert not shell.transform_cell("%%puter\nx").startswith("await")
    finally:
        shell.autoawait = True
    awaiter.wanted = False  # PuterMagics.stoppable = False
    assert not shell.transform_cell("%%puter\nx").startswith("await")


def test_an_ordinary_shell_is_not_rewritten(shell):
    plain = CellAwaiter(shell)
    assert not plain.supported and not plain.active
    assert plain(["get_ipython().run_cell_magic('puter', '', 'x')\n"]) == [
        "get_ipython().run_cell_magic('puter', '', 'x')\n"
    ]


@given(line=st.text().filter(lambda t: "\n" not in t and "\r" not in t), body=st.text())
def test_any_line_and_body_survive_the_rewrite(line, body):
    rendered = f"get_ipython().run_cell_magic('puter', {line!r}, {body!r})\n"
    assert magic_call([rendered]) == (line, body)


def test_stoppable_config_turns_the_rewrite_off(shell, magics):
    magics.awaiter.supported = True
    magics.awaiter.install()
    try:
        shell.run_cell("%config PuterMagics.stoppable = False")
        assert not magics.awaiter.active
        shell.run_cell("%config PuterMagics.stoppable = True")
        assert magics.awaiter.active
    finally:
        magics.awaiter.uninstall()


# --- Session.stop() -------------------------------------------------------------------------------------


def test_stop_ends_a_sync_stream_and_keeps_the_part_that_arrived(session, gate, memory_provider):
    pressed = press_when(gate, session.stop)
    pieces = list(session.ask("a long answer, please"))
    pressed.join(WAIT)
    assert pieces == WORDS and gate.wait_cancelled(1), "the answer was cancelled at the gate"
    turn = last_turn(session)
    assert turn.interrupted and turn.answer == "".join(WORDS)
    assert len(session.answering) == 0
    memory_provider.enqueue("yes")
    assert session.chat("still usable?").text == "yes"
    sent = [(m.role, m.text) for m in memory_provider.requests[-1].messages]
    assert sent[-2:] == [("assistant", "".join(WORDS)), ("user", "still usable?")], "the kept part is history"


def test_stop_ends_an_async_stream(session, gate):
    async def ask():
        pieces = []
        press_when(gate, session.stop)
        async for piece in session.ask("a long answer, please"):
            pieces.append(piece)
        return pieces

    pieces = asyncio.run(ask())
    assert pieces == WORDS and gate.wait_cancelled(1)
    assert last_turn(session).interrupted and last_turn(session).answer == "".join(WORDS)


def test_stop_with_nothing_streaming_stops_nothing(session):
    assert session.stop() == 0


# --- %%puter, awaited -----------------------------------------------------------------------------------


def ask(magics, line: str, body: str):
    return asyncio.run(magics.ask_async(line, body))


def test_a_stopped_cell_ends_without_an_error_and_keeps_the_partial_answer(session, gate, magics, capsys):
    press_when(gate, session.stop)
    assert ask(magics, "", "a long answer, please") is None
    shown = capsys.readouterr().out
    turn = last_turn(session)
    assert turn.interrupted and turn.answer == "".join(WORDS)
    assert shown.startswith(turn.answer)


def test_a_stopped_cell_with_out_says_the_variable_was_not_set(session, gate, magics, shell):
    shell.user_ns.pop("stopped_answer", None)
    press_when(gate, session.stop)
    with pytest.raises(UsageError, match="stopped — stopped_answer was not set"):
        ask(magics, "-o stopped_answer", "a long answer, please")
    assert "stopped_answer" not in shell.user_ns
    assert last_turn(session).interrupted


def test_a_stopped_no_stream_cell_keeps_nothing(session, gate, magics, memory_provider, capsys):
    press_when(gate, session.stop)  # the request is being answered: the whole answer is waited for
    assert ask(magics, "--no-stream", "a long answer, please") is None
    assert "stopped before the answer arrived" in capsys.readouterr().out
    assert session.conversations.thread().turns == []
    assert [r.method for r in memory_provider.received] == ["complete"] and gate.wait_cancelled(1)


def test_the_kernel_interrupt_of_an_awaited_cell_is_one_line_and_keeps_the_partial_answer(session, gate, magics):
    async def interrupted():
        task = asyncio.ensure_future(magics.ask_async("", "a long answer, please"))
        await asyncio.to_thread(gate.arrived, 1, WAIT)
        task.cancel()  # what ipykernel does to an awaited cell on SIGINT
        await task

    with pytest.raises(UsageError, match="interrupted — the part that arrived is kept"):
        asyncio.run(interrupted())
    assert last_turn(session).interrupted and last_turn(session).answer == "".join(WORDS)


# --- the panel's Stop -----------------------------------------------------------------------------------


def test_the_panel_stop_button_ends_the_answer_and_says_so(session, gate, monkeypatch):
    monkeypatch.setattr("puter_magic.widgets.panel.stop_reaches_answers", lambda shell: True)
    p = panel(session)
    try:
        assert p.wait(WAIT)
        assert "Stop the answer being streamed" in p._stop.tooltip
        styles = []
        session.on_change(lambda topic: topic == "answering" and styles.append(p._stop.button_style))
        press_when(gate, p._stop.click)
        pieces = list(session.ask("a long answer, please"))
        assert pieces == WORDS
        assert styles == ["danger", ""], "Stop is highlighted while an answer streams"
        assert "Stopped the answer" in p._message.value
        assert last_turn(session).interrupted
    finally:
        p.close()


# --- batches --------------------------------------------------------------------------------------------


@pytest.fixture
def five_then_gate(memory_provider) -> Gate:
    """The first five requests are echoed at once; the others wait at the returned gate, never released."""
    held = Gate()
    memory_provider.otherwise = lambda request: echo(request) if len(memory_provider.received) <= 5 else [held]
    return held


def test_stop_ends_a_batch_and_keeps_what_finished(session, five_then_gate):
    press_when(five_then_gate, session.stop, count=2)  # both places of concurrency 2 wait: five are answered
    result = batch([f"prompt {i}" for i in range(40)], session=session, concurrency=2, progress=False)
    assert result.interrupted and len(result) == 40
    assert len(result) - len(result.not_run) == 5 and five_then_gate.wait_cancelled(2)
    assert all(value == f"prompt {i}" for i, value in enumerate(result) if value)
    assert len(session.answering) == 0


@pytest.mark.parametrize("how", ["stop", "interrupt"])
def test_an_awaited_map_cell_ends_early_with_what_finished(magics, shell, five_then_gate, how):
    shell.user_ns["many"] = [f"prompt {i}" for i in range(40)]

    async def cell():
        task = asyncio.ensure_future(magics.ask_async("--map many -o partial --quiet --concurrency 2", "@{item}"))
        if how == "stop":
            press_when(five_then_gate, magics.session.stop, count=2)
        else:  # what ipykernel does to an awaited cell on SIGINT
            await asyncio.to_thread(five_then_gate.arrived, 2, WAIT)
            task.cancel()
        await task

    with pytest.raises(UsageError, match=r"interrupted after 5 of 40; the 5 results are kept in partial"):
        asyncio.run(cell())
    partial = shell.user_ns["partial"]
    assert partial.interrupted and len(partial) - len(partial.not_run) == 5
    assert list(partial[:5]) == [f"prompt {i}" for i in range(5)]
    assert five_then_gate.wait_cancelled(2), "the answers in flight were cancelled"


def test_after_unload_the_panel_no_longer_counts_on_the_rewrite(shell, magics):
    magics.awaiter.supported = True
    assert stop_reaches_answers(shell)
    unload(shell)
    assert not stop_reaches_answers(shell), "an unloaded extension's cells are not rewritten"
