"""%%puter and %puter in a real IPython shell (in-process, terminal mode).

`magics` answers from the in-memory provider (its default answer echoes the prompt; tests check what was sent in
`memory_provider.requests`); `puter_magics` talks to the local Puter server, for what is Puter's: its errors,
login, account, models and status."""

from __future__ import annotations

import json
import logging

import pytest
from cells import run
from IPython.core.error import UsageError
from traitlets import TraitError

from puter_magic.core.conversation import Thread
from puter_magic.core.sessions import Session
from puter_magic.notebook.magics import PuterMagics, unload
from puter_magic.testing import Fault
from puter_magic.testing.memory import Gate


@pytest.fixture
def session(memory_session):
    """The conftest `magics` fixture builds on this: the in-memory session."""
    return memory_session


def both_ways(way: str, shell, magics):
    """Every test runs twice: with %%puter called as IPython calls cell magics, and rewritten into
    `await …ask_async(…)` as in a kernel where Stop works."""
    if way == "awaited":
        magics.awaiter.supported = True
        magics.awaiter.install()
        assert shell.transform_cell("%%puter\nHi").startswith("await "), "the awaited path is the one tested"
    yield magics
    magics.awaiter.uninstall()


@pytest.fixture(params=["called", "awaited"])
def magics(request, shell, magics):
    yield from both_ways(request.param, shell, magics)


@pytest.fixture(params=["called", "awaited"])
def puter_magics(request, shell, puter_settings):
    """PuterMagics on a session of the local Puter server, with its deterministic model chosen."""
    sess = Session(puter_settings)
    sess.set_model("deterministic")
    instance = PuterMagics(shell, session_=sess)
    shell.register_magics(instance)
    shell.events.register("pre_run_cell", instance.on_pre_run_cell)
    try:
        yield from both_ways(request.param, shell, instance)
    finally:
        unload(shell)
        sess.close()


def sent(memory_provider, number: int = -1) -> list[tuple[str, str]]:
    """The messages of a request the in-memory provider received, as (role, text)."""
    return [(m.role, m.text) for m in memory_provider.requests[number].messages]


def cell(options: str, body: str) -> str:
    return f"%%puter {options}\n{body}"


def thread(magics: PuterMagics, name: str | None = None) -> Thread:
    """A thread (the active one by default) of the magics' session."""
    return magics.session.conversations.thread(name)


# --- asking ---------------------------------------------------------------------------------------


def test_streams_into_the_output_and_keeps_history(shell, magics, memory_provider, capsys):
    memory_provider.enqueue("Hi, ", "you.")
    run(shell, cell("", "Hello there"), "c1")
    assert capsys.readouterr().out.startswith("Hi, you.")
    memory_provider.enqueue("Once ", "more.")
    run(shell, cell("", "And again"), "c2")
    assert capsys.readouterr().out.startswith("Once more.")
    assert sent(memory_provider) == [("user", "Hello there"), ("assistant", "Hi, you."), ("user", "And again")]
    assert [t.key for t in thread(magics).turns] == ["c1", "c2"]


def test_rerunning_a_cell_replaces_its_turn_in_place(shell, magics, memory_provider):
    run(shell, cell("", "first question"), "a")
    run(shell, cell("", "second question"), "b")
    run(shell, cell("", "first question, reworded"), "a")
    assert sent(memory_provider) == [("user", "first question, reworded")], "the re-run sees only what came before"
    assert [t.prompt for t in thread(magics).turns] == ["first question, reworded", "second question"]


def test_threads_new_and_no_history(shell, magics, memory_provider):
    run(shell, cell("-t ideas", "one"), "x1")
    run(shell, cell("-t ideas", "two"), "x2")
    run(shell, cell("-t other", "three"), "x3")
    assert sent(memory_provider, 1) == [("user", "one"), ("assistant", "one"), ("user", "two")]
    assert sent(memory_provider, 2) == [("user", "three")]
    run(shell, cell("-t ideas --new", "fresh"), "x4")
    assert sent(memory_provider) == [("user", "fresh")]
    run(shell, cell("-t ideas --no-history", "aside"), "x5")
    assert sent(memory_provider) == [("user", "aside")]
    assert [t.prompt for t in thread(magics, "ideas").turns] == ["fresh"]


def test_system_prompt_is_sent(shell, magics, memory_provider):
    run(shell, cell('-s "Answer in French." -m echo', "bonjour"), "s1")
    assert sent(memory_provider) == [("system", "Answer in French."), ("user", "bonjour")]
    assert thread(magics).system == "Answer in French."


def test_options_reach_the_request(shell, magics, memory_provider):
    run(shell, cell("-m echo --temperature 0.2 --max-tokens 50", "hi"), "o1")
    request = memory_provider.requests[-1]
    assert (request.model, request.temperature, request.max_tokens) == ("echo", 0.2, 50)


