"""The panel's widgets, driven as a user would (`.click()`, value changes): against the local Puter server for
what is Puter's (the badge, login, credits), on the in-memory provider (`memory_session`) for the rest.

Every wait is on the panel's own jobs (`panel.wait()` returns once the loop-thread work and its widget updates
are done), never a sleep.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import socket
import threading

import ipywidgets as widgets
import pytest
from cells import run

from puter_magic.config import Settings
from puter_magic.core.sessions import Session
from puter_magic.datatypes import ModelInfo, ProviderStatus, UserInfo
from puter_magic.testing import MICRO_CENTS_PER_USD, Fault
from puter_magic.testing.memory import MEMORY, MemoryProvider
from puter_magic.testing.openai_server import LocalOpenAI
from puter_magic.widgets.login import HIDDEN
from puter_magic.widgets.panel import Panel, panel
from puter_magic.widgets.panel_sync import CUSTOM, NOT_LISTED
from puter_magic.widgets.text import Badge, badge_for, count_text, short_reason

WAIT = 10.0


def text_of(widget: widgets.HTML) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", widget.value))


def badge_kind(p: Panel) -> str:
    found = re.search(r"puter-badge-(\w+)", p._badge.value)
    return found.group(1) if found else ""


def widget_state(box: widgets.Widget) -> str:
    """Everything the frontend holds (and JupyterLab would save) for the panel's widgets, as one text."""
    states = [box.get_state()]
    stack = list(getattr(box, "children", ()))
    while stack:
        child = stack.pop()
        states.append(child.get_state())
        stack.extend(getattr(child, "children", ()))
    return json.dumps(states, default=str)


def settings_for(server, token: str | None) -> Settings:
    return Settings(
        api_origin=server.api_origin,
        gui_origin=server.gui_origin,
        token=token,
        rate_limit=None,
        max_concurrent=None,
        backoff_base=0.01,
        backoff_cap=0.05,
    )


@pytest.fixture
def anonymous(puter_server):
    sess = Session(settings_for(puter_server, None))
    yield sess
    sess.close()


@pytest.fixture
def make_panel():
    made: list[Panel] = []

    def make(sess: Session, **options) -> Panel:
        p = panel(sess, **options)
        made.append(p)
        assert p.wait(WAIT), "the first status check did not finish"
        return p

    yield make
    for p in made:
        p.close()


# --- the status badge -------------------------------------------------------------------------------


def test_badge_says_connected_as_the_user(session, make_panel):
    p = make_panel(session)
    assert text_of(p._badge) == "Connected as admin" and badge_kind(p) == "ok"
    assert p._login._logout_row.layout.display != HIDDEN and p._login._token_row.layout.display == HIDDEN


def test_badge_says_not_connected_and_offers_the_login(anonymous, make_panel):
    p = make_panel(anonymous)
    assert text_of(p._badge) == "Not connected" and badge_kind(p) == "idle"
    assert p._login.layout.display != HIDDEN
    assert p._login._token_row.layout.display != HIDDEN and p._login._logout_row.layout.display == HIDDEN


def test_badge_shows_an_error_for_a_rejected_token(puter_server, make_panel):
    sess = Session(settings_for(puter_server, "eyJhbGciOi.bm90LWEtdG9rZW4.c2lnbmF0dXJl"))
    try:
        p = make_panel(sess)
        assert text_of(p._badge).startswith("Error: ") and badge_kind(p) == "error"
        assert "eyJhbGciOi" not in p._badge.value
        assert p._login._token_row.layout.display != HIDDEN, "a rejected token asks for a new login"
    finally:
        sess.close()


def test_badge_is_amber_for_an_account_whose_email_is_not_confirmed(puter_server, make_panel):
    puter_server.state.add_user("rp_bob", "bob-password", email="bob@example.com", requires_email_confirmation=True)
    sess = Session(settings_for(puter_server, puter_server.state.issue_token("rp_bob")))
    try:
        p = make_panel(sess)
        assert text_of(p._badge) == "The e-mail address of rp_bob is not confirmed yet · rp_bob"
        assert badge_kind(p) == "warn" and "open the link in the e-mail" in p._badge.tooltip
    finally:
        sess.close()


def test_badge_error_then_the_refresh_button_recovers(session, puter_server, make_panel):
    puter_server.state.inject(Fault.http(500, path="/whoami"), persistent=True)
    p = make_panel(session)
    assert text_of(p._badge).startswith("Error: ") and badge_kind(p) == "error"
    puter_server.state.clear_faults()
    p._refresh.click()
    assert p.wait(WAIT)
    assert text_of(p._badge) == "Connected as admin"


