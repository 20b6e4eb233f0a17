"""Several providers in one session: switching, per-cell choice, keys, and history that survives a switch."""

from __future__ import annotations

import pytest

from puter_magic.core.sessions import Session
from puter_magic.errors import ConfigurationError
from puter_magic.testing.openai_server import LocalOpenAI


@pytest.fixture
def local_openai():
    with LocalOpenAI(api_key="sk-local-abcdef") as server:
        yield server


@pytest.fixture
def session(puter_settings, monkeypatch):
    monkeypatch.setenv("LOCAL_KEY", "sk-local-abcdef")
    sess = Session(puter_settings)
    sess.set_model("deterministic")
    yield sess
    sess.close()


def test_a_thread_can_switch_provider_midway(session, local_openai, puter_server):
    first = session.chat("hello puter")
    assert first.provider == "puter" and first.text.startswith("Turn 1.")
    session.use_provider(local_openai.base_url, key_env="LOCAL_KEY")
    assert session.model is None, "each provider keeps its own model"
    session.set_model("echo")
    second = session.chat("hello local")
    assert second.text == "hello local"
    assert second.provider == local_openai.base_url.split("//")[1].split("/")[0]
    sent = [r for r in local_openai.options.seen if r["path"] == "/v1/chat/completions"][-1]
    assert sent["headers"]["authorization"] == "Bearer sk-local-abcdef"
    assert all(puter_server.token not in str(r["headers"]) for r in local_openai.options.seen)
    session.use_provider("puter")
    assert session.model == "deterministic"
    third = session.chat("back again")
    assert "Turn 3." in third.text, "the thread kept every turn across providers"
    assert [t.provider for t in session.conversations.thread().turns] == ["puter", second.provider, "puter"]


def test_a_cell_can_pick_another_provider_without_switching(session, local_openai):
    session.registry.add("local", local_openai.base_url, key_env="LOCAL_KEY")
    pieces = list(session.ask("streamed words here", provider="local", model="echo"))
    assert "".join(pieces) == "streamed words here" and len(pieces) == 3
    assert session.provider_name == "puter"


def test_keys_come_from_the_environment_only(session, local_openai, monkeypatch):
    session.registry.add("local", local_openai.base_url, key_env="LOCAL_KEY")
    monkeypatch.delenv("LOCAL_KEY")
    with pytest.raises(ConfigurationError, match="LOCAL_KEY is not set"):
        session.use_provider("local")
    with pytest.raises(ConfigurationError, match="unknown provider 'nope'"):
        session.use_provider("nope")


def test_models_and_status_of_an_openai_endpoint(session, local_openai):
    session.use_provider(local_openai.base_url, key_env="LOCAL_KEY")
    assert [m.id for m in session.models()] == ["echo", "count"]
    status = session.status()
    assert status.reachable and status.model_count == 2