def test_no_stream_gives_the_same_answer(shell, magics, memory_provider, capsys):
    memory_provider.enqueue("the ", "same ", "answer")
    run(shell, cell("--no-stream --no-history", "same please"), "n1")
    whole = capsys.readouterr().out
    memory_provider.enqueue("the ", "same ", "answer")
    run(shell, cell("--no-history", "same please"), "n2")
    assert capsys.readouterr().out == whole and whole.startswith("the same answer")
    assert [r.method for r in memory_provider.received] == ["complete", "stream"]


# --- formats --------------------------------------------------------------------------------------


def test_code_format_out_and_insert(shell, magics):
    body = "Here:\n```python\nprint('hi')\n```\nDone."
    run(shell, cell("-m echo -f code -o snippet --insert --quiet", body), "f1")
    assert shell.user_ns["snippet"] == "print('hi')"
    assert shell.rl_next_input == "print('hi')"


def test_json_format_parses_or_fails_in_one_line(shell, magics):
    run(shell, cell("-m echo -f json -o data --quiet", '```json\n{"a": [1, 2]}\n```'), "j1")
    assert shell.user_ns["data"] == {"a": [1, 2]}
    with pytest.raises(UsageError, match=r"not JSON.*shown above and kept in the history") as info:
        run(shell, cell("-m echo -f json --quiet", "not json at all"), "j2")
    assert "\n" not in str(info.value)
    assert thread(magics).turns[-1].answer == "not json at all"


def test_quiet_shows_nothing_but_keeps_the_turn(shell, magics, capsys):
    run(shell, cell("--quiet -o answer", "silently"), "q1")
    assert capsys.readouterr().out == ""
    assert shell.user_ns["answer"] == "silently"
    assert len(thread(magics).turns) == 1


# --- interpolation --------------------------------------------------------------------------------


def test_braces_pass_untouched_and_variables_expand(shell, magics, memory_provider):
    shell.user_ns["city"] = "Paris"
    code = 'data = {"a": 1}; print(f"{data[\'a\']:>4}")'
    run(shell, cell("-m echo", code + "\nf'{{literal}}' stays; weather in @{city}?"), "i1")
    assert sent(memory_provider)[-1] == ("user", code + "\nf'{{literal}}' stays; weather in Paris?")
    with pytest.raises(UsageError, match="unknown name 'nope'"):
        run(shell, cell("-m echo", "@{nope}"), "i2")
    run(shell, cell("-m echo --raw", "@{nope}"), "i3")


def test_the_magic_line_is_not_expanded_by_ipython(shell, magics):
    shell.user_ns["x"] = "should-not-appear"
    run(shell, cell('-m echo -s "keep $x and {x}"', "hi"), "v1")
    assert thread(magics).system == "keep $x and {x}"


# --- errors: one line, nothing lost ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda s, m: s.state.inject(Fault.http(401)), "log in again"),
        (lambda s, m: s.state.set_remaining("admin", 0), "top up your credits"),
        (lambda s, m: m.session.set_model("no-such-model"), "pick a model from `%puter models`"),
        (lambda s, m: s.state.inject(Fault.http(429, retry_after=120), persistent=True), "wait 120 s"),
        (lambda s, m: s.state.inject(Fault.http(500), persistent=True), "try again in a moment"),
        (lambda s, m: s.state.inject(Fault.error_line(after=1)), "what arrived stays on screen"),
        (lambda s, m: s.state.inject(Fault.drop(after=1)), "broke before the answer was complete"),
        (lambda s, m: m.session.set_model(None), "pick one with `%puter model NAME`"),
    ],
)
def test_every_failure_is_one_line_and_leaves_history_unchanged(shell, puter_magics, puter_server, setup, expected):
    run(shell, cell("", "before"), "e0")
    before = list(thread(puter_magics).turns)
    setup(puter_server, puter_magics)
    with pytest.raises(UsageError) as info:
        run(shell, cell("", "a question that fails"), "e1")
    message = str(info.value)
    assert expected in message and "\n" not in message
    assert thread(puter_magics).turns == before
    puter_server.state.clear_faults()
    puter_server.state.set_remaining("admin", 10**9)
    puter_magics.session.set_model("deterministic")
    run(shell, cell("", "after"), "e2")
    assert len(thread(puter_magics).turns) == 2, "the shell stays usable"


def test_not_logged_in(shell, puter_magics):
    puter_magics.session.provider.settings = puter_magics.session.provider.settings.with_token(None)
    with pytest.raises(UsageError, match="log in with `%puter login`"):
        run(shell, cell("", "hi"), "l1")