def test_badge_turns_amber_when_credits_run_low(session, puter_server, make_panel):
    puter_server.state.set_remaining("admin", MICRO_CENTS_PER_USD // 100)  # $0.01
    p = make_panel(session)
    assert text_of(p._badge) == "Credits low: $0.01 left · admin" and badge_kind(p) == "warn"
    puter_server.state.set_remaining("admin", MICRO_CENTS_PER_USD)  # $1.00
    p._refresh.click()
    assert p.wait(WAIT) and badge_kind(p) == "ok"


def test_an_unreachable_openai_server_is_red(session, make_panel):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    p = make_panel(session)
    p._provider.value = CUSTOM
    p._url.value = f"http://127.0.0.1:{port}/v1"
    p._use_url.click()
    assert p.wait(WAIT)
    assert text_of(p._badge).startswith("Unreachable: nothing answers at") and badge_kind(p) == "error"


# --- Fetch and the model combobox ---------------------------------------------------------------------


def test_fetch_fills_the_combobox_and_caches_the_list(memory_session, make_panel):
    p = make_panel(memory_session)
    assert p._model.options == () and memory_session.known_models() is None
    p._fetch.click()
    assert p.wait(WAIT)
    assert set(p._model.options) == {"memory-model", "other-model"}
    assert p._count.value == count_text(len(p._model.options))
    assert not p._fetch.disabled and p._fetch.description == "Fetch"
    assert text_of(p._message).startswith("Fetched ")
    assert [m.id for m in memory_session.known_models()] == [m.id for m in memory_session.models()], (
        "the session's cache"
    )
    second = make_panel(memory_session)
    assert second._model.options == p._model.options, "another panel starts from the cached list"


def test_fetch_errors_reach_the_status_line(session, puter_server, make_panel):
    p = make_panel(session)
    puter_server.state.inject(Fault.http(500), persistent=True)
    future = p.fetch()
    assert p.wait(WAIT) and future.done()
    assert text_of(p._message).startswith("Fetch failed: ") and "puter-message-error" in p._message.value
    assert p._model.options == () and not p._fetch.disabled


class GatedMemory(MemoryProvider):
    """A provider whose model list never arrives: Fetch stays busy until it is stopped."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.cancelled = threading.Event(), threading.Event()

    async def models(self):
        self.entered.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return []


def test_fetch_is_busy_until_done_and_stop_cancels_it(make_panel):
    gated = GatedMemory()
    sess = Session(Settings(api_origin="http://127.0.0.1:9", token=None), provider=gated)
    try:
        p = make_panel(sess)
        p._fetch.click()
        assert p._fetch.disabled and p._fetch.description == "Fetching…", "the click returned at once, busy"
        assert p.fetch() is p._jobs.running("fetch"), "a second Fetch joins the running one"
        assert gated.entered.wait(WAIT)
        p._stop.click()
        assert p.wait(WAIT) and gated.cancelled.is_set()
        assert not p._fetch.disabled and p._fetch.description == "Fetch"
        assert text_of(p._message) == "Stopped." and p._model.options == ()
    finally:
        sess.close()


def test_stop_with_nothing_running_explains_the_kernel_interrupt(memory_session, make_panel):
    p = make_panel(memory_session)  # not in a kernel that handles clicks while a cell awaits
    assert p.stop() == 0
    assert "interrupt it (■ or I,I)" in text_of(p._message)
    assert "interrupt the kernel" in p._stop.tooltip


def test_a_picked_model_is_what_puter_cells_use(shell, magics, session, make_panel, capsys):
    p = make_panel(session)
    p.fetch().result(WAIT)
    p._model.value = "deterministic"
    assert session.model == "deterministic" and p._note.value == ""
    run(shell, "%%puter\nHello from the panel")
    assert capsys.readouterr().out.startswith("Turn 1. You said: Hello from the panel.")
    assert session.conversations.thread().turns[-1].model == "deterministic"


def test_a_typed_model_not_in_the_list_is_flagged_but_kept(memory_session, make_panel):
    p = make_panel(memory_session)
    p.fetch().result(WAIT)
    p._model.value = "  my-own-model "
    assert memory_session.model == "my-own-model"
    assert NOT_LISTED in p._note.value
    assert p._model.value == "my-own-model"
    p._model.value = ""
    assert memory_session.model is None and p._note.value == ""


def test_the_picked_model_shows_what_it_reads_and_writes_when_the_server_says(
    memory_provider, memory_session, make_panel
):
    memory_provider.model_list = [
        ModelInfo("seer", MEMORY, input_modalities=("text", "image"), output_modalities=("text",)),
        ModelInfo("painter", MEMORY, input_modalities=("text",), output_modalities=("image",)),
        ModelInfo("silent", MEMORY),
    ]
    p = make_panel(memory_session)
    assert p._reads.value == "", "no list fetched yet: nothing is known"
    p.fetch().result(WAIT)
    p._model.value = "seer"
    assert text_of(p._reads) == "reads text, image · writes text"
    assert 'title="what the server says seer reads and writes"' in p._reads.value
    memory_session.set_model("painter")  # from a magic: the panel follows
    assert text_of(p._reads) == "reads text · writes image"
    p._model.value = "silent"
    assert p._reads.value == "", "a server that says nothing gets no label"
    p._model.value = "typed-by-hand"
    assert p._reads.value == "" and NOT_LISTED in p._note.value


# --- login ------------------------------------------------------------------------------------------


def test_a_pasted_token_logs_in_and_leaves_no_trace_in_widget_state(anonymous, puter_server, make_panel):
    p = make_panel(anonymous)
    token = puter_server.state.issue_token("admin")
    p._login._token.value = token
    p._login._use_token.click()
    assert p._login._token.value == "", "cleared at the click, before any network work"
    assert p.wait(WAIT)
    assert text_of(p._badge) == "Connected as admin"
    assert text_of(p._message) == "Logged in as admin."
    assert token not in widget_state(p)


def test_password_login_with_a_one_time_code(anonymous, puter_server, make_panel):
    puter_server.state.add_user("alice", "correct horse battery", otp_code="424242")
    p = make_panel(anonymous)
    box = p._login
    box._username.value, box._password.value = "alice", "correct horse battery"
    box._login.click()
    assert box._password.value == ""
    assert p.wait(WAIT)
    assert box.asking_code and "one-time code" in text_of(p._message)
    assert text_of(p._badge) == "Not connected"
    box._otp.value = "424242"
    box._login.click()
    assert box._otp.value == "" and box._password.value == ""
    assert p.wait(WAIT)
    assert text_of(p._badge) == "Connected as alice" and not box.asking_code
    state = widget_state(p)
    assert "correct horse battery" not in state and "424242" not in state
    assert box._pending is None


def test_a_wrong_password_says_so(anonymous, make_panel):
    p = make_panel(anonymous)
    p._login._username.value, p._login._password.value = "admin", "wrong password!"
    p._login._login.click()
    assert p.wait(WAIT)
    assert text_of(p._message).startswith("Login failed: ") and text_of(p._badge) == "Not connected"


def test_log_out(session, make_panel):
    p = make_panel(session)
    p._login._logout.click()
    assert p.wait(WAIT)
    assert text_of(p._badge) == "Not connected" and p._login._token_row.layout.display != HIDDEN


# --- provider, thread, temperature, history ------------------------------------------------------------


def test_switching_provider_to_a_custom_url_and_back(session, make_panel):
    session.set_model("deterministic")
    with LocalOpenAI() as local:
        p = make_panel(session)
        p._provider.value = CUSTOM
        assert p._url_row.layout.display != HIDDEN
        p._url.value = local.base_url
        p._use_url.click()
        assert p.wait(WAIT)
        name = local.base_url.split("//")[1].split("/")[0]
        assert session.provider_name == name and p._provider.value == name
        assert text_of(p._badge) == "Reachable · 2 models"
        assert p._login.layout.display == HIDDEN, "no Puter login for an OpenAI-compatible server"
        assert p._model.value == "" and p._model.options == (), "each provider keeps its own model and list"
        p._fetch.click()
        assert p.wait(WAIT) and set(p._model.options) == {"echo", "count"}
        p._model.value = "echo"
        p._provider.value = "puter"
        assert p.wait(WAIT)
        assert session.provider_name == "puter" and session.model == "deterministic"
        assert p._model.value == "deterministic" and text_of(p._badge) == "Connected as admin"


def test_an_unknown_provider_is_reported_and_nothing_changes(session, make_panel):
    p = make_panel(session)
    p._provider.value = CUSTOM
    p._url.value = "nope"
    p._use_url.click()
    assert "unknown provider 'nope'" in text_of(p._message)
    assert session.provider_name == "puter" and p._provider.value == "puter"


def test_an_endpoint_whose_key_is_missing_is_refused_with_the_reason(session, make_panel, monkeypatch):
    monkeypatch.setenv("PANEL_TEST_KEY", "sk-panel-test-key")
    p = make_panel(session)
    session.registry.add("keyed", "http://127.0.0.1:9/v1", key_env="PANEL_TEST_KEY")  # as `%puter provider add`
    monkeypatch.delenv("PANEL_TEST_KEY")  # unset later, before the panel switches to it
    p._refresh.click()
    assert p.wait(WAIT) and "keyed" in [value for _, value in p._provider.options]
    p._provider.value = "keyed"
    assert "PANEL_TEST_KEY is not set" in text_of(p._message)
    assert p.wait(WAIT)
    assert session.provider_name == "puter", "a failed switch leaves the session where it was"
    assert p._provider.value == session.provider_name, "the selector shows where the session is"
    session.use_provider("puter")
    session.provider_name = "keyed"  # a session already on it (set elsewhere): the panel still opens
    broken = make_panel(session)
    assert text_of(broken._badge).startswith("Error: the environment variable PANEL_TEST_KEY is not set")


def test_threads_temperature_and_clear(memory_session, make_panel):
    memory_session.set_model("deterministic")
    p = make_panel(memory_session)
    p._conversation._new_thread.value = "ideas"
    p._conversation._switch.click()
    assert memory_session.conversations.active == "ideas" and p._conversation._thread.value == "ideas"
    memory_session.chat("one idea")
    assert dict((v, k) for k, v in p._conversation._thread.options)["ideas"] == "ideas (1 turn)"
    p._conversation._thread.value = "default"
    assert memory_session.conversations.active == "default"
    p._conversation._thread.value = "ideas"
    p._conversation._clear.click()
    assert memory_session.conversations.thread("ideas").turns == []
    assert text_of(p._message) == "Cleared thread ideas."
    p._conversation._temperature.value = 0.3
    assert memory_session.temperature == 0.3
    assert memory_session.ask("hello").request.temperature == 0.3


def test_changes_made_with_the_magics_show_in_the_panel(shell, magics, session, make_panel, capsys):
    p = make_panel(session)
    run(shell, "%puter model echo --any")
    assert p._model.value == "echo"
    run(shell, "%puter models")
    assert "echo" in p._model.options, "the list %puter models fetched is the combobox's"
    run(shell, "%puter thread drafts")
    assert p._conversation._thread.value == "drafts"
    run(shell, "%%puter\nsay this back")
    assert p._conversation._thread.options[-1][0] == "drafts (1 turn)"
    run(shell, "%puter logout")
    assert p.wait(WAIT) and text_of(p._badge) == "Not connected"
    magics.temperature = 0.7
    run(shell, "%puter thread drafts")  # any notification brings the temperature along
    assert p._conversation._temperature.value == 0.7


def test_close_stops_listening(memory_session, make_panel):
    p = make_panel(memory_session)
    listeners = len(memory_session._listeners)
    p.close()
    assert len(memory_session._listeners) == listeners - 1
    memory_session.set_model("echo")  # no error from a closed panel


def test_puter_magic_panel_is_the_function_even_after_the_module_import(memory_session):
    import puter_magic
    import puter_magic.widgets.panel

    assert puter_magic.panel is panel
    p = puter_magic.panel(memory_session)
    try:
        assert isinstance(p, Panel) and p.wait(WAIT)
    finally:
        p.close()


def test_puter_panel_shows_a_panel_on_the_magics_session(shell, magics, session, monkeypatch):
    p = run(shell, "%puter panel")
    try:
        assert isinstance(p, Panel) and p._session is session and p.wait(WAIT)
        assert text_of(p._badge) == "Connected as admin"
    finally:
        p.close()


# --- what the badge says, from plain values -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text", "kind"),
    [
        (ProviderStatus("puter", "o", True, user=UserInfo("bob")), "Connected as bob", "ok"),
        (
            ProviderStatus("puter", "o", True, user=UserInfo("bob"), error="the e-mail of bob is not confirmed — do X"),
            "The e-mail of bob is not confirmed · bob",
            "warn",
        ),
        (ProviderStatus("puter", "o", True, error="not logged in"), "Not connected", "idle"),
        (ProviderStatus("puter", "o", False, error="cannot connect — hint"), "Error: cannot connect", "error"),
        (ProviderStatus("ollama", "o", True, model_count=1), "Reachable · 1 model", "ok"),
        (ProviderStatus("ollama", "o", False, error="nothing answers"), "Unreachable: nothing answers", "error"),
    ],
)
def test_badge_for(status, text, kind):
    assert badge_for(status) == Badge(text, kind, badge_for(status).detail)


def test_badge_html_escapes_server_text():
    shown = badge_for(ProviderStatus("puter", "o", False, error="<script>x</script>")).html()
    assert "<script>" not in shown and "&lt;script&gt;" in shown


def test_short_reason_drops_the_hint_and_truncates():
    assert short_reason("token rejected — log in again") == "token rejected"
    assert short_reason("x" * 200, limit=10) == "xxxxxxxxx…"
    assert short_reason(None) == "unknown error"
