"""Tests for puter_magic.core.conversation: threads, turns keyed by cell, trimming, JSON and Markdown export."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import stat
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sources import absolute_imports, parsed

from puter_magic.core import conversation_io, conversation_json
from puter_magic.core.conversation import Conversations, Thread, Turn, estimate_tokens, message_tokens
from puter_magic.datatypes import Message, ToolCall, Usage
from puter_magic.errors import ConfigurationError, InputError


def turn(prompt: str, answer: str = "", key: str | None = None, **kwargs) -> Turn:
    return Turn(prompt, answer or f"answer to {prompt}", key, **kwargs)


def texts(messages: list[Message]) -> list[tuple[str, str]]:
    return [(message.role, message.text) for message in messages]


# --- estimates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"), [("", 0), ("a", 1), ("abcdef", 1), ("abcdefg", 2), ("x" * 400, 67), ('{"a": 12}', 6)]
)
def test_trimming_counts_with_the_calibrated_estimate(text, tokens):
    assert estimate_tokens(text) == tokens  # core/tokens.py's, not characters / 4


def test_message_tokens_adds_the_overhead():
    assert message_tokens(Message("user", "abcdefgh")) == 2 + 4
    assert message_tokens(Message("user", [{"type": "text", "text": "abcd"}])) == 1 + 4


def test_a_turn_is_counted_by_the_count_asked_and_a_changed_turn_anew():
    turn = Turn("abcdefgh", "abcdefghijklm")
    assert turn.tokens() == turn.tokens(lambda text: estimate_tokens(text)) == 2 + 3 + 2 * 4
    assert turn.tokens(count=len) == 8 + 13 + 2 * 4, "another count is not answered from the estimate"
    assert dataclasses.replace(turn, answer="a").tokens() == 2 + 1 + 2 * 4


def test_a_server_count_replaces_the_estimate():
    assert message_tokens(Message("user", "abcdefgh"), count=len) == 8 + 4
    assert Turn("ab", "cde").tokens(count=len) == 2 + 3 + 2 * 4
    conversations = Conversations()
    for number in range(3):
        conversations.record(turn("x" * 10, "y" * 10, key=str(number)))  # 28 tokens a turn by len, 12 estimated
    budget = message_tokens(Message("user", "go"), count=len) + 2 * 28
    assert len(conversations.messages("go", budget=budget, count=len)) == 5
    assert len(conversations.messages("go", budget=budget)) == 7


# --- threads -----------------------------------------------------------------------------------------


def test_a_new_session_has_one_empty_active_default_thread():
    conversations = Conversations()
    assert conversations.active == "default"
    assert conversations.names() == ["default"]
    assert conversations.thread() == Thread("default")


def test_thread_gets_or_creates():
    conversations = Conversations()
    draft = conversations.thread("draft")
    assert draft is conversations.thread("draft")
    assert conversations.names() == ["default", "draft"]
    assert conversations.active == "default"


def test_switch_makes_a_thread_active_and_creates_it():
    conversations = Conversations()
    conversations.record(turn("in default"))
    conversations.switch("side")
    conversations.record(turn("in side"))
    assert conversations.active == "side"
    assert [t.prompt for t in conversations.context()] == ["in side"]
    assert [t.prompt for t in conversations.context("default")] == ["in default"]
    conversations.switch("default")
    assert [t.prompt for t in conversations.context()] == ["in default"]


def test_thread_names_are_stripped_and_checked():
    conversations = Conversations()
    assert conversations.switch("  draft ").name == "draft"
    for bad in ["", "   ", "two\nlines", "tab\there"]:
        with pytest.raises(InputError, match="is not a thread name"):
            conversations.thread(bad)


def test_set_system_and_blank_removes_it():
    conversations = Conversations()
    conversations.set_system("Be brief.")
    assert conversations.thread().system == "Be brief."
    conversations.set_system("   ")
    assert conversations.thread().system is None
    conversations.set_system("Pirate.", "other")
    assert conversations.thread("other").system == "Pirate."
    assert conversations.thread().system is None


def test_clear_keeps_the_system_prompt_new_drops_it():
    conversations = Conversations()
    conversations.set_system("Be brief.")
    conversations.record(turn("one"))
    conversations.clear()
    assert conversations.thread() == Thread("default", "Be brief.", [])
    conversations.record(turn("two"))
    conversations.new()
    assert conversations.thread() == Thread("default", None, [])


def test_delete_removes_a_thread_and_falls_back_to_default():
    conversations = Conversations()
    conversations.switch("side")
    conversations.record(turn("x"))
    conversations.delete("side")
    assert conversations.names() == ["default"]
    assert conversations.active == "default"
    assert "side" not in conversations


def test_delete_an_inactive_thread_keeps_the_active_one():
    conversations = Conversations()
    conversations.thread("a")
    conversations.switch("b")
    conversations.delete("a")
    assert conversations.names() == ["default", "b"]
    assert conversations.active == "b"


def test_delete_the_default_thread_only_clears_it():
    conversations = Conversations()
    conversations.set_system("Be brief.")
    conversations.record(turn("x"))
    conversations.delete("default")
    assert conversations.names() == ["default"]
    assert conversations.thread() == Thread("default", "Be brief.", [])


def test_delete_an_unknown_thread():
    conversations = Conversations()
    with pytest.raises(InputError, match="no thread named 'nope'") as caught:
        conversations.delete("nope")
    assert "default" in caught.value.hint


def test_clear_an_unknown_thread_is_an_error_and_creates_nothing():
    conversations = Conversations()
    with pytest.raises(InputError, match="no thread named 'nope'"):
        conversations.clear("nope")
    assert conversations.names() == ["default"]


# --- recording and context -----------------------------------------------------------------------------


def test_record_appends_turns_in_order():
    conversations = Conversations()
    for prompt in ["a", "b", "c"]:
        conversations.record(turn(prompt, key=f"cell-{prompt}"))
    assert [t.prompt for t in conversations.thread().turns] == ["a", "b", "c"]


def test_rerunning_a_cell_replaces_its_turn_in_place():
    conversations = Conversations()
    for key in ["c1", "c2", "c3"]:
        conversations.record(turn(f"first {key}", key=key))
    conversations.record(turn("second c2", key="c2"))
    assert [t.prompt for t in conversations.thread().turns] == ["first c1", "second c2", "first c3"]


def test_turns_without_a_key_are_always_appended():
    conversations = Conversations()
    conversations.record(turn("same"))
    conversations.record(turn("same"))
    assert len(conversations.thread().turns) == 2


def test_the_same_key_in_another_thread_is_another_turn():
    conversations = Conversations()
    conversations.record(turn("a", key="c1"))
    conversations.record(turn("b", key="c1"), "other")
    assert [t.prompt for t in conversations.thread().turns] == ["a"]
    assert [t.prompt for t in conversations.thread("other").turns] == ["b"]


def test_context_before_a_rerun_turn():
    conversations = Conversations()
    for key in ["c1", "c2", "c3"]:
        conversations.record(turn(key, key=key))
    assert [t.prompt for t in conversations.context(key="c2")] == ["c1"]
    assert [t.prompt for t in conversations.context(key="c1")] == []
    assert [t.prompt for t in conversations.context(key="c4")] == ["c1", "c2", "c3"]
    assert [t.prompt for t in conversations.context()] == ["c1", "c2", "c3"]


def test_context_is_a_copy_and_unknown_threads_are_empty():
    conversations = Conversations()
    conversations.record(turn("a"))
    conversations.context().clear()
    assert len(conversations.thread().turns) == 1
    assert conversations.context("never-used") == []
    assert "never-used" not in conversations


# --- messages and trimming -----------------------------------------------------------------------------


def test_messages_are_system_context_pairs_and_the_prompt():
    conversations = Conversations()
    conversations.set_system("Be brief.")
    conversations.record(turn("q1", "a1"))
    conversations.record(turn("q2", "a2"))
    assert texts(conversations.messages("q3")) == [
        ("system", "Be brief."),
        ("user", "q1"),
        ("assistant", "a1"),
        ("user", "q2"),
        ("assistant", "a2"),
        ("user", "q3"),
    ]


def test_messages_for_a_rerun_cell_leave_out_its_old_turn_and_later_ones():
    conversations = Conversations()
    for key in ["c1", "c2", "c3"]:
        conversations.record(turn(key, key=key))
    assert texts(conversations.messages("c2 again", key="c2")) == [
        ("user", "c1"),
        ("assistant", "answer to c1"),
        ("user", "c2 again"),
    ]


def test_interrupted_turns_are_included_with_their_partial_answer():
    conversations = Conversations()
    conversations.record(turn("long story", "Once upon a", interrupted=True))
    assert texts(conversations.messages("go on")) == [
        ("user", "long story"),
        ("assistant", "Once upon a"),
        ("user", "go on"),
    ]


def test_trimming_drops_the_oldest_whole_turns_first():
    conversations = Conversations()
    conversations.set_system("s" * 40)
    for number in range(5):
        conversations.record(turn(f"q{number}" + "q" * 38, f"a{number}" + "a" * 38))
    prompt = "p" * 40
    each = conversations.thread().turns[0].tokens()
    budget = message_tokens(Message("system", "s" * 40)) + message_tokens(Message("user", prompt)) + 2 * each
    messages = conversations.messages(prompt, budget=budget)
    assert [m.role for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[1].text.startswith("q3") and messages[3].text.startswith("q4")
    assert sum(map(message_tokens, messages)) == budget
    # one token less: the older of the two goes
    assert texts(conversations.messages(prompt, budget=budget - 1))[1][1].startswith("q4")


def test_reserve_leaves_room_for_the_answer():
    conversations = Conversations()
    for number in range(10):
        conversations.record(turn("x" * 40, "y" * 40, key=str(number)))
    prompt_cost = message_tokens(Message("user", "go"))
    each = conversations.thread().turns[0].tokens()
    assert len(conversations.messages("go", budget=1000, reserve=1000 - prompt_cost - 3 * each)) == 7
    assert len(conversations.messages("go", budget=1000, reserve=0)) == 21


def test_the_system_prompt_and_new_prompt_survive_any_budget():
    conversations = Conversations()
    conversations.set_system("s" * 1000)
    conversations.record(turn("old", "answer"))
    messages = conversations.messages("p" * 1000, budget=10)
    assert texts(messages) == [("system", "s" * 1000), ("user", "p" * 1000)]
    assert texts(conversations.messages("p", budget=10, reserve=50)) == [("system", "s" * 1000), ("user", "p")]


def test_a_big_old_turn_does_not_let_older_small_turns_jump_the_queue():
    conversations = Conversations()
    conversations.record(turn("small old", "ok"))
    conversations.record(turn("huge", "z" * 10_000))
    conversations.record(turn("small new", "ok"))
    assert [m.text for m in conversations.messages("now", budget=100) if m.role == "user"] == ["small new", "now"]


def test_bad_budgets_are_configuration_errors():
    conversations = Conversations()
    with pytest.raises(ConfigurationError, match="budget"):
        conversations.messages("hi", budget=0)
    with pytest.raises(ConfigurationError, match="0 or more"):
        conversations.messages("hi", reserve=-1)


def test_messages_for_a_new_thread_do_not_create_it():
    conversations = Conversations()
    assert texts(conversations.messages("hi", "fresh")) == [("user", "hi")]
    assert conversations.names() == ["default"]


def test_messages_can_show_the_thread_started_over_or_with_another_system_prompt():
    conversations = Conversations()
    conversations.set_system("old")
    conversations.record(turn("one", "first"))
    before = conversations.to_json()
    assert texts(conversations.messages("hi", new=True)) == [("user", "hi")]
    assert texts(conversations.messages("hi", new=True, system="S")) == [("system", "S"), ("user", "hi")]
    assert texts(conversations.messages("hi", system="S"))[0] == ("system", "S")
    assert texts(conversations.messages("hi", system="")) == [("user", "one"), ("assistant", "first"), ("user", "hi")]
    assert texts(conversations.messages("hi", "fresh", system="S")) == [("system", "S"), ("user", "hi")]
    assert conversations.to_json() == before and conversations.names() == ["default"], "nothing changed"


def test_ten_thousand_turns_trim_to_the_newest():
    conversations = Conversations()
    thread = conversations.thread()
    thread.turns.extend(turn(f"question {n:05d}", f"answer {n:05d}", key=f"cell-{n}") for n in range(10_000))
    messages = conversations.messages("last question", budget=8192, reserve=1024)
    assert sum(map(message_tokens, messages)) <= 8192 - 1024
    users = [m.text for m in messages if m.role == "user"]
    assert users[-1] == "last question"
    assert users[-2] == "question 09999"
    kept = len(users) - 1
    assert users[0] == f"question {10_000 - kept:05d}"
    # one more turn would not have fitted
    assert sum(map(message_tokens, messages)) + thread.turns[-kept - 1].tokens() > 8192 - 1024
    # re-running a cell in the middle sees only what came before it
    rerun = conversations.messages("again", key="cell-5000", budget=8192)
    assert [m.text for m in rerun if m.role == "user"][-2] == "question 04999"


TURNS = st.lists(st.tuples(st.text(max_size=80), st.text(max_size=200), st.booleans()), max_size=30)


@given(
    turns=TURNS,
    system=st.none() | st.text(max_size=100),
    prompt=st.text(max_size=100),
    budget=st.integers(1, 2000),
    reserve=st.integers(0, 500),
)
def test_trimming_fits_the_budget_and_keeps_the_newest_turns(turns, system, prompt, budget, reserve):
    conversations = Conversations()
    conversations.set_system(system)
    for question, answer, interrupted in turns:
        conversations.record(Turn(question, answer, interrupted=interrupted))
    messages = conversations.messages(prompt, budget=budget, reserve=reserve)
    fixed = 2 if conversations.thread().system else 1
    kept = (len(messages) - fixed) // 2
    assert messages[-1] == Message("user", prompt)
    if kept:  # any history at all means everything fits
        assert sum(map(message_tokens, messages)) <= budget - reserve
    # the kept turns are exactly the newest ones, in order
    expected = [m for t in conversations.thread().turns[len(turns) - kept :] for m in t.messages()]
    assert messages[fixed - 1 : -1] == expected
    # and the next older turn would not have fitted
    if kept < len(turns):
        older = conversations.thread().turns[len(turns) - kept - 1]
        assert sum(map(message_tokens, messages)) + older.tokens() > budget - reserve


# --- JSON --------------------------------------------------------------------------------------------


def sample() -> Conversations:
    conversations = Conversations()
    conversations.set_system("Be brief.")
    conversations.record(
        Turn("q1", "a1", "cell-1", "gpt-4o", "puter", Usage(10, 20, 0.0012, estimated=True), created=1700000000.5)
    )
    conversations.record(Turn("q2", "partial", "cell-2", interrupted=True, created=1700000001.0))
    conversations.switch("side")
    conversations.record(Turn("é ✓ 😀", "ünïcode", None, "llama3", "openai", Usage(5, None, None), created=1.0))
    return conversations


def test_to_json_shape():
    data = sample().to_json()
    assert data["version"] == 1
    assert data["active"] == "side"
    assert list(data["threads"]) == ["default", "side"]
    assert data["threads"]["default"]["system"] == "Be brief."
    assert data["threads"]["default"]["turns"][0] == {
        "prompt": "q1",
        "answer": "a1",
        "key": "cell-1",
        "model": "gpt-4o",
        "provider": "puter",
        "usage": {"input_tokens": 10, "output_tokens": 20, "cost_usd": 0.0012, "estimated": True},
        "interrupted": False,
        "created": 1700000000.5,
    }
    assert data["threads"]["default"]["turns"][1]["usage"] is None
    assert json.loads(json.dumps(data)) == data


def test_json_round_trip():
    original = sample()
    restored = Conversations.from_json(json.loads(json.dumps(original.to_json())))
    assert restored == original
    assert restored.to_json() == original.to_json()
    assert restored.names() == ["default", "side"]


def test_from_json_fills_optional_fields_and_adds_the_default_thread():
    restored = Conversations.from_json(
        {"version": 1, "threads": {"only": {"turns": [{"prompt": "p", "answer": "a", "created": 3}]}}, "active": "only"}
    )
    assert restored.names() == ["default", "only"]
    assert restored.thread("only").turns == [Turn("p", "a", created=3.0)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be a JSON object"),
        ({"threads": {}}, "'version' must be 1, not None"),
        ({"version": 2, "threads": {}}, "'version' must be 1, not 2"),
        ({"version": 1}, "'threads' must be an object"),
        ({"version": 1, "threads": {"a": []}}, "thread 'a' must be an object"),
        ({"version": 1, "threads": {" a": {}}}, "invalid thread name"),
        ({"version": 1, "threads": {}, "active": "ghost"}, "'active' names no thread: 'ghost'"),
        ({"version": 1, "threads": {}, "active": 3}, "active must be text, not an integer"),
        ({"version": 1, "threads": {"a": {"system": 5}}}, "thread 'a'.system must be text or null, not an integer"),
        ({"version": 1, "threads": {"a": {"turns": {}}}}, "thread 'a'.turns must be a list, not an object"),
        ({"version": 1, "threads": {"a": {"turns": ["x"]}}}, "thread 'a' turn 1 must be an object"),
        ({"version": 1, "threads": {"a": {"turns": [{"answer": "x"}]}}}, "thread 'a' turn 1 has no 'prompt'"),
        (
            {"version": 1, "threads": {"a": {"turns": [{"prompt": "p", "answer": None}]}}},
            "thread 'a' turn 1.answer must be text, not null",
        ),
        (
            {"version": 1, "threads": {"a": {"turns": [{"prompt": "p", "answer": "a", "interrupted": 1}]}}},
            "interrupted must be true or false, not an integer",
        ),
        (
            {"version": 1, "threads": {"a": {"turns": [{"prompt": "p", "answer": "a", "created": True}]}}},
            "created must be a number, not true or false",
        ),
        (
            {
                "version": 1,
                "threads": {"a": {"turns": [{"prompt": "p", "answer": "a", "usage": {"input_tokens": "3"}}]}},
            },
            "turn 1.usage.input_tokens must be an integer or null, not text",
        ),
        (
            {"version": 1, "threads": {"a": {"turns": [{"prompt": "p", "answer": "a", "usage": [1]}]}}},
            "usage must be an object or null, not a list",
        ),
        (
            {"version": 1, "threads": {"a": {"turns": [{"prompt": "p", "answer": "", "key": "k"}] * 2}}},
            "two turns with the same cell key",
        ),
    ],
)
def test_from_json_rejects_bad_shapes(data, message):
    with pytest.raises(InputError) as caught:
        Conversations.from_json(data)
    assert message in caught.value.message


# --- files -------------------------------------------------------------------------------------------


def test_save_and_load_json(tmp_path):
    path = tmp_path / "nested" / "dir" / "chat.json"
    sample().save(path)
    assert Conversations.load(path) == sample()
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == 1
    assert "😀" in path.read_text(encoding="utf-8")  # UTF-8, not \u escapes
    assert [p.name for p in path.parent.iterdir()] == ["chat.json"]  # no temp file left behind


def test_save_accepts_a_string_path_and_overwrites(tmp_path):
    path = str(tmp_path / "chat.json")
    sample().save(path)
    Conversations().save(path)
    assert Conversations.load(path) == Conversations()


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_save_uses_the_usual_file_mode_and_keeps_an_existing_one(tmp_path):
    umask = os.umask(0o022)
    try:
        path = tmp_path / "chat.json"
        Conversations().save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        path.chmod(0o600)
        sample().save(path)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(umask)


def test_save_markdown_writes_every_thread(tmp_path):
    path = tmp_path / "chat.md"
    sample().save(path)
    text = path.read_text(encoding="utf-8")
    assert "## Thread: default" in text and "## Thread: side" in text
    with pytest.raises(InputError, match="Markdown transcripts are export only"):
        Conversations.load(path)


def test_save_refuses_an_unknown_suffix(tmp_path):
    with pytest.raises(InputError, match="cannot tell the format"):
        Conversations().save(tmp_path / "chat.txt")
    assert list(tmp_path.iterdir()) == []


def test_save_into_an_unwritable_place_is_an_input_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(InputError, match="cannot write"):
        Conversations().save(blocker / "chat.json")
    directory = tmp_path / "folder.json"
    directory.mkdir()
    with pytest.raises(InputError, match="cannot write"):
        Conversations().save(directory)
    assert list(directory.iterdir()) == []


def test_load_a_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(InputError, match="no conversation file at") as caught:
        Conversations.load(path)
    assert str(path) in caught.value.message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "is not a JSON file"),
        (b"\xff\xfe garbage", "is not a JSON file"),
        (b"[1, 2]", "must be a JSON object"),
        (b'{"version": 1, "threads": {"a": {"turns": [{}]}}}', "thread 'a' turn 1 has no 'prompt'"),
        (b"[" * 100_000, "is not a JSON file"),
    ],
)
def test_load_a_malformed_file_names_the_path(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        Conversations.load(path)
    assert str(path) in caught.value.message
    assert message in caught.value.message


def test_load_a_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        Conversations.load(tmp_path)


# --- Markdown ----------------------------------------------------------------------------------------


def test_markdown_structure():
    text = sample().to_markdown("default")
    assert text == (
        "## Thread: default\n\n"
        "> **System:**\n>\n> Be brief.\n\n"
        "**You:**\n\nq1\n\n**Assistant** (gpt-4o):\n\na1\n\n"
        "---\n\n"
        "**You:**\n\nq2\n\n**Assistant:**\n\npartial\n\n*(interrupted)*\n"
    )


def test_markdown_shows_a_tool_exchange_between_the_prompt_and_the_answer():
    call = ToolCall("c1", "get_weather", {"city": "Paris"})
    steps = (
        Message("assistant", "Looking.", tool_calls=(call,)),
        Message("tool", "# sunny\n```", tool_call_id="c1"),
    )
    conversations = Conversations()
    conversations.thread().turns.append(Turn("Weather?", "Sunny.", model="m", steps=steps))
    text = conversations.to_markdown()
    assert text.split("\n\n", 1)[1] == (
        "**You:**\n\nWeather?\n\n"
        "**Assistant** (m):\n\nLooking.\n\n"
        '**Calls** `get_weather({"city": "Paris"})`\n\n'
        "**Result of get_weather:**\n\n````\n# sunny\n```\n````\n\n"
        "**Assistant** (m):\n\nSunny.\n"
    )
    assert "# sunny" not in outside_fences(text), "a tool's output is never read as Markdown"


def test_markdown_of_the_active_thread_and_of_an_empty_one():
    conversations = sample()
    assert conversations.to_markdown().startswith("## Thread: side\n")
    assert Conversations().to_markdown() == "## Thread: default\n\n*(no turns yet)*\n"
    with pytest.raises(InputError, match="no thread named"):
        conversations.to_markdown("ghost")


def test_a_multiline_system_prompt_stays_in_the_blockquote():
    conversations = Conversations()
    conversations.set_system("# Rules\n\n```\nbe nice")
    text = conversations.to_markdown()
    quoted = text.split("\n\n*(no turns")[0].splitlines()[2:]
    assert all(line.startswith(">") for line in quoted)


def outside_fences(markdown: str) -> list[str]:
    """The lines of a Markdown text that are not inside a fenced code block."""
    lines, fence = [], None
    for line in markdown.splitlines():
        stripped = line.lstrip()
        marker = stripped[: len(stripped) - len(stripped.lstrip("`~"))]
        if fence is None and len(marker) >= 3:
            fence = marker
        elif fence is not None and marker.startswith(fence) and stripped == marker:
            fence = None
        elif fence is None:
            lines.append(line)
    return lines


def structure(markdown: str) -> list[str]:
    """The transcript's own lines: those outside fenced blocks that carry its structure."""
    labels = ("## ", "**You:**", "**Assistant", "---")
    return [line for line in outside_fences(markdown) if line.startswith(labels) or line == "*(interrupted)*"]


