"""Structured answers (core/structured.py) on the in-memory provider: what is sent, the check, the one retry, the
one-line failure keeping the text, and what the conversation keeps."""

from __future__ import annotations

import dataclasses
import json
from typing import TypedDict

import pytest

from puter_magic.core import conversation_io
from puter_magic.core.structured import Wanted, extract_json, resolve, with_instruction
from puter_magic.datatypes import ChatRequest, Message, Usage
from puter_magic.errors import InputError, SchemaMismatch, ServerError


@dataclasses.dataclass
class Person:
    """Someone named in the text.

    Attributes:
        name: their full name
        age: in years
    """

    name: str
    age: int


class City(TypedDict):
    name: str


ADA = {"name": "Ada Lovelace", "age": 36}
PROSE = "Ada Lovelace was an English mathematician; she died at 36."


def saved(session) -> bytes:
    """What `%puter export` would write, as JSON and as Markdown."""
    conversations = session.conversations
    return "\n".join(conversation_io.render(conversations, name) for name in ("x.json", "x.md")).encode()


# --- the pure parts ------------------------------------------------------------------------------------


def test_the_json_is_a_fenced_block_or_the_whole_text():
    assert extract_json('Here:\n```json\n{"a": 1}\n```\nDone.') == '{"a": 1}'
    assert extract_json("```\n[1]\n```") == "[1]"
    assert extract_json('  {"a": 1}\n') == '{"a": 1}'


def test_a_list_is_sent_wrapped_in_an_object_and_read_back_either_way():
    wanted = Wanted.of(list[Person])
    sent = wanted.response_format()
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "list_Person"
    schema = sent["json_schema"]["schema"]
    assert schema["type"] == "object" and schema["required"] == ["items"]
    assert schema["properties"]["items"]["items"]["required"] == ["name", "age"]
    people = [Person("Ada Lovelace", 36)]
    assert wanted.read(json.dumps({"items": [ADA]})) == people
    assert wanted.read(json.dumps([ADA])) == people


def test_what_does_not_fit_is_one_line_naming_where_and_keeps_the_text():
    with pytest.raises(SchemaMismatch) as caught:
        Wanted.of(Person).read('{"name": "Ada", "age": "old"}')
    assert caught.value.message == 'age: expected integer, got "old"'
    assert caught.value.text == '{"name": "Ada", "age": "old"}'
    with pytest.raises(SchemaMismatch, match="not valid JSON"):
        Wanted.of(Person).read(PROSE)


def test_json_object_means_any_object():
    wanted = Wanted.from_response_format({"type": "json_object"})
    assert wanted is not None and wanted.read('{"x": [1]}') == {"x": [1]}
    with pytest.raises(SchemaMismatch, match="expected a JSON object"):
        wanted.read("[1, 2]")
    assert Wanted.from_response_format({"type": "text"}) is None


def test_the_instruction_goes_into_the_last_user_message():
    request = ChatRequest((Message("system", "Be brief."), Message("user", "Who?"), Message("assistant", "…")), "m")
    sent = with_instruction(request, Wanted.of(Person))
    assert sent.messages[0] == request.messages[0] and sent.messages[2] == request.messages[2]
    assert sent.messages[1].content.startswith("Who?\n\nAnswer with JSON only")
    assert '"required":["name","age"]' in sent.messages[1].content


def test_schema_names_are_looked_up_never_evaluated():
    namespace = {"Person": Person, "City": City, "shape": {"type": "object"}, "n": 3, "mod": dataclasses}
    assert resolve("Person", namespace) is Person
    assert resolve(" list[Person] ", namespace) == list[Person]
    assert resolve("shape", namespace) == {"type": "object"}
    assert resolve("mod.Field", namespace) is dataclasses.Field
    for spec, words in [
        ("Persn", "Persn is not defined"),
        ("n", "n is a int, not a class"),
        ("__import__('os').system('x')", "give a name or list[Name]"),
        ("dict[str, Person]", "give a name or list[Name]"),
    ]:
        with pytest.raises(InputError, match=words.replace("[", r"\[")):
            resolve(spec, namespace)


# --- through a Session: what is sent, the retry, what is kept ---------------------------------------------


