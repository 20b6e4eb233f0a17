"""Stopping an answer: the %%puter rewrite that lets a kernel handle clicks while a cell streams, Session.stop()
on every way of asking, and the panel's Stop button. (A real kernel and a real browser: test_kernel.py and
tests/browser/.)

Stops are timed by the answer itself: the test presses Stop once the consumer has taken N pieces of text;
nothing sleeps.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st
from IPython.core.error import UsageError

from puter_magic.core.answering import Transcript
from puter_magic.notebook.awaiting import CellAwaiter, magic_call
from puter_magic.notebook.batch_call import batch
from puter_magic.notebook.magics import unload
from puter_magic.widgets.kernel import stop_reaches_answers
from puter_magic.widgets.panel import panel

WAIT = 10.0
CHUNKS = 400  # the slow model's answer: 400 words at 40 a second, so a stop always lands mid-answer


@pytest.fixture
def slow(session, puter_server):
    puter_server.state.settings.slow_chunks = CHUNKS
    puter_server.state.settings.slow_rate = 40
    session.set_model("slow")
    return session


def signal_after(chunks: int, monkeypatch) -> threading.Event:
    """An event set once the consumer of an answer (stream(), astream(), %%puter) has taken `chunks` pieces."""
    reached = threading.Event()
    original = Transcript.take

    def counted(self, event):
        text = original(self, event)
        if text is not None and len(self.parts) == chunks:
            reached.set()
        return text

    monkeypatch.setattr(Transcript, "take", counted)
    return reached


def press_when(reached: threading.Event, press) -> threading.Thread:
    def wait_then_press():
        if reached.wait(WAIT):
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


def test_stop_ends_a_sync_stream_and_keeps_the_part_that_arrived(slow, monkeypatch):
    reached = signal_after(3, monkeypatch)
    pressed = press_when(reached, slow.stop)
    pieces = list(slow.stream("a long answer, please"))
    pressed.join(WAIT)
    assert 3 <= len(pieces) < CHUNKS
    turn = last_turn(slow)
    assert turn.interrupted and turn.answer == "".join(pieces)
    assert len(slow.answering) == 0
    slow.set_model("deterministic")
    assert slow.chat("still usable?").text.startswith("Turn 2.")


def test_stop_ends_an_async_stream(slow, monkeypatch):
    reached = signal_after(3, monkeypatch)

    async def ask():
        pieces = []
        press_when(reached, slow.stop)
        async for piece in slow.astream("a long answer, please"):
            pieces.append(piece)
        return pieces

    pieces = asyncio.run(ask())
    assert 3 <= len(pieces) < CHUNKS
    assert last_turn(slow).interrupted


def test_stop_with_nothing_streaming_stops_nothing(session):
    assert session.stop() == 0


# --- %%puter, awaited -----------------------------------------------------------------------------------


def ask(magics, line: str, body: str):
    return asyncio.run(magics.ask_async(line, body))


def test_a_stopped_cell_ends_without_an_error_and_keeps_the_partial_answer(slow, magics, monkeypatch, capsys):
    reached = signal_after(3, monkeypatch)
    press_when(reached, slow.stop)
    assert ask(magics, "", "a long answer, please") is None
    shown = capsys.readouterr().out
    turn = last_turn(slow)
    assert turn.interrupted
    assert 3 <= len(turn.answer.split()) < CHUNKS
    assert shown.startswith(turn.answer)


def test_a_stopped_cell_with_out_says_the_variable_was_not_set(slow, magics, shell, monkeypatch):
    shell.user_ns.pop("stopped_answer", None)
    reached = signal_after(3, monkeypatch)
    press_when(reached, slow.stop)
    with pytest.raises(UsageError, match="stopped — stopped_answer was not set"):
        ask(magics, "-o stopped_answer", "a long answer, please")
    assert "stopped_answer" not in shell.user_ns
    assert last_turn(slow).interrupted


def test_a_stopped_no_stream_cell_keeps_nothing(slow, magics, puter_server, capsys):
    before = puter_server.state.stats()["requests"]

    def press_once_streaming():  # the request reached the server, so the answer is being waited for
        if puter_server.state.wait_for(lambda s: s.stats()["requests"] > before, WAIT):
            slow.stop()

    threading.Thread(target=press_once_streaming, daemon=True).start()
    assert ask(magics, "--no-stream", "a long answer, please") is None
    assert "stopped before the answer arrived" in capsys.readouterr().out
    assert slow.conversations.thread().turns == []


def test_the_kernel_interrupt_of_an_awaited_cell_is_one_line_and_keeps_the_partial_answer(slow, magics, monkeypatch):
    reached = signal_after(3, monkeypatch)

    async def interrupted():
        task = asyncio.ensure_future(magics.ask_async("", "a long answer, please"))
        await asyncio.to_thread(reached.wait, WAIT)
        task.cancel()  # what ipykernel does to an awaited cell on SIGINT
        await task

    with pytest.raises(UsageError, match="interrupted — the part that arrived is kept"):
        asyncio.run(interrupted())
    assert last_turn(slow).interrupted


# --- the panel's Stop -----------------------------------------------------------------------------------


def test_the_panel_stop_button_ends_the_answer_and_says_so(slow, monkeypatch):
    monkeypatch.setattr("puter_magic.widgets.panel.stop_reaches_answers", lambda shell: True)
    p = panel(slow)
    try:
        assert p.wait(WAIT)
        assert "Stop the answer being streamed" in p._stop.tooltip
        styles = []
        slow.on_change(lambda topic: topic == "answering" and styles.append(p._stop.button_style))
        reached = signal_after(3, monkeypatch)
        press_when(reached, p._stop.click)
        pieces = list(slow.stream("a long answer, please"))
        assert len(pieces) < CHUNKS
        assert styles == ["danger", ""], "Stop is highlighted while an answer streams"
        assert "Stopped the answer" in p._message.value
        assert last_turn(slow).interrupted
    finally:
        p.close()


# --- batches --------------------------------------------------------------------------------------------


def press_after_answers(puter_server, count: int, press) -> None:
    def wait_then_press():
        if puter_server.state.wait_for(lambda s: len(s.requests) >= count, WAIT):
            press()

    threading.Thread(target=wait_then_press, daemon=True).start()


def test_stop_ends_a_batch_and_keeps_what_finished(session, puter_server):
    puter_server.state.settings.latency = 0.1
    press_after_answers(puter_server, 5, session.stop)
    result = batch([f"prompt {i}" for i in range(40)], model="echo", session=session, concurrency=2, progress=False)
    assert result.interrupted and len(result) == 40
    assert 0 < len(result) - len(result.not_run) < 40
    assert all(value == f"prompt {i}" for i, value in enumerate(result) if value)
    assert len(session.answering) == 0


@pytest.mark.parametrize("how", ["stop", "interrupt"])
def test_an_awaited_map_cell_ends_early_with_what_finished(magics, shell, puter_server, how):
    magics.session.set_model("echo")
    puter_server.state.settings.latency = 0.1
    shell.user_ns["many"] = [f"prompt {i}" for i in range(40)]

    async def cell():
        task = asyncio.ensure_future(magics.ask_async("--map many -o partial --quiet --concurrency 2", "@{item}"))
        press_after_answers(puter_server, 5, magics.session.stop if how == "stop" else lambda: None)
        if how == "interrupt":  # what ipykernel does to an awaited cell on SIGINT
            await asyncio.to_thread(puter_server.state.wait_for, lambda s: len(s.requests) >= 5, WAIT)
            task.cancel()
        await task

    with pytest.raises(UsageError, match=r"interrupted after (\d+) of 40; the \1 results are kept in partial"):
        asyncio.run(cell())
    partial = shell.user_ns["partial"]
    assert partial.interrupted and 0 < len(partial) - len(partial.not_run) < 40
    assert puter_server.state.wait_for(lambda s: s.in_flight == 0)


def test_after_unload_the_panel_no_longer_counts_on_the_rewrite(shell, magics):
    magics.awaiter.supported = True
    assert stop_reaches_answers(shell)
    unload(shell)
    assert not stop_reaches_answers(shell), "an unloaded extension's cells are not rewritten"