@pytest.mark.parametrize(
    "prompt",
    [
        "# Heading in the prompt\nmore",
        "```python\nprint('unclosed fence')",
        "look:\n```\ncode\n```\nand ```` four",
        "title\n===",
        "text\n---\nmore",
        "<!-- an html comment that never closes",
        "~~~\ntilde fence",
        "* * *",
        "## Thread: fake",
    ],
)
def test_prompts_with_markdown_structure_are_fenced(prompt):
    conversations = Conversations()
    conversations.record(Turn(prompt, "the answer", model="m"))
    conversations.record(Turn("second", "ok", model="m"))
    text = conversations.to_markdown()
    assert structure(text) == [
        "## Thread: default",
        "**You:**",
        "**Assistant** (m):",
        "---",
        "**You:**",
        "**Assistant** (m):",
    ]
    assert f"\n{prompt}\n" in text
    own = {line for line in prompt.splitlines() if line} - {"---"}  # "---" is also the turn separator
    assert not own & set(outside_fences(text))


def test_a_plain_prompt_is_not_fenced():
    conversations = Conversations()
    conversations.record(Turn("What is *2 + 2*? Use `code`.", "4"))
    assert "\n\nWhat is *2 + 2*? Use `code`.\n\n" in conversations.to_markdown()


def test_the_fence_is_longer_than_any_backtick_run_in_the_prompt():
    conversations = Conversations()
    conversations.record(Turn("# title\n`````\nfive", "ok"))
    assert "``````\n# title\n`````\nfive\n``````" in conversations.to_markdown()


