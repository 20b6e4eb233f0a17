"""A failed request leaves the conversation exactly as it was; a kept answer (finished or interrupted) applies the
request's `new` and `system` along with its turn.

The session talks to the in-memory provider here (no socket): these tests are about the session's bookkeeping.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puter_magic.config import Settings
from puter_magic.core import conversation_io
from puter_magic.core.sessions import Session
from puter_magic.datatypes import Usage
from puter_magic.errors import InputError, PuterError, ServerError, StreamFailed
from puter_magic.testing.memory import MemoryProvider

REPLIES = {
    "ok": ("first half, ", "second half", Usage(3, 4)),
    "interrupted": ("first half, ", "second half"),
    "fail_before": (ServerError("the upstream failed"),),
    "fail_midway": ("first half, ", StreamFailed("the upstream failed mid-answer", partial="first half, ")),
}


def export(session: Session) -> bytes:
    """What `%puter export` would write, as JSON and as Markdown."""
    conversations = session.conversations
    return "\n".join(conversation_io.render(conversations, name) for name in ("x.json", "x.md")).encode()


def make_session() -> Session:
    session = Session(Settings(api_origin="http://127.0.0.1:9", token=None), provider=MemoryProvider())
    session.set_model("memory-model")
    return session


@pytest.fixture
def session():
    sess = make_session()
    yield sess
    sess.close()


def ask(session: Session, outcome: str, prompt: str = "hi", *, api: str = "chat", **options) -> None:
    """Send one request that ends as `outcome`: ok, interrupted, fail_before, fail_midway or invalid."""
    if outcome == "invalid":
        prompt = "   "  # refused before anything is sent
    else:
        session.provider.enqueue(*REPLIES[outcome])
    if api == "chat" and outcome != "interrupted":
        session.chat(prompt, **options)
        return
    pieces = iter(session.ask(prompt, **options))
    for _ in pieces:
        if outcome == "interrupted":
            pieces.close()  # the caller stops reading: what arrived is kept, flagged
            return


def test_a_failed_new_thread_with_a_system_prompt_changes_nothing(session):
    session.conversations.set_system("the old system prompt")
    ask(session, "ok", "keep me")
    before = export(session)
    for outcome in ("fail_before", "fail_midway"):
        for api in ("chat", "stream"):
            with pytest.raises(ServerError if outcome == "fail_before" else PuterError):
                ask(session, outcome, "lost", api=api, new=True, system="a new system prompt", thread="other")
            with pytest.raises(PuterError):
                ask(session, outcome, "lost", api=api, new=True, system="a new system prompt")
            assert export(session) == before
    thread = session.conversations.thread()
    assert thread.system == "the old system prompt" and [t.prompt for t in thread.turns] == ["keep me"]
    assert "other" not in session.conversations


def test_the_request_already_sees_new_and_system_that_are_applied_when_kept(session):
    session.conversations.set_system("old")
    ask(session, "ok", "one")
    ask(session, "ok", "two", new=True, system="fresh")
    sent = session.provider.requests[-1].messages
    assert [(m.role, m.text) for m in sent] == [("system", "fresh"), ("user", "two")]
    thread = session.conversations.thread()
    assert thread.system == "fresh" and [t.prompt for t in thread.turns] == ["two"]


def test_an_interrupted_answer_is_kept_and_applies_its_options(session):
    ask(session, "ok", "one")
    ask(session, "interrupted", "cut short", new=True, system="S", thread="t")
    thread = session.conversations.thread("t")
    assert thread.system == "S" and [(t.prompt, t.interrupted) for t in thread.turns] == [("cut short", True)]


def test_an_invalid_request_changes_nothing(session):
    before = export(session)
    with pytest.raises(InputError):
        ask(session, "invalid", new=True, system="S", thread="t")
    with pytest.raises(InputError):
        ask(session, "ok", new=True, system="S", thread="bad\nname")
    assert export(session) == before


OUTCOMES = ("ok", "interrupted", "fail_before", "fail_midway", "invalid")
requests = st.fixed_dictionaries(
    {
        "outcome": st.sampled_from(OUTCOMES),
        "api": st.sampled_from(("chat", "stream")),
        "thread": st.sampled_from((None, "default", "a", "b")),
        "new": st.booleans(),
        "system": st.sampled_from((None, "", "S1", "S2")),
        "key": st.sampled_from((None, "cell-1", "cell-2")),
        "history": st.sampled_from((True, True, True, False)),
    }
)


@settings(max_examples=150, deadline=None)
@given(st.lists(requests, max_size=12))
def test_after_any_failure_the_export_is_byte_identical(steps):
    session = make_session()
    try:
        for number, step in enumerate(steps):
            options = dict(step)
            outcome, api = options.pop("outcome"), options.pop("api")
            before = export(session)
            try:
                ask(session, outcome, f"prompt {number}", api=api, **options)
            except PuterError:
                assert outcome in ("fail_before", "fail_midway", "invalid")
                assert export(session) == before, f"step {number} failed and changed the conversation"
            else:
                assert outcome in ("ok", "interrupted")
                if options["history"]:
                    name = options["thread"] or session.conversations.active
                    last = session.conversations.thread(name).turns
                    assert any(t.prompt == f"prompt {number}" for t in last), "a kept answer is recorded"
                else:
                    assert export(session) == before, "a one-off question keeps nothing"
    finally:
        session.close()
