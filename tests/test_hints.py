"""Hints speak the language of the surface where they are read: `%puter login` in a notebook, `puter-magic login`
in a terminal; one hint per message, no doubled punctuation, waits a person can read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from puter_magic import errors
from puter_magic.errors import AuthenticationError, LoginFailed, ModelNotFound, PuterError, RateLimited

PACKAGE = Path(errors.__file__).parent
# Modules whose errors reach the command line as well as the notebook: their hints must not name a surface.
SHARED = [
    "wire/transport.py",
    "config.py",
    "wire/limits.py",
    "core/conversation.py",
    "core/conversation_io.py",
    "core/conversation_json.py",
    "providers",
]


def every_error_class() -> list[type[PuterError]]:
    found, todo = [], [PuterError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


@pytest.mark.parametrize("cls", every_error_class(), ids=lambda cls: cls.__name__)
def test_class_hints_name_commands_through_the_placeholder(cls):
    assert "%puter" not in cls.hint and "puter-magic" not in cls.hint


def test_shared_modules_write_no_surface_into_their_strings():
    paths = [p for entry in SHARED for p in ((PACKAGE / entry).rglob("*.py") if (PACKAGE / entry).is_dir() else [])]
    paths += [PACKAGE / entry for entry in SHARED if entry.endswith(".py")]
    offenders = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in paths
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "%puter" in node.value
    ]
    assert offenders == []


def test_one_line_renders_the_surface():
    error = AuthenticationError("not logged in")
    assert error.one_line() == "not logged in — log in with `%puter login` or set PUTER_TOKEN"
    assert error.one_line(surface="notebook") == error.one_line()
    assert error.one_line(surface="cli") == "not logged in — log in with `puter-magic login` or set PUTER_TOKEN"
    assert "`puter-magic models`" in ModelNotFound("unknown model").one_line(surface="cli")


def test_braces_in_a_message_are_text():
    assert PuterError("bad {json}", hint="fix {it}").one_line(surface="cli") == "bad {json} — fix {it}"


def test_no_doubled_punctuation_before_the_hint():
    assert LoginFailed("Invalid password.").one_line() == "Invalid password — check the username and password"
    assert PuterError("Done.").one_line() == "Done."  # no hint: the message stays as written


@pytest.mark.parametrize(
    ("retry_after", "hint"),
    [
        (0.2, "wait a moment and try again"),
        (1, "wait 1 s and try again"),
        (2.1, "wait 3 s and try again"),
        (120, "wait 120 s and try again"),
        (900, "wait about 15 min and try again"),
        (None, "wait a little and try again"),
    ],
)
def test_waits_read_sensibly(retry_after, hint):
    assert RateLimited("Too many requests", retry_after=retry_after).hint == hint