def test_an_answer_with_an_open_fence_is_closed():
    conversations = Conversations()
    conversations.record(Turn("code please", "Here:\n```python\ndef f():", interrupted=True))
    conversations.record(Turn("next", "done"))
    text = conversations.to_markdown()
    assert "```python\ndef f():\n```\n\n*(interrupted)*" in text
    assert structure(text).count("**You:**") == 2
    assert "*(interrupted)*" in structure(text)


def test_an_answer_with_balanced_fences_is_left_alone():
    conversations = Conversations()
    answer = "Use:\n````\n```\nnested\n```\n````\nDone."
    conversations.record(Turn("q", answer))
    assert f"\n\n{answer}\n" in conversations.to_markdown()


# --- conversation_io ---------------------------------------------------------------------------------


def test_the_methods_delegate_to_the_format_modules(tmp_path):
    conversations = sample()
    assert conversation_json.to_json(conversations.active, map(conversations.thread, conversations.names())) == (
        conversations.to_json()
    )
    active, threads = conversation_json.from_json(conversations.to_json(), Conversations.default_thread)
    assert (active, threads) == (conversations.active, [conversations.thread(name) for name in conversations.names()])
    assert conversation_io.thread_markdown(conversations.thread("default")) == conversations.to_markdown("default")
    conversation_io.save(conversations, tmp_path / "chat.json")
    assert conversation_io.load(tmp_path / "chat.json", Conversations.from_json) == conversations
    conversations.save(tmp_path / "chat.md")
    conversation_io.save(conversations, tmp_path / "again.md")
    assert (tmp_path / "chat.md").read_text(encoding="utf-8") == (tmp_path / "again.md").read_text(encoding="utf-8")


