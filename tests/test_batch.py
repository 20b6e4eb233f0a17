"""batch() and %%puter --map: order, failures, retries, bounds, Ctrl-C, progress.

Most answers come from the in-memory provider (`session` here; its default answer echoes the prompt), timed by
Gates the tests release; retries, rate limits and the bounds on requests in flight are the wire's and the
server's business, so those tests talk to the local Puter server (`puter_session`)."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
import threading

import pytest
from cells import run
from IPython.core.error import UsageError

from puter_magic.batches.progress import Snapshot
from puter_magic.batches.values import BatchError, BatchResult
from puter_magic.core.sessions import Session
from puter_magic.datatypes import Usage
from puter_magic.errors import InputError, ServerError
from puter_magic.notebook.batch_call import batch
from puter_magic.notebook.progress_bars import TerminalProgress, WidgetProgress
from puter_magic.testing import Fault
from puter_magic.testing.memory import Gate, echo

# --- helpers --------------------------------------------------------------------------------------


WAIT = 10.0


@pytest.fixture
def session(memory_session):
    """The in-memory session (the conftest `magics` fixture builds on it too)."""
    return memory_session


@pytest.fixture
def puter_session(puter_settings):
    sess = Session(puter_settings)
    sess.set_model("echo")
    yield sess
    sess.close()


@pytest.fixture
def five_then_gate(memory_provider) -> Gate:
    """The first five requests are echoed at once; the others wait at the returned gate (then echo)."""
    held = Gate()
    memory_provider.otherwise = lambda req: echo(req) if len(memory_provider.received) <= 5 else [held, *echo(req)]
    return held


def once(condition) -> threading.Event:
    """An event set (from a helper thread) once `condition()` returns true."""
    event = threading.Event()
    threading.Thread(target=lambda: condition() and event.set(), daemon=True).start()
    return event


def limited_session(puter_settings, max_concurrent):
    sess = Session(dataclasses.replace(puter_settings, max_concurrent=max_concurrent))
    sess.set_model("echo")
    return sess


def prompts(n):
    return [f"prompt {i}" for i in range(n)]


def calls(server):
    return [r for r in server.state.requests if r.path == "/drivers/call"]


class Recorder:
    """A progress reporter that remembers what it was told; `reached` is set once `threshold` items are done."""

    def __init__(self, threshold=None):
        self.threshold = threshold
        self.reached = threading.Event()
        self.updates: list[Snapshot] = []
        self.final: Snapshot | None = None

    def start(self, snapshot):
        self.first = snapshot

    def update(self, snapshot):
        self.updates.append(snapshot)
        if self.threshold is not None and snapshot.done >= self.threshold:
            self.reached.set()

    def finish(self, snapshot, *, keep=True):
        self.final = snapshot


# --- order, failures, retries ---------------------------------------------------------------------


def test_answers_come_back_in_input_order_whatever_finishes_first(session, memory_provider):
    first = Gate()  # the first request to arrive is the last to be answered
    memory_provider.otherwise = lambda req: [first, *echo(req)] if req is memory_provider.requests[0] else echo(req)
    reporter = Recorder(threshold=11)
    release = once(lambda: reporter.reached.wait(WAIT) and first.arrivals == 1)
    threading.Thread(target=lambda: release.wait(WAIT) and first.release(), daemon=True).start()
    result = batch(prompts(12), concurrency=4, session=session, progress=reporter)
    assert isinstance(result, BatchResult)
    assert list(result) == prompts(12)
    assert result.ok and not result.errors and not result.interrupted
    assert release.is_set(), "the first item was answered after the eleven others"
    assert [a.text for a in result.answers] == prompts(12)
    assert result.labels == list(range(12)) and result.prompts == prompts(12)


def test_failed_items_become_errors_and_the_others_complete(session, memory_provider):
    for _ in range(3):
        memory_provider.enqueue(ServerError("Internal Server Error", hint="try again in a moment"))
    result = batch(prompts(20), concurrency=4, session=session, progress=False)
    assert len(result) == 20 and not result.ok
    assert len(result.errors) == 3 and result.not_run == []
    for label, error in result.errors.items():
        assert result[label] is error
        assert error.kind == "ServerError" and not error
        assert str(error).startswith("⚠ Internal Server Error")
    assert [v for v in result if v] == [p for i, p in enumerate(prompts(20)) if i not in result.errors]
    assert "17 answered · 3 failed" in result.summary()


def test_retries_follow_the_provider_policy_and_are_counted(puter_session, puter_server):
    puter_server.state.inject(Fault.http(429, retry_after=0.05, count=4))
    result = batch(prompts(10), concurrency=3, session=puter_session, progress=False)
    assert list(result) == prompts(10)
    assert result.retries == 4
    assert len(calls(puter_server)) == 10 + 4, "each retry is one more request on the server"
    assert "4 retries" in result.summary()


def test_a_retry_after_too_long_to_wait_fails_only_that_item(puter_session, puter_server):
    puter_server.state.inject(Fault.http(429, retry_after=600))
    result = batch(prompts(5), concurrency=1, session=puter_session, progress=False)
    assert [type(v) for v in result].count(BatchError) == 1
    assert result.errors[0].kind == "RateLimited" and "about 10 min" in result.errors[0].message
    assert list(result[1:]) == prompts(5)[1:]


# --- concurrency ----------------------------------------------------------------------------------


def test_the_batch_bounds_the_requests_in_flight(puter_session, puter_server):
    puter_server.state.settings.latency = 0.05
    result = batch(prompts(24), concurrency=3, session=puter_session, progress=False)
    assert result.ok
    assert puter_server.state.stats()["max_in_flight"] == 3


def test_the_provider_limiter_bounds_the_batch_too(puter_settings, puter_server):
    sess = limited_session(puter_settings, max_concurrent=2)
    try:
        puter_server.state.settings.latency = 0.05
        result = batch(prompts(16), concurrency=8, session=sess, progress=False)
    finally:
        sess.close()
    assert result.ok
    assert puter_server.state.stats()["max_in_flight"] == 2, "min(concurrency 8, the limiter's 2)"


# --- Ctrl-C ---------------------------------------------------------------------------------------


def test_ctrl_c_keeps_the_finished_items_and_marks_the_rest_not_run(session, memory_provider, five_then_gate, ctrl_c):
    reporter = Recorder()
    ctrl_c.press_when(once(lambda: five_then_gate.arrived(2, WAIT)))  # both places wait: five are answered
    result = batch(prompts(40), concurrency=2, session=session, progress=reporter)
    assert result.interrupted and not result.ok
    answered = [i for i, v in enumerate(result) if v]
    assert answered == [0, 1, 2, 3, 4] and five_then_gate.wait_cancelled(2)
    assert all(result[i] == f"prompt {i}" for i in answered)
    assert result.not_run and all(result[i].not_run for i in result.not_run)
    assert sorted(answered + result.not_run) == list(range(40))
    assert reporter.final.state == "interrupted" and reporter.final.done == len(answered)
    assert len(memory_provider.received) == 7, "the items not started were never sent"
    assert f"{len(answered)} answered · {40 - len(answered)} not run (interrupted)" in result.summary()
    memory_provider.otherwise = echo
    assert list(batch(["still usable"], session=session, progress=False)) == ["still usable"]


# --- progress -------------------------------------------------------------------------------------


def test_the_terminal_line_reaches_the_end(session):
    stream = io.StringIO()
    reporter = TerminalProgress(stream, live=True)
    batch(prompts(20), concurrency=2, session=session, progress=reporter)
    text = stream.getvalue()
    assert text.startswith("\r") and text.endswith("\n")
    final = text.rsplit("\r", 1)[-1]
    assert "█" * reporter.width in final and "20/20 done" in final
    assert reporter.lines >= 2


def test_the_terminal_line_is_written_once_when_stderr_is_not_a_terminal(session, capsys):
    batch(prompts(3), session=session)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\r" not in err and "3/3 done" in err


def test_the_widget_reaches_the_end_updated_from_the_loop_thread(session, five_then_gate, capsys):
    reporter = WidgetProgress()
    threads = set()
    reporter.bar.observe(lambda change: threads.add(threading.current_thread().name), names="value")
    updated = threading.Event()  # set by the tick after the first five answers: the others wait for it
    reporter.bar.observe(lambda change: change["new"] == 5 and updated.set(), names="value")
    threading.Thread(target=lambda: updated.wait(WAIT) and five_then_gate.release(), daemon=True).start()
    result = batch(prompts(20), concurrency=2, session=session, progress=reporter)
    assert result.ok
    assert reporter.bar.value == reporter.bar.max == 20
    assert reporter.bar.bar_style == "success"
    assert reporter.label.value.startswith("20/20 done")
    assert "puter-magic-loop" in threads, "updates are trait assignments on the loop thread"


def test_snapshot_lines():
    running = Snapshot(total=20, done=5, failed=1, retries=2, cost_usd=0.0004, elapsed=2.0)
    assert running.describe() == "5/20 · 2.5/s · ETA 6.0 s · 1 failed · 2 retries · $0.0004"
    finished = dataclasses.replace(running, done=20, state="finished")
    assert finished.describe(timing=False) == "20/20 done · 1 failed · 2 retries · $0.0004"
    assert (
        dataclasses.replace(running, state="interrupted").describe(timing=False).startswith("interrupted after 5 of 20")
    )


# --- inputs ---------------------------------------------------------------------------------------


def test_lists_tuples_dicts_and_templates(session):
    assert list(batch(("a", "b"), session=session, progress=False)) == ["a", "b"]
    keyed = batch({"x": "first", "y": "second"}, session=session, progress=False)
    assert keyed.labels == ["x", "y"] and keyed.to_dict() == {"x": "first", "y": "second"}
    assert list(batch("@{key}=@{value}", {"x": 1, "y": 2}, session=session, progress=False)) == ["x=1", "y=2"]
    people = [{"name": "Ada", "age": 36}, {"name": "Alan", "age": 41}]
    shown = batch("@{index}: @{name} is @{row.age}", people, session=session, progress=False)
    assert list(shown) == ["0: Ada is 36", "1: Alan is 41"]
    pairs = batch("@{item[0]} and @{item[1]}", [("salt", "pepper")], session=session, progress=False)
    assert list(pairs) == ["salt and pepper"]
    assert list(batch((f"n{i}" for i in range(3)), session=session, progress=False)) == ["n0", "n1", "n2"]


def test_a_row_that_cannot_fill_the_template_fails_alone(session, memory_provider):
    rows = [{"name": "Ada"}, {"nom": "Alan"}, {"name": "Grace"}]
    result = batch("Hello @{name}", rows, session=session, progress=False)
    assert list(result[::2]) == ["Hello Ada", "Hello Grace"]
    assert result.errors[1].kind == "InputError" and "unknown name 'name'" in result.errors[1].message
    assert len(memory_provider.received) == 2


def test_mistakes_that_would_fail_every_item_fail_the_call_before_sending(session, memory_provider):
    sess = session
    sess.set_model(None)
    with pytest.raises(InputError, match="no model chosen"):
        batch(prompts(3), session=sess, progress=False)
    sess.set_model("echo")
    with pytest.raises(InputError, match="unknown name 'titel'"):
        batch("About @{titel}", [{"title": "x"}, {"title": "y"}], session=sess, progress=False)
    with pytest.raises(InputError, match="one prompt"):
        batch("just one", session=sess, progress=False)
    with pytest.raises(InputError, match="concurrency"):
        batch(prompts(2), concurrency=0, session=sess, progress=False)
    assert memory_provider.received == []
    empty = batch([], session=sess)
    assert empty == [] and empty.ok and empty.summary() == "0 answered"


# --- pandas (installed as a dev dependency: these tests fail, not skip, without it) -----------------


def test_a_series_comes_back_as_a_series_on_the_same_index(session, memory_provider):
    import pandas as pd

    titles = pd.Series(["cats", "dogs", "owls"], index=["c", "a", "b"], name="topic")
    memory_provider.enqueue(ServerError("Internal Server Error"))
    answers = batch("About @{item} (@{index})", titles, session=session, progress=False, concurrency=1)
    assert isinstance(answers, pd.Series)
    assert list(answers.index) == ["c", "a", "b"]
    assert isinstance(answers["c"], BatchError) and answers["c"].kind == "ServerError"
    assert answers["a"] == "About dogs (a)" and answers["b"] == "About owls (b)"


def test_dataframe_rows_are_namespaces(session):
    import pandas as pd

    df = pd.DataFrame({"title": ["Dune", "Emma"], "year": [1965, 1815]}, index=[10, 20])
    df["line"] = batch("@{title} (@{row.year}), row @{index}", df, session=session, progress=False)
    assert df["line"].tolist() == ["Dune (1965), row 10", "Emma (1815), row 20"]
    with pytest.raises(InputError, match="DataFrame needs a template"):
        batch(df, session=session, progress=False)


def test_a_template_sees_the_namespace_under_the_rows(session):
    rows = [{"title": "Dune"}, {"title": "Emma"}]
    namespace = {"language": "French", "title": "not this one"}
    answers = batch("@{title} in @{language}", rows, session=session, progress=False, namespace=namespace)
    assert list(answers) == ["Dune in French", "Emma in French"]
    with pytest.raises(InputError, match="unknown name 'language'"):  # without it, the rows' fields only
        batch("@{title} in @{language}", rows, session=session, progress=False)


def test_pandas_is_never_imported_by_batch():
    code = "import sys, puter_magic.batches.run, puter_magic.batches.values; print('pandas' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


# --- history --------------------------------------------------------------------------------------


def test_history_is_off_by_default_and_on_when_asked(session, memory_provider):
    session.chat("earlier", thread="notes")
    result = batch(["a", "b", "c"], session=session, progress=False)
    assert list(result) == ["a", "b", "c"]
    assert session.conversations.thread().turns == []
    kept = batch(["d", "e", "f"], session=session, progress=False, history=True, thread="notes")
    assert [t.prompt for t in session.conversations.thread("notes").turns] == ["earlier", "d", "e", "f"]
    assert [a.thread for a in kept.answers] == ["notes"] * 3
    sent = sorted([(m.role, m.text) for m in request.messages] for request in memory_provider.requests[1:])
    assert sent[:3] == [[("user", prompt)] for prompt in ("a", "b", "c")], "without history, the prompt alone"
    earlier = [("user", "earlier"), ("assistant", "earlier")]
    assert sent[3:] == [[*earlier, ("user", prompt)] for prompt in ("d", "e", "f")], (
        "every item sees the thread as it was before"
    )


# --- the result -----------------------------------------------------------------------------------


def test_the_result_shows_a_summary_and_a_table():
    error = BatchError("Internal Server Error — try again", "ServerError")
    result = BatchResult(["one | two", error, "three\nlines"], prompts=["p0", "p1", "p2"])
    text = repr(result)
    assert text.splitlines()[0] == "BatchResult: 2 answered · 1 failed"
    assert "1  ⚠ Internal Server Error — try again" in text and "2  three lines" in text
    bundle = result._repr_mimebundle_()
    assert "| 0 | p0 | one \\| two |" in bundle["text/markdown"]
    assert bundle["text/plain"] == text
    long = BatchResult([str(i) for i in range(30)])
    assert repr(long).splitlines()[-1].strip() == "…  and 10 more"


# --- %%puter --map --------------------------------------------------------------------------------


def test_map_asks_the_cell_for_every_item(shell, magics, memory_provider, capsys):
    memory_provider.otherwise = lambda request: [*echo(request), Usage(10, 5, 0.0001)]
    shell.user_ns.update(animals=["cat", "dog", "owl"], language="French")
    run(shell, "%%puter --map animals -o names --concurrency 2\nName a @{item} in @{language}")
    names = shell.user_ns["names"]
    assert list(names) == [f"Name a {a} in French" for a in ("cat", "dog", "owl")]
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("BatchResult: 3 answered · $")
    assert "3/3 done" in captured.err
    assert magics.session.conversations.thread().turns == [], "--map answers are not kept in the thread"


def test_map_formats_errors_quiet_and_pandas(shell, magics, memory_provider, capsys):
    import pandas as pd

    shell.user_ns["payloads"] = ['{"a": 1}', "not json", '{"b": [2]}']
    run(shell, "%%puter --map payloads -f json -o parsed --quiet\n@{item}")
    parsed = shell.user_ns["parsed"]
    assert parsed[0] == {"a": 1} and parsed[2] == {"b": [2]}
    assert isinstance(parsed[1], BatchError) and "not JSON" in parsed[1].message
    assert capsys.readouterr().out == ""
    shell.user_ns["df"] = pd.DataFrame({"city": ["Oslo", "Lima"]}, index=["no", "pe"])
    run(shell, "%%puter --map df -o answers --quiet\nWeather in @{city}?")
    assert shell.user_ns["answers"].to_dict() == {"no": "Weather in Oslo?", "pe": "Weather in Lima?"}
    memory_provider.enqueue(ServerError("Internal Server Error"))
    run(shell, "%%puter --map payloads --concurrency 1\n@{item}")
    assert "2 answered · 1 failed" in capsys.readouterr().out


def test_map_refuses_what_does_not_apply(shell, magics, memory_provider):
    shell.user_ns["xs"] = [1, 2]
    for options, expected in (
        ("--map nothing_here", "unknown name 'nothing_here'"),
        ("--map xs --insert", "--insert does not go with --map"),
        ("--map xs -t notes", "-t/--thread does not go with --map"),
    ):
        with pytest.raises(UsageError, match=expected):
            run(shell, f"%%puter {options}\n@{{item}}")
    assert memory_provider.received == []


def test_map_interrupted_keeps_the_finished_results(shell, magics, five_then_gate, ctrl_c):
    shell.user_ns["many"] = prompts(40)
    ctrl_c.press_when(once(lambda: five_then_gate.arrived(2, WAIT)))
    with pytest.raises(UsageError, match=r"interrupted after 5 of 40; the 5 results are kept in partial"):
        run(shell, "%%puter --map many -o partial --quiet --concurrency 2\n@{item}")
    partial = shell.user_ns["partial"]
    assert partial.interrupted and len(partial) == 40
    assert list(partial[:5]) == prompts(5) and partial.not_run == list(range(5, 40))
    assert five_then_gate.wait_cancelled(2), "the answers in flight were cancelled"
