"""The panel's window bar, driven in-process on the in-memory provider: it shows the model's window and the thread's
share of it, and follows each answer, a model or provider change and the window setting made in the notebook."""

from __future__ import annotations

import html
import re

import pytest
from cells import run

from puter_magic.config import Settings
from puter_magic.core.fitting import DEFAULT_WINDOW
from puter_magic.core.sessions import Session
from puter_magic.datatypes import ModelInfo
from puter_magic.notebook.magics import PuterMagics, unload
from puter_magic.testing.memory import MEMORY, MemoryProvider
from puter_magic.widgets.login import HIDDEN
from puter_magic.widgets.panel import Panel, panel
from puter_magic.widgets.text import window_kind, window_text

WAIT = 10.0
SMALL = ModelInfo("small", MEMORY, context=1000)
ROOMY = ModelInfo("roomy", MEMORY, context=100_000)


def label(p: Panel) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", p._window.text))


@pytest.fixture
def small_session(memory_provider):
    memory_provider.model_list = [SMALL, ROOMY, ModelInfo("silent", MEMORY)]
    sess = Session(Settings(api_origin="http://127.0.0.1:9", token=None), provider=memory_provider)
    sess.set_model("small")
    yield sess
    sess.close()


@pytest.fixture
def bar_panel(small_session):
    p = panel(small_session)
    assert p.wait(WAIT)
    p.fetch().result(WAIT)
    assert p.wait(WAIT)
    yield p
    p.close()


def test_the_bar_shows_the_window_and_fills_with_each_answer(small_session, bar_panel):
    p = bar_panel
    assert label(p) == "Window 1,000 tokens · thread ~0 (0%)"
    assert "as the server says" in p._window.text, "the tooltip says where the window came from"
    assert (p._window._bar.max, p._window._bar.value) == (1000, 0)
    small_session.chat("word " * 300)  # echoed back: the thread holds the question and the answer
    used = small_session.thread_tokens()
    assert used > 0 and p._window._bar.value == min(used, 1000)
    assert label(p) == window_text(1000, used)
    small_session.chat("word " * 300)
    assert p._window._bar.value == 1000 and p._window._bar.bar_style == "danger"
    assert label(p).endswith("older turns will be left out")


def test_the_bar_follows_the_model_and_the_provider(small_session, bar_panel):
    p = bar_panel
    p._model.value = "roomy"
    assert label(p).startswith("Window 100,000 tokens")
    small_session.set_model("silent")  # from a magic: its server says no window
    assert label(p).startswith(f"Window {DEFAULT_WINDOW:,} tokens")
    assert "the default" in p._window.text
    other = MemoryProvider("elsewhere", models=[ModelInfo("tiny", "elsewhere", context=512)])
    small_session.registry.adopt(other)
    small_session.use_provider("elsewhere")
    small_session.remember_models(other, [ModelInfo("tiny", "elsewhere", context=512)])
    small_session.set_model("tiny")
    assert label(p).startswith("Window 512 tokens")
    small_session.set_model(None)
    assert p._window.layout.display == HIDDEN, "no model: no window to show"


def test_the_bar_follows_the_window_set_in_the_notebook(shell, small_session, bar_panel):
    magics = PuterMagics(shell, session_=small_session)
    shell.register_magics(magics)
    try:
        run(shell, "%config PuterMagics.context_tokens = 400")
        assert label(bar_panel).startswith("Window 400 tokens") and "set in the notebook" in bar_panel._window.text
        run(shell, "%puter config context_tokens auto")
        assert label(bar_panel).startswith("Window 1,000 tokens")
    finally:
        unload(shell)


def test_the_wording_and_the_colours():
    assert window_text(4096, 1210) == "Window 4,096 tokens · thread ~1,210 (30%)"
    assert [window_kind(1000, used) for used in (0, 749, 750, 1000)] == ["", "", "warning", "danger"]