def test_server_down(shell, puter_settings):
    import dataclasses

    down = Session(dataclasses.replace(puter_settings, api_origin="http://127.0.0.1:9", max_retries=0))
    instance = PuterMagics(shell, session_=down)
    shell.register_magics(instance)
    try:
        with pytest.raises(UsageError, match=r"127\.0\.0\.1:9.*check the server URL"):
            run(shell, cell("-m x", "hi"))
    finally:
        unload(shell)
        down.close()


def test_bad_options_are_one_line(shell, magics):
    with pytest.raises(UsageError):
        run(shell, cell("--format yaml", "hi"))
    with pytest.raises(UsageError, match="empty"):
        run(shell, cell("", "   "))


# --- %puter commands ------------------------------------------------------------------------------


def test_status_models_and_model_validation(shell, puter_magics):
    status = run(shell, "%puter status")
    assert "as **admin**" in status.markdown and "deterministic" in status.markdown
    models = run(shell, "%puter models det")
    assert "deterministic" in models.plain and "1 of" in models.plain
    with pytest.raises(UsageError, match="did you mean deterministic") as info:
        run(shell, "%puter model determinstic")
    assert "local/deterministic" not in str(info.value), "one suggestion per model, not one per alias"
    run(shell, "%puter model echo")
    assert puter_magics.session.model == "echo"
    run(shell, "%puter model anything-goes --any")
    assert puter_magics.session.model == "anything-goes"


def test_thread_commands_history_and_clear(shell, magics):
    run(shell, "%puter thread notes")
    run(shell, cell("", "remember # this"), "h1")
    threads = run(shell, "%puter threads")
    assert "notes" in threads.plain and "●" in threads.plain
    history = run(shell, "%puter history")
    assert "remember # this" in history.markdown
    run(shell, "%puter system Be brief.")
    assert thread(magics, "notes").system == "Be brief."
    run(shell, "%puter clear")
    assert thread(magics, "notes").turns == []


def test_export_import_round_trip_without_secrets(shell, puter_magics, puter_settings, tmp_path):
    run(shell, cell("", "keep me"), "x1")
    target = tmp_path / "conversation.json"
    run(shell, f"%puter export {target}")
    markdown = tmp_path / "conversation.md"
    run(shell, f"%puter export {markdown}")
    for path in (target, markdown):
        assert puter_settings.token not in path.read_text()
    run(shell, "%puter clear")
    run(shell, f"%puter import {target}")
    assert [t.prompt for t in thread(puter_magics).turns] == ["keep me"]
    assert json.loads(target.read_text())["threads"]["default"]["turns"][0]["prompt"] == "keep me"


def test_usage_config_help_and_unknown_commands(shell, puter_magics, puter_settings):
    assert "left" in run(shell, "%puter usage").plain
    config = run(shell, "%puter config")
    assert "set (hidden)" in config.plain and puter_settings.token not in config.plain + config.markdown
    assert "%puter models" in run(shell, "%puter help").plain
    with pytest.raises(UsageError, match="did you mean `%puter models`"):
        run(shell, "%puter modles")


def test_config_traitlet_sets_the_default_model(shell, magics, memory_provider, capsys):
    magics.session.set_model(None)
    run(shell, '%config PuterMagics.default_model = "echo"')
    try:
        run(shell, cell("", "configured"), "t1")
        assert capsys.readouterr().out.strip() == "configured"
        assert memory_provider.requests[-1].model == "echo"
    finally:
        del shell.config.PuterMagics["default_model"]  # the shell is shared: later magics would start on "echo"


def test_load_ext_is_offline_and_unload_removes_the_magics(shell, puter_server):
    shell.run_line_magic("load_ext", "puter_magic")
    assert "puter" in shell.magics_manager.magics["cell"]
    assert puter_server.state.requests == []
    shell.run_line_magic("unload_ext", "puter_magic")
    assert "puter" not in shell.magics_manager.magics["cell"]


@pytest.fixture
def configured(shell):
    """Cleans the shared shell's PuterMagics config after the test, so later magics do not inherit it."""
    yield
    shell.config.PuterMagics.pop("autosave", None)


def test_autosave_writes_after_each_answer_and_refuses_odd_files(shell, magics, tmp_path, configured):
    target = tmp_path / "saved" / "notebook-chat.json"
    run(shell, f'%config PuterMagics.autosave = "{target}"')
    run(shell, cell("", "saved question"), "as1")
    assert json.loads(target.read_text())["threads"]["default"]["turns"][0]["prompt"] == "saved question"
    with pytest.raises(TraitError, match=r"\.json"):
        magics.autosave = str(tmp_path / "notes.txt")
    assert magics.autosave == str(target), "a refused value is not kept"
    magics.autosave = None
    assert magics.session.autosave is None


