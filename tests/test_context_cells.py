"""The model's window as a notebook user meets it, in the in-process shell: `%%puter --context N`,
`%config PuterMagics.context_tokens`, `%puter config context_tokens N|auto`, the `%puter status` window line, the
`note:` lines under a cell whose `@{value}` was cut, and the warning when the server answered with another model.

The in-memory provider answers (its default echoes the prompt, so each turn costs its prompt twice); the local
OpenAI-compatible server answers with another model than the one asked for (`answer_model`). Cells shown "as in a
kernel" give the shell a kernel attribute, so outputs go through IPython's display machinery, where
`capture_output()` sees each output's bundle and metadata as a frontend would."""

from __future__ import annotations

import json

import pytest
from cells import run
from IPython.utils.capture import capture_output

from puter_magic.core.fitting import DEFAULT_WINDOW
from puter_magic.core.sessions import Session
from puter_magic.notebook.magics import PuterMagics, unload
from puter_magic.testing.openai_server import LocalOpenAI

QUESTION = "Tell me one short fact about the number {n}, please, in a few words. " * 4  # ~80 tokens, ~160 a turn
LEFT_OUT = "left out to fit the window"


@pytest.fixture
def session(memory_session):
    return memory_session


@pytest.fixture
def as_in_a_kernel(shell, monkeypatch):
    """Outputs go through display(), as in a kernel (notebook/display.py's in_terminal() is False)."""
    monkeypatch.setattr(shell, "kernel", object(), raising=False)


def cell(shell, source: str):
    """Run a cell; (its outputs as a frontend gets them, what it printed to stderr)."""
    with capture_output() as captured:
        run(shell, source)
    return captured.outputs, captured.stderr


def user_texts(memory_provider, number: int = -1) -> list[str]:
    return [m.text for m in memory_provider.requests[number].messages if m.role == "user"]


def ask_four(shell) -> None:
    for n in range(4):
        run(shell, f"%%puter\n{QUESTION.format(n=n)}")


def answer_output(outputs):
    """The answer's final output: the one whose metadata says where it came from."""
    return [o for o in outputs if "model" in o.metadata.get("puter_magic", {})][-1]


# --- which window ------------------------------------------------------------------------------------------------


def test_context_n_leaves_older_turns_out_and_the_footer_says_so(shell, magics, memory_provider, as_in_a_kernel):
    ask_four(shell)
    outputs, _ = cell(shell, "%%puter --context 600\nAnd the number 4?")
    sent = user_texts(memory_provider)
    assert sent[-1] == "And the number 4?" and QUESTION.format(n=3) in sent
    assert QUESTION.format(n=0) not in sent, "the oldest turns did not fit 600 tokens"
    answer = answer_output(outputs)
    left_out = answer.metadata["puter_magic"]["left_out_turns"]
    assert (
        left_out >= 1
        and f"· {left_out} older turn{'s' if left_out > 1 else ''} {LEFT_OUT}</sub>" in answer.data["text/markdown"]
    )
    assert len(magics.session.conversations.thread().turns) == 5, "the thread keeps every turn"
    outputs, _ = cell(shell, "%%puter\nAnd 5?")
    assert QUESTION.format(n=0) in user_texts(memory_provider), "--context was for that cell only"
    assert LEFT_OUT not in answer_output(outputs).data["text/markdown"]


def test_config_context_tokens_trims_every_cell_after_it(shell, magics, memory_provider):
    ask_four(shell)
    run(shell, "%config PuterMagics.context_tokens = 600")
    run(shell, "%%puter\nAnd the number 4?")
    assert QUESTION.format(n=0) not in user_texts(memory_provider)
    run(shell, "%%puter\nAnd 5?")
    assert QUESTION.format(n=0) not in user_texts(memory_provider), "it holds for the cells after it too"
    run(shell, "%config PuterMagics.context_tokens = None")
    run(shell, "%%puter\nAnd 6?")
    assert QUESTION.format(n=0) in user_texts(memory_provider)