def test_a_thread_renders_on_its_own():
    thread = Thread("notes", "Be kind.", [Turn("q", "a")])
    assert conversation_io.thread_markdown(thread) == (
        "## Thread: notes\n\n> **System:**\n>\n> Be kind.\n\n**You:**\n\nq\n\n**Assistant:**\n\na\n"
    )


def test_from_json_and_load_build_the_class_they_are_called_on(tmp_path):
    class Notebook(Conversations):
        pass

    path = tmp_path / "chat.json"
    sample().save(path)
    for restored in (Notebook.from_json(sample().to_json()), Notebook.load(path)):
        assert type(restored) is Notebook
        assert restored == sample()


@pytest.mark.parametrize("module", ["conversation_io", "conversation_json"])
def test_the_format_modules_import_only_the_standard_library_and_pure_modules(module):
    tree = parsed(f"core/{module}.py")
    relative = {(node.level, node.module) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level}
    assert absolute_imports(tree) <= set(sys.stdlib_module_names)
    pure = {(1, "threads"), (1, "image_codec"), (1, "image_store"), (2, "datatypes"), (2, "errors")}
    assert relative <= pure, "the formats build on no Conversations"


@pytest.mark.parametrize("module", ["conversation_io", "conversation_json"])
def test_the_format_modules_use_only_public_attributes(module):
    private = {
        node.attr
        for node in ast.walk(parsed(f"core/{module}.py"))
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.endswith("__")
    }
    assert private == set()


