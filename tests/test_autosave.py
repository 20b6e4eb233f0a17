"""Autosave resumes what its file holds and never replaces a file it did not read: across sessions, across real
kernels, with another writer, with a file that is no conversation save, and with a crash in the middle of a write."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from puter_magic.core import conversation_io
from puter_magic.core.sessions import Session
from puter_magic.errors import InputError


@pytest.fixture
def open_session(puter_settings):
    """Sessions on the local Puter server with the deterministic model; all closed at the end."""
    made: list[Session] = []

    def make() -> Session:
        session = Session(puter_settings)
        session.set_model("deterministic")
        made.append(session)
        return session

    yield make
    for session in made:
        session.close()


def prompts(path: Path, thread: str = "default") -> list[str]:
    return [turn["prompt"] for turn in json.loads(path.read_text())["threads"][thread]["turns"]]


def test_a_new_session_resumes_the_file_and_adds_to_it(open_session, tmp_path):
    path = tmp_path / "chat.json"
    first = open_session()
    assert first.start_autosave(path) is None, "nothing to resume yet"
    first.chat("one")
    first.chat("two", thread="side", system="Be brief.")
    second = open_session()
    assert second.start_autosave(path) == f"resumed 2 threads, 2 turns from {path}"
    assert second.chat("three").text.startswith("Turn 2. You said: three. Before that you said: one.")
    assert prompts(path) == ["one", "three"] and prompts(path, "side") == ["two"]
    assert second.conversations.thread("side").system == "Be brief."


def test_turns_from_before_autosave_started_are_added_once(open_session, tmp_path):
    path = tmp_path / "chat.json"
    first = open_session()
    first.start_autosave(path)
    first.chat("from the file")
    second = open_session()
    second.chat("from this session", thread="mine")
    assert second.start_autosave(path) == f"resumed 1 thread, 1 turn from {path}, and added this session's 1 turn"
    assert second.conversations.active == "default"
    second.chat("next", thread="mine")
    assert prompts(path) == ["from the file"] and prompts(path, "mine") == ["from this session", "next"]


def test_setting_the_same_file_again_is_quiet(open_session, tmp_path):
    path = tmp_path / "chat.json"
    session = open_session()
    session.start_autosave(path)
    session.chat("one")
    assert session.start_autosave(path) is None
    assert len(session.conversations.thread().turns) == 1


@pytest.mark.parametrize("how", ["changed after it was read", "appeared after autosave started"])
def test_a_file_someone_else_wrote_is_not_overwritten(open_session, tmp_path, caplog, how):
    path = tmp_path / "chat.json"
    if how == "changed after it was read":
        path.write_text(json.dumps({"version": 1, "threads": {}}))  # both sessions read it
    mine, theirs = open_session(), open_session()
    mine.start_autosave(path)
    theirs.start_autosave(path)
    theirs.chat("theirs")  # the other kernel writes first
    written = path.read_bytes()
    with caplog.at_level(logging.WARNING, logger="puter_magic"):
        mine.chat("mine")
    assert path.read_bytes() == written, "the other writer's turns are still there"
    [record] = [r for r in caplog.records if "autosave" in r.getMessage()]
    message = record.getMessage()
    assert f"{path} changed since this session read it" in message and "`%puter export`" in message
    assert "\n" not in message
    assert [t.prompt for t in mine.conversations.thread().turns] == ["mine"], "kept in memory"
    mine.start_autosave(None)
    assert mine.start_autosave(path) == f"resumed 1 thread, 1 turn from {path}, and added this session's 1 turn"
    mine.chat("after merging")
    assert prompts(path) == ["theirs", "mine", "after merging"]


def test_a_file_that_disappeared_is_written_again(open_session, tmp_path):
    path = tmp_path / "chat.json"
    session = open_session()
    session.start_autosave(path)
    session.chat("one")
    path.unlink()
    session.chat("two")
    assert prompts(path) == ["one", "two"]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("chat.json", b"{not json", "is not a JSON file"),
        ("chat.json", b"", "is not a JSON file"),
        ("chat.json", b'{"version": 99, "threads": {}}', "'version' must be 1"),
        ("chat.json", b"\xff\xfe", "is not a JSON file"),
        ("chat.md", b"## Thread: default\n", "a Markdown transcript cannot be resumed"),
    ],
)
def test_a_file_that_is_no_conversation_save_is_refused_and_kept(open_session, tmp_path, name, content, problem):
    path = tmp_path / name
    path.write_bytes(content)
    session = open_session()
    session.chat("before")
    before = conversation_io.render(session.conversations, "x.json")
    with pytest.raises(InputError) as info:
        session.start_autosave(path)
    line = info.value.one_line()
    assert problem in line and "it was left as it is" in line and "\n" not in line
    assert session.autosave is None
    session.chat("after")
    assert path.read_bytes() == content
    assert conversation_io.render(session.conversations, "x.json") != before, "the session carries on"


def test_a_folder_or_an_odd_suffix_is_refused(open_session, tmp_path):
    session = open_session()
    (tmp_path / "folder.json").mkdir()
    with pytest.raises(InputError, match="cannot read"):
        session.start_autosave(tmp_path / "folder.json")
    with pytest.raises(InputError, match=r"must name a \.json"):
        session.start_autosave(tmp_path / "notes.txt")
    assert session.autosave is None


def test_a_crash_in_the_middle_of_a_write_leaves_the_old_file(open_session, tmp_path, monkeypatch, caplog):
    path = tmp_path / "chat.json"
    session = open_session()
    session.start_autosave(path)
    session.chat("saved")
    saved = path.read_bytes()

    def crash(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(conversation_io.os, "fsync", crash)
    with caplog.at_level(logging.WARNING, logger="puter_magic"):
        session.chat("not saved")
    assert path.read_bytes() == saved
    assert sorted(os.listdir(tmp_path)) == ["chat.json"], "no temp file is left behind"
    assert any("No space left on device" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    session.chat("saved again")
    assert prompts(path) == ["saved", "not saved", "saved again"], "the next write catches up"


# --- two real kernels -----------------------------------------------------------------------------


def test_a_second_kernel_resumes_what_the_first_saved(puter_server, tmp_path):
    pytest.importorskip("ipykernel")
    from test_kernel import Kernel, kernel_env

    path = tmp_path / "notebook-chat.json"
    env = kernel_env(puter_server, tmp_path)
    setup = f'%load_ext puter_magic\n%puter model deterministic\n%config PuterMagics.autosave = "{path}"'

    def printed(messages: list[dict]) -> str:
        return "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream")

    first = Kernel(env)
    try:
        reply, messages = first.execute(setup)
        assert reply["content"]["status"] == "ok" and "resumed" not in printed(messages)
        assert first.execute("%%puter\nfirst kernel", "cell-1")[0]["content"]["status"] == "ok"
    finally:
        first.close()
    second = Kernel(env)
    try:
        reply, messages = second.execute(setup)
        assert reply["content"]["status"] == "ok"
        assert printed(messages).strip() == f"resumed 1 thread, 1 turn from {path}"
        reply, messages = second.execute("%%puter\nsecond kernel", "cell-2")
        assert reply["content"]["status"] == "ok"
        answer = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")][-1]
        assert answer["content"]["data"]["text/plain"].startswith(
            "Turn 2. You said: second kernel. Before that you said: first kernel."
        )
        assert prompts(path) == ["first kernel", "second kernel"]
        elsewhere = path.read_text().replace("second kernel", "edited elsewhere")
        path.write_text(elsewhere)  # as another kernel on the same file would
        reply, messages = second.execute("%%puter\nthird", "cell-3")
        assert reply["content"]["status"] == "ok", "the answer itself is fine"
        warned = [
            m["content"]["text"] for m in messages if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
        ]
        assert len(warned) == 1 and "changed since this session read it" in warned[0], warned
        assert "\n" not in warned[0].rstrip("\n") and "Traceback" not in warned[0], "one line"
        assert path.read_text() == elsewhere, "not overwritten"
    finally:
        second.close()
