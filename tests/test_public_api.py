"""The public Python API: every name in `puter_magic.__all__` resolves, and the functions say what they send."""

from __future__ import annotations

import inspect

import pytest

import puter_magic
from puter_magic.core import public, sessions

FUNCTIONS = ["chat", "achat", "stream", "astream", "batch", "session", "panel"]


def test_every_exported_name_resolves():
    assert all(getattr(puter_magic, name) is not None for name in puter_magic.__all__)
    assert set(FUNCTIONS) <= set(puter_magic.__all__)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_function_has_a_docstring(name):
    assert inspect.getdoc(getattr(puter_magic, name))


def test_the_docstrings_say_what_is_sent_and_what_comes_back():
    chat = inspect.getdoc(sessions.Session.chat)
    assert "history" in chat and "Answer" in chat and "PuterError" in chat
    assert "history" in inspect.getdoc(sessions.Session.ask) and "history" in inspect.getdoc(puter_magic)


@pytest.mark.anyio
async def test_astream_yields_the_answer(session):
    pieces = [piece async for piece in session.ask("hello", model="deterministic")]
    assert "".join(pieces).startswith("Turn 1. You said: hello.")
    assert puter_magic.astream is public.astream