# --- purity ------------------------------------------------------------------------------------------


def test_the_module_imports_only_the_standard_library():
    assert absolute_imports(parsed("core/conversation.py")) <= set(sys.stdlib_module_names)


# --- single messages (tool calls and results, part lists) ----------------------------------------------------


TOOL_EXCHANGE = [
    Message("user", [{"type": "text", "text": "<task>"}, {"type": "image_url", "image_url": {"url": "data:,"}}]),
    Message(
        "assistant",
        "",
        tool_calls=(
            ToolCall("call_1", "get_weather", {"city": "Paris"}, '{"city":"Paris"}'),
            ToolCall("call_2", "broken", {}, "{not json"),
        ),
        reasoning_content="two lookups",
    ),
    Message("tool", '{"temp_c": 18}', tool_call_id="call_1", name="get_weather"),
    Message("assistant", "18 C in Paris"),
]


@pytest.mark.parametrize("message", TOOL_EXCHANGE)
def test_a_message_with_its_tool_calls_round_trips_through_json_text(message):
    data = json.loads(json.dumps(conversation_json.message_to_json(message)))
    assert conversation_json.message_from_json(data) == message


def test_a_plain_message_needs_only_role_and_content_and_old_usage_without_cached_tokens_loads():
    assert conversation_json.message_from_json({"role": "user", "content": "hi"}) == Message("user", "hi")
    data = {
        "version": 1,
        "threads": {"main": {"turns": [{"prompt": "p", "answer": "a", "usage": {"input_tokens": 3}}]}},
    }
    (turn,) = Conversations.from_json(data).thread("main").turns
    assert turn.usage == Usage(input_tokens=3)
    saved = Usage(input_tokens=100, output_tokens=2, cached_tokens=80)
    again = Conversations.from_json(json.loads(json.dumps(_with_usage(saved).to_json())))
    assert again.thread("main").turns[0].usage == saved


def _with_usage(usage):
    conversations = Conversations()
    conversations.thread("main").turns.append(Turn("p", "a", usage=usage))
    return conversations


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ({"role": "robot", "content": "x"}, "'role'"),
        ({"content": "x"}, "'role'"),
        ({"role": "user", "content": ["x"]}, "'content'"),
        ({"role": "assistant", "content": "", "tool_calls": [{"id": "1"}]}, "tool call 0"),
        (
            {"role": "assistant", "content": "", "tool_calls": [{"id": "1", "function": {"arguments": "{}"}}]},
            "function",
        ),
        ({"role": "tool", "content": "x", "tool_call_id": 5}, "tool_call_id"),
    ],
)
def test_a_malformed_message_says_where(data, where):
    with pytest.raises(InputError) as caught:
        conversation_json.message_from_json(data)
    assert where in str(caught.value)