def test_puter_config_context_tokens_n_and_auto(shell, magics, memory_provider):
    ask_four(shell)
    report = run(shell, "%puter config context_tokens 600")
    assert magics.context_tokens == 600 and magics.session.context_tokens == 600
    assert report.plain.startswith("Window: 600 tokens (set with %config PuterMagics.context_tokens)")
    run(shell, "%%puter\nAnd the number 4?")
    assert QUESTION.format(n=0) not in user_texts(memory_provider)
    report = run(shell, "%puter config context_tokens auto")
    assert magics.session.context_tokens is None
    assert report.plain.startswith(f"Window: {DEFAULT_WINDOW:,} tokens (the default")
    run(shell, "%%puter\nAnd 5?")
    assert QUESTION.format(n=0) in user_texts(memory_provider)


def test_puter_config_context_tokens_is_the_notebooks_config_too(shell, magics):
    """A magics made later (`%reload_ext`) starts from the shell's config: `auto` must not leave a %config behind."""
    run(shell, "%config PuterMagics.context_tokens = 400")
    run(shell, "%puter config context_tokens auto")
    assert "context_tokens" not in shell.config.PuterMagics
    run(shell, "%puter config context_tokens 700")
    assert shell.config.PuterMagics.context_tokens == 700
    run(shell, "%puter config context_tokens auto")


def test_status_shows_the_window_and_the_threads_share(shell, magics):
    before = run(shell, "%puter status").plain
    assert (
        f"Window: {DEFAULT_WINDOW:,} tokens (the default: the server did not say) · the thread uses about 0" in before
    )
    ask_four(shell)
    used = magics.session.thread_tokens()
    run(shell, "%puter models")  # the list is cached: memory-model's window (8,192) is what its server says
    after = run(shell, "%puter status").plain
    assert f"Window: 8,192 tokens (as the server says) · the thread uses about {used:,} ({used / 8192:.0%})" in after
    run(shell, "%config PuterMagics.context_tokens = 2048")
    assert "Window: 2,048 tokens (set with %config PuterMagics.context_tokens)" in run(shell, "%puter status").plain


# --- what was cut, and who answered --------------------------------------------------------------------------------


def test_a_cut_value_is_a_note_under_the_cell_not_part_of_the_answer(shell, magics, as_in_a_kernel):
    shell.user_ns["big_list"] = list(range(100_000))
    outputs, _ = cell(shell, "%%puter\nWhat is the sum of @{big_list}?")
    [note] = [o for o in outputs if "notes" in o.metadata.get("puter_magic", {})]
    assert (
        note.data["text/plain"].startswith("note: @{big_list}: showed ")
        and "of 100,000 items" in note.data["text/plain"]
    )
    answer = answer_output(outputs)
    assert "note:" not in answer.data["text/markdown"] and "note:" not in answer.data["text/plain"]
    [turn] = magics.session.conversations.thread().turns
    assert "more items cut]" in turn.prompt, "the prompt itself carries the marker"
    saved = json.dumps(magics.session.conversations.to_json())
    assert "note:" not in saved, "the note is not in the saved conversation"


def test_a_cut_value_is_a_note_on_stderr_in_a_terminal(shell, magics):
    shell.user_ns["big_list"] = list(range(100_000))
    _, stderr = cell(shell, "%%puter\nWhat is the sum of @{big_list}?")
    assert stderr.startswith("note: @{big_list}: showed ") and "of 100,000 items" in stderr


@pytest.fixture
def openai_magics(shell):
    with LocalOpenAI(answer_model="echo") as server:
        sess = Session()
        sess.use_provider(server.base_url)
        instance = PuterMagics(shell, session_=sess)
        shell.register_magics(instance)
        shell.events.register("pre_run_cell", instance.on_pre_run_cell)
        try:
            yield instance
        finally:
            unload(shell)
            sess.close()


def test_a_model_answered_by_another_is_named_and_warned_about(shell, openai_magics, as_in_a_kernel):
    outputs, _ = cell(shell, "%%puter -m no-such-model\nhello")
    [warning] = [o for o in outputs if "notes" in o.metadata.get("puter_magic", {})]
    assert warning.data["text/plain"] == "note: no-such-model was not used: the server answered with echo"
    answer = answer_output(outputs)
    assert answer.metadata["puter_magic"]["model"] == "echo"
    assert answer.metadata["puter_magic"]["requested_model"] == "no-such-model"
    assert "<sub>echo" in answer.data["text/markdown"], "the footer names the model that answered"
    _, stderr = cell(shell, "%%puter -m echo\nhello again")
    assert "was not used" not in stderr