def test_json_at_once_is_one_request_and_one_turn(memory_session, memory_provider):
    memory_provider.enqueue(json.dumps(ADA), Usage(10, 5))
    assert memory_session.chat("Who is Ada?", schema=Person) == Person("Ada Lovelace", 36)
    (request,) = memory_provider.requests
    assert request.response_format["json_schema"]["schema"]["required"] == ["name", "age"]
    assert "Answer with JSON only" in request.messages[-1].content  # the provider does not honour schemas
    (turn,) = memory_session.conversations.thread().turns
    assert (turn.prompt, turn.answer) == ("Who is Ada?", json.dumps(ADA))


def test_prose_then_json_is_asked_again_once_and_only_the_answer_that_fits_is_kept(memory_session, memory_provider):
    memory_provider.enqueue(PROSE, Usage(10, 12))
    memory_provider.enqueue("```json\n" + json.dumps(ADA) + "\n```", Usage(40, 6))
    reply = memory_session.ask("Who is Ada?", schema=Person, stream=True)
    pieces = list(reply)
    assert reply.value == Person("Ada Lovelace", 36) and reply.asked == 2
    assert "".join(pieces) == "```json\n" + json.dumps(ADA) + "\n```"  # the prose never reached the reader
    assert reply.usage == Usage(50, 18)  # both requests were paid for
    first, second = memory_provider.requests
    assert second.messages[: len(first.messages)] == first.messages
    assert second.messages[-2] == Message("assistant", PROSE)
    assert second.messages[-1].content.startswith("That answer does not fit: the answer: not valid JSON")
    (turn,) = memory_session.conversations.thread().turns
    assert turn.prompt == "Who is Ada?" and json.loads(extract_json(turn.answer)) == ADA


def test_never_valid_is_one_line_keeping_the_text_and_the_conversation_is_untouched(memory_session, memory_provider):
    memory_session.chat("Hello")
    before = saved(memory_session)
    memory_provider.enqueue(PROSE)
    memory_provider.enqueue('{"name": "Ada", "age": "thirty-six"}')
    with pytest.raises(SchemaMismatch) as caught:
        memory_session.chat("Who is Ada?", schema=Person)
    assert caught.value.one_line() == (
        'the answer does not fit Person, even when asked again: age: expected integer, got "thirty-six" — '
        "the answer is kept in the error's .text; simplify the schema, or try another model"
    )
    assert caught.value.text == '{"name": "Ada", "age": "thirty-six"}'
    assert saved(memory_session) == before
    assert len(memory_provider.requests) == 3  # "Hello", then the two attempts: no third


def test_a_failed_retry_request_keeps_nothing(memory_session, memory_provider):
    before = saved(memory_session)
    memory_provider.enqueue(PROSE)
    memory_provider.enqueue(ServerError("upstream down"))
    with pytest.raises(ServerError):
        memory_session.chat("Who is Ada?", schema=Person)
    assert saved(memory_session) == before


def test_a_provider_that_honours_schemas_gets_no_instruction(memory_session, memory_provider):
    memory_provider.structured_output = True
    memory_provider.enqueue(json.dumps([ADA]))
    assert memory_session.chat("Who?", schema=list[Person]) == [Person("Ada Lovelace", 36)]
    (request,) = memory_provider.requests
    assert request.messages[-1].content == "Who?" and request.response_format["type"] == "json_schema"


def test_typeddicts_and_schema_dicts_give_plain_data(memory_session, memory_provider):
    memory_provider.enqueue('{"name": "Paris"}')
    memory_provider.enqueue('{"n": 2}')
    assert memory_session.chat("A city?", schema=City) == {"name": "Paris"}
    shape = {"title": "count", "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    assert memory_session.chat("How many?", schema=shape) == {"n": 2}
    assert memory_provider.requests[-1].response_format["json_schema"]["name"] == "count"


def test_achat_returns_the_value_too(memory_session, memory_provider, monkeypatch):
    import asyncio

    from puter_magic.core import public, sessions

    monkeypatch.setattr(sessions, "_session", lambda: memory_session)
    memory_provider.enqueue(json.dumps(ADA))
    assert asyncio.run(public.achat("Who?", schema=Person)) == Person("Ada Lovelace", 36)
