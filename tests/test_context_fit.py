"""Threads fitted to each server's real window: found, overridden, learned from an overflow and retried once.

Real llama-server with a 512-token window (`llama_small_context`) for the window from /props, a long thread and an
overflow recovered; the local OpenAI-compatible server for each server's words of an overflow and for a model
answered by another; the local Puter server for Puter's relayed overflows.
"""

from __future__ import annotations

import pytest

from puter_magic.core.fitting import DEFAULT_WINDOW
from puter_magic.core.formats import footer, substitution_warning
from puter_magic.core.sessions import Session
from puter_magic.errors import ContextOverflow
from puter_magic.testing.faults import Fault
from puter_magic.testing.openai_server import LocalOpenAI

QUESTION = "Tell me one short fact about the number {n}, please, in a few words. " * 3  # ~60 tokens


@pytest.fixture
def session(tmp_path, monkeypatch):
    monkeypatch.setenv("PUTER_MAGIC_HOME", str(tmp_path))
    sess = Session()
    yield sess
    sess.close()


def chat_requests(server: LocalOpenAI) -> list[dict]:
    return [r for r in server.options.seen if r["path"] == "/v1/chat/completions"]


def users(reply) -> list[str]:
    return [m.text for m in reply.request.messages if m.role == "user"]


# --- real llama-server, -c 512 --------------------------------------------------------------------------------


def test_a_long_thread_keeps_working_in_a_512_token_window(session, llama_small_context):
    server = llama_small_context
    session.use_provider(server.base_url)
    session.set_model(server.model)
    replies = []
    for n in range(10):
        reply = session.ask(QUESTION.format(n=n), max_tokens=24)
        reply.text()  # raises if the server refused the request
        replies.append(reply)
    assert session.window() == (512, "server"), "the window came from the server (/v1/models meta or /props)"
    assert not any(reply.retried for reply in replies), "the server's window was respected from the first request"
    assert replies[-1].left_out > 0 and len(session.conversations.thread().turns) == 10
    assert "left out to fit the window" in footer(replies[-1].answer())
    assert users(replies[-1])[-2] == QUESTION.format(n=8), "the newest turns are the ones kept"


def test_an_overflow_is_retried_once_trimmed_and_the_window_learned(session, llama_small_context):
    server = llama_small_context
    session.use_provider(server.base_url)
    session.set_model(server.model)
    replies = []
    for n in range(8):  # the user's window, a wrong one: the server refuses once the thread outgrows 512 tokens
        replies.append(session.ask(QUESTION.format(n=n), max_tokens=24, context=100_000))
        replies[-1].text()
    retried = [reply for reply in replies if reply.retried]
    assert retried, "the server refused the whole thread; the trimmed one was answered"
    assert all(reply.left_out > 0 for reply in retried)
    assert "left out to fit the window" in footer(retried[0].answer())
    assert session.window() == (512, "learned")
    assert len(session.conversations.thread().turns) == 8
    follow = session.ask(QUESTION.format(n=8), max_tokens=24)
    follow.text()
    assert not follow.retried, "the learned window is used from then on"


def test_a_prompt_longer_than_the_window_fails_once_and_keeps_nothing(session, llama_small_context):
    server = llama_small_context
    session.use_provider(server.base_url)
    session.set_model(server.model)
    session.ask("hello", max_tokens=8).text()
    before = session.conversations.to_json()
    with pytest.raises(ContextOverflow) as info:
        session.ask("word " * 600, max_tokens=8).text()
    assert info.value.window == 512
    assert session.conversations.to_json() == before, "a failed request leaves the thread as it was"
    session.ask("and now?", max_tokens=8).text()  # the thread is not stuck


# --- the local OpenAI-compatible server: each server's words ----------------------------------------------------


@pytest.mark.parametrize("overflow", ["openai", "llama.cpp", "llama-cpp-python", "vllm"])
def test_each_servers_overflow_is_recovered_once(session, overflow):
    with LocalOpenAI(window=300, overflow=overflow) as server:
        session.use_provider(server.base_url)
        session.set_model("echo")
        for n in range(3):
            session.ask(f"question {n} " + "x" * 80, context=100_000).text()
        sent = len(chat_requests(server))
        reply = session.ask("question 3 " + "x" * 80, context=100_000)
        assert reply.text().startswith("question 3")
        assert reply.retried and users(reply)[0] != "question 0 " + "x" * 80
        assert session.windows.learned, "the window the error named is remembered"
        streamed_probe = 1 if overflow == "llama-cpp-python" else 0  # its empty stream is asked again unstreamed
        assert len(chat_requests(server)) - sent == 2 + streamed_probe, "one retry, not more"