def test_autosave_resumes_the_file_and_says_so(shell, magics, tmp_path, capsys, configured):
    target = tmp_path / "chat.json"
    target.write_text(json.dumps({"version": 1, "threads": {"default": {"turns": [{"prompt": "p", "answer": "a"}]}}}))
    run(shell, f'%config PuterMagics.autosave = "{target}"')
    assert capsys.readouterr().out == f"resumed 1 thread, 1 turn from {target}\n"
    run(shell, cell("", "next"), "rs1")
    assert [t["prompt"] for t in json.loads(target.read_text())["threads"]["default"]["turns"]] == ["p", "next"]


@pytest.mark.parametrize(("name", "content"), [("notes.txt", None), ("broken.json", "{not json"), ("t.md", "# x")])
def test_an_invalid_autosave_value_is_refused_not_stored(
    shell, magics, tmp_path, caplog, capsys, configured, name, content
):
    target = tmp_path / name
    if content is not None:
        target.write_text(content)
    with caplog.at_level(logging.ERROR):
        run(shell, f'%config PuterMagics.autosave = "{target}"')  # %config reports the error itself
    [line] = [r.getMessage() for r in caplog.records]
    assert "\n" not in line and ("must name a .json" in line or "it was left as it is" in line)
    assert magics.autosave is None and magics.session.autosave is None
    run(shell, cell("", "still answered"), "iv1")
    assert (target.read_text() if content is not None else None) == content
    capsys.readouterr()
    reloaded = PuterMagics(shell, session_=magics.session)  # as %reload_ext does, with the shell's config
    assert reloaded.autosave is None and magics.session.autosave is None
    assert capsys.readouterr().err == f"PuterMagics.autosave: {line}\n"


def test_clearing_a_thread_that_does_not_exist_is_an_error(shell, magics):
    with pytest.raises(UsageError, match=r"^no thread named 'nope' — the threads are: default$"):
        run(shell, "%puter clear nope")
    assert magics.session.conversations.names() == ["default"]


@pytest.mark.parametrize(
    "line",
    [
        "%puter provider http://127.0.0.1:9/v1 --key-env NO_SUCH_KEY_VARIABLE",
        "%puter provider add mine http://127.0.0.1:9/v1 --key-env NO_SUCH_KEY_VARIABLE",
        "%puter provider ollama --key-env NO_SUCH_KEY_VARIABLE",
    ],
)
def test_a_provider_whose_key_variable_is_unset_is_not_added(shell, magics, monkeypatch, line):
    monkeypatch.delenv("NO_SUCH_KEY_VARIABLE", raising=False)
    before = magics.session.registry.endpoints()
    with pytest.raises(UsageError, match="environment variable NO_SUCH_KEY_VARIABLE is not set") as info:
        run(shell, line)
    assert "\n" not in str(info.value)
    assert magics.session.registry.endpoints() == before
    assert magics.session.provider_name == "memory"


def test_an_interruption_before_any_text_keeps_nothing(memory_session):
    before_text = memory_session.ask("hi", key="k")
    before_text.stop.request()  # stopped before anything arrived: the reading ends at once
    assert list(before_text) == [] and before_text.interrupted
    assert memory_session.conversations.thread().turns == []
    memory_session.provider.enqueue("part", Gate(), "never")
    pieces = []
    for piece in memory_session.ask("hi", key="k"):
        pieces.append(piece)
        memory_session.stop()
    assert pieces == ["part"]
    assert memory_session.conversations.thread().turns[0].interrupted


def test_line_commands_expand_references(shell, magics, tmp_path):
    shell.user_ns["target"] = str(tmp_path / "from-a-variable.json")
    run(shell, cell("", "saved"), "lr1")
    run(shell, "%puter export @{target}")
    assert (tmp_path / "from-a-variable.json").exists()


def test_login_prompts_never_echo_and_handle_two_factor(shell, puter_magics, puter_server, monkeypatch):
    import builtins
    import getpass

    puter_server.state.add_user("otto", "otto-password-1", otp_code="123456", email_confirmed=True)
    answers = iter(["otto", "123456"])
    monkeypatch.setattr(builtins, "input", lambda prompt="": next(answers))
    secrets = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": secrets.append(prompt) or "otto-password-1")
    report = run(shell, "%puter login")
    assert "Logged in as **otto**" in report.markdown
    assert secrets == ["Password: "], "the password is asked through getpass, never input()"
    assert "otto-password-1" not in report.markdown + report.plain
    assert "as **otto**" in run(shell, "%puter status").markdown
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": puter_server.token)
    assert "as **admin**" in run(shell, "%puter login --token").markdown
    assert puter_server.token not in repr(run(shell, "%puter config"))
    run(shell, "%puter logout")
    with pytest.raises(UsageError, match="log in"):
        run(shell, cell("", "hi"), "after-logout")
