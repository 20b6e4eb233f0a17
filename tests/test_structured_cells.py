"""`%%puter --schema TYPE -o VAR` in a real IPython shell, answered by the local Puter server's scripted model (its
request log shows what reached "Puter"): typed objects in VAR, the retry after prose, the one-line failure that
shows the text and keeps nothing, and names that are looked up, never evaluated. Both ways a cell runs: as IPython
calls cell magics, and rewritten into an awaited call (where Stop works)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from cells import run
from IPython.core.error import UsageError
from proxies import chat_calls

from puter_magic.core.sessions import Session
from puter_magic.notebook.magics import PuterMagics, unload

ADA = {"name": "Ada Lovelace", "age": 36}
GRACE = {"name": "Grace Hopper", "age": 85}
PROSE = "Ada Lovelace was an English mathematician; she died at 36."

DEFINE = '''
import dataclasses

@dataclasses.dataclass
class Person:
    """Someone named in the text."""
    name: str
    age: int
'''


@pytest.fixture(params=["called", "awaited"])
def puter_magics(request, shell, puter_settings, puter_server):
    sess = Session(puter_settings)
    sess.set_model("tools-scripted")
    instance = PuterMagics(shell, session_=sess)
    shell.register_magics(instance)
    shell.events.register("pre_run_cell", instance.on_pre_run_cell)
    if request.param == "awaited":
        instance.awaiter.supported = True
        instance.awaiter.install()
        assert shell.transform_cell("%%puter\nHi").startswith("await ")
    run(shell, DEFINE)
    try:
        yield instance
    finally:
        instance.awaiter.uninstall()
        unload(shell)
        sess.close()
        puter_server.reset()


def export(session: Session) -> bytes:
    from puter_magic.core import conversation_io

    return "\n".join(conversation_io.render(session.conversations, n) for n in ("x.json", "x.md")).encode()


def test_prose_then_json_fills_the_variable_with_typed_objects(shell, puter_magics, puter_server, capsys):
    puter_server.state.script.enqueue(PROSE, json.dumps(ADA))
    run(shell, "%%puter --schema Person -o ada\nWho is Ada?", "c1")
    ada = shell.user_ns["ada"]
    assert dataclasses.is_dataclass(ada) and type(ada) is shell.user_ns["Person"]
    assert (ada.name, ada.age) == ("Ada Lovelace", 36)
    assert '"age": 36' in capsys.readouterr().out  # shown as JSON
    first, _ = chat_calls(puter_server)
    assert first["text"]["format"]["name"] == "Person" and first["outputFormat"] == first["text"]["format"]
    assert first["messages"][-1]["content"].startswith("Who is Ada?\n\nAnswer with JSON only")
    (turn,) = puter_magics.session.conversations.thread().turns
    assert (turn.prompt, json.loads(turn.answer)) == ("Who is Ada?", ADA)


def test_a_list_of_them(shell, puter_magics, puter_server):
    puter_server.state.script.enqueue(json.dumps({"items": [ADA, GRACE]}))
    run(shell, "%%puter --schema list[Person] -o people --no-stream\nName two pioneers.", "c2")
    people = shell.user_ns["people"]
    assert [(p.name, p.age) for p in people] == [("Ada Lovelace", 36), ("Grace Hopper", 85)]
    (call,) = chat_calls(puter_server)
    assert call["text"]["format"]["schema"]["required"] == ["items"]


def test_never_valid_is_one_line_shows_the_text_and_keeps_nothing(shell, puter_magics, puter_server, capsys):
    run(shell, "%%puter\nHello", "c0")
    before = export(puter_magics.session)
    shell.user_ns.pop("ada", None)
    puter_server.state.script.enqueue(PROSE, '{"name": "Ada", "age": "36"}')
    with pytest.raises(UsageError) as caught:
        run(shell, "%%puter --schema Person -o ada\nWho is Ada?", "c3")
    message = str(caught.value)
    assert message.startswith('the answer does not fit Person, even when asked again: age: expected integer, got "36"')
    assert "\n" not in message
    assert '{"name": "Ada", "age": "36"}' in capsys.readouterr().out  # the text that did not fit is shown
    assert export(puter_magics.session) == before and "ada" not in shell.user_ns


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("Persn", "--schema Persn: Persn is not defined"),
        ("__import__('os')", "give a name or list[Name]"),
        ("DEFINE", "is a str, not a class or a JSON-schema dict"),
    ],
)
def test_the_schema_is_a_name_looked_up_never_code(shell, puter_magics, puter_server, spec, words):
    shell.user_ns["DEFINE"] = DEFINE
    with pytest.raises(UsageError) as caught:
        run(shell, f'%%puter --schema "{spec}" -o x\nWho?', "c4")
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert chat_calls(puter_server) == []