def test_a_second_overflow_raises_and_records_nothing(session):
    with LocalOpenAI(window=150, overflow="openai") as server:
        session.use_provider(server.base_url)
        session.set_model("echo")
        session.ask("a" * 60, context=100_000).text()
        session.ask("b" * 60, context=100_000).text()  # the first is left out by the retry
        before = session.conversations.to_json()
        sent = len(chat_requests(server))
        with pytest.raises(ContextOverflow):
            session.ask("c" * 200, context=100_000).text()  # the prompt alone is too long: nothing to leave out
        assert len(chat_requests(server)) - sent == 2, "one retry, trimmed, then the error"
        assert session.conversations.to_json() == before


@pytest.mark.parametrize("shape", ["llama.cpp", "vllm", "ollama", "lmstudio"])
def test_the_window_is_discovered_where_each_server_says_it(session, shape):
    with LocalOpenAI(window=700, shape=shape) as server:
        session.use_provider(server.base_url)
        session.set_model("echo")
        assert session.window() == (DEFAULT_WINDOW, "default"), "nothing asked before a request"
        session.ask("hi").text()
        assert session.window() == (700, "server")
        session.context_tokens = 4096
        assert session.window() == (4096, "override")


def test_a_model_answered_by_another_is_named_and_warned_about(session):
    with LocalOpenAI(answer_model="echo") as server:
        session.use_provider(server.base_url)
        answer = session.chat("hello", model="no-such-model")
    assert answer.model == "echo" and answer.substituted
    assert answer.provenance()["requested_model"] == "no-such-model"
    assert substitution_warning(answer) == "no-such-model was not used: the server answered with echo"
    assert footer(answer).startswith("echo")


def test_the_same_model_answering_gives_no_warning(session):
    with LocalOpenAI() as server:
        session.use_provider(server.base_url)
        answer = session.chat("hello", model="echo")
    assert not answer.substituted and substitution_warning(answer) is None
    assert "requested_model" not in answer.provenance()


# --- the local Puter server: Puter relays the model maker's words ----------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        Fault.http(400, message="prompt is too long: 900 tokens > 200 maximum"),
        Fault.error_line(after=0, message="prompt is too long: 900 tokens > 200 maximum"),
        Fault.http(400, message="Context size has been exceeded."),  # no window named: the budget shrinks
    ],
    ids=["status", "stream-line", "unsized"],
)
def test_puters_relayed_overflow_is_recovered_once(puter_settings, puter_server, fault):
    session = Session(puter_settings)
    try:
        session.set_model("echo")
        for n in range(3):
            session.ask(f"question {n} " + "x" * 80).text()
        puter_server.state.inject(fault)
        reply = session.ask("question 3")
        assert reply.text() == "question 3"
        assert reply.retried and session.window()[1] == "learned"
    finally:
        session.close()


def listings(puter_server) -> int:
    return sum(1 for r in puter_server.state.requests if r.path == "/puterai/chat/models/details")


def test_puters_window_is_asked_only_when_a_thread_nears_the_default(puter_settings, puter_server):
    session = Session(puter_settings)
    try:
        session.set_model("echo")  # the local server lists it with a 32,768-token window
        session.ask("a short question").text()
        assert listings(puter_server) == 0, "a request far from the default window costs no model list"
        assert session.window() == (DEFAULT_WINDOW, "default")
        long = "word " * 1500
        replies = []
        for n in range(4):
            replies.append(session.ask(f"{n}: {long}"))
            replies[-1].text()
        assert listings(puter_server) == 1, "the list is asked once, when the thread came close to 8,192 tokens"
        assert session.window() == (32768, "server")
        assert not any(reply.left_out for reply in replies), "nothing was left out of a thread that fits 32,768"
        session.ask("and now?").text()
        assert listings(puter_server) == 1, "asked once per provider"
    finally:
        session.close()
