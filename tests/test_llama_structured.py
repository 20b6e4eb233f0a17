"""Structured answers end to end against llama.cpp's llama-server and its tiny random-weight model (fixture
`llama_tools_server`): `response_format` json_schema is honoured by the server's grammar, so the session sends no
instruction, and what comes back is checked here and converted — its values are the model's gibberish, its shape
the schema's. Streamed and not; a list is sent wrapped in an object (`{"items": …}`) and read back as a list."""

from __future__ import annotations

import dataclasses

import pytest

from puter_magic.config import Settings
from puter_magic.core.loop import LoopThread
from puter_magic.core.sessions import Session


@dataclasses.dataclass
class Person:
    name: str
    age: int


@pytest.fixture
def llama_session(llama_tools_server):
    loop = LoopThread("llama-structured")
    session = Session(Settings(), loop=loop)
    session.use_provider(llama_tools_server.base_url)
    session.set_model(llama_tools_server.model)
    try:
        yield session
    finally:
        session.close()
        loop.close()


@pytest.mark.parametrize("stream", [False, True])
def test_a_dataclass_comes_back_typed_from_the_grammar(llama_session, stream):
    reply = llama_session.ask("Who is Ada?", schema=Person, stream=stream, max_tokens=200)
    reply.wait()
    assert isinstance(reply.value, Person)
    assert isinstance(reply.value.name, str) and isinstance(reply.value.age, int)
    assert reply.asked == 1, "the grammar made the first answer fit"
    assert reply.request.messages[-1].content == "Who is Ada?", "the server honours the format: no instruction"
    assert reply.request.response_format["json_schema"]["schema"]["required"] == ["name", "age"]
    (turn,) = llama_session.conversations.thread().turns
    assert turn.prompt == "Who is Ada?" and turn.answer == reply.text()


def test_a_list_is_sent_wrapped_and_comes_back_as_a_list(llama_session):
    people = llama_session.chat("Name some people.", schema=list[Person], max_tokens=300)
    assert isinstance(people, list) and all(isinstance(person, Person) for person in people)
