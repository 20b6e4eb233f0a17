"""Numbers a request cannot carry (NaN, infinities) and max_tokens below 1 are refused before anything is sent,
by every surface: the ChatRequest itself, chat(), %%puter, the CLI (the proxy: test_proxy_bad_input)."""

from __future__ import annotations

import math

import pytest
from cells import run
from cli_runs import cli_runner
from IPython.core.error import UsageError

from puter_magic.datatypes import ChatRequest, Message
from puter_magic.errors import InputError, PuterError

HI = (Message("user", "hi"),)
REFUSED = [
    ({"temperature": math.nan}, "temperature must be a finite number, not nan"),
    ({"temperature": math.inf}, "temperature must be a finite number, not inf"),
    ({"top_p": -math.inf}, "top_p must be a finite number, not -inf"),
    ({"max_tokens": 0}, "max_tokens must be a whole number of at least 1, not 0"),
    ({"max_tokens": -1}, "max_tokens must be a whole number of at least 1, not -1"),
]


@pytest.mark.parametrize(("fields", "message"), REFUSED)
def test_a_chat_request_refuses_them_in_one_line(fields, message):
    with pytest.raises(InputError) as caught:
        ChatRequest(HI, "echo", **fields)
    line = caught.value.one_line()
    assert line.startswith(message) and "\n" not in line


def test_ordinary_values_pass():
    request = ChatRequest(HI, "echo", temperature=0, top_p=1, max_tokens=1)
    assert (request.temperature, request.top_p, request.max_tokens) == (0, 1, 1)


def drivers_calls(puter_server) -> int:
    return sum(1 for r in puter_server.state.requests if r.path == "/drivers/call")


@pytest.mark.parametrize(("fields", "message"), [case for case in REFUSED if "top_p" not in case[0]])
def test_chat_refuses_them_and_sends_nothing(session, puter_server, fields, message):
    session.set_model("echo")
    before = drivers_calls(puter_server)
    with pytest.raises(PuterError) as caught:
        session.chat("hi", **fields)
    refused_first(caught.value.one_line(), message)
    assert drivers_calls(puter_server) == before


def refused_first(line: str, message: str) -> None:
    """One line, in the request's own words: its numbers are checked before the history trimming reads them
    (a negative max_tokens is no "reserved answer tokens" setting to fix with `%puter config`)."""
    assert "\n" not in line
    assert line.startswith(message), line


@pytest.mark.parametrize(("fields", "message"), [case for case in REFUSED if "top_p" not in case[0]])
def test_a_session_setting_is_refused_in_the_same_words(memory_session, memory_provider, fields, message):
    """The session's own settings (`%config PuterMagics.max_tokens`, `session.temperature`) reach the request
    the same way: refused as the request refuses them, the thread untouched."""
    for name, value in fields.items():
        setattr(memory_session, name, value)
    with pytest.raises(InputError) as caught:
        memory_session.chat("hi")
    refused_first(caught.value.one_line(), message)
    assert memory_provider.requests == [] and memory_session.thread_tokens() == 0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("--temperature nan", "temperature must be a finite number, not nan"),
        ("--temperature inf", "temperature must be a finite number, not inf"),
        ("--max-tokens 0", "max_tokens must be a whole number of at least 1, not 0"),
    ],
)
def test_a_puter_cell_refuses_them_in_one_line(shell, magics, puter_server, options, message):
    magics.session.set_model("echo")
    before = drivers_calls(puter_server)
    with pytest.raises(UsageError) as caught:
        run(shell, f"%%puter {options}\nhi")
    refused_first(str(caught.value), message)
    assert drivers_calls(puter_server) == before


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--temperature", "nan"], "temperature must be a finite number, not nan"),
        (["--temperature=-inf"], "temperature must be a finite number, not -inf"),
        (["--max-tokens", "0"], "max_tokens must be a whole number of at least 1, not 0"),
        (["--max-tokens=-2"], "max_tokens must be a whole number of at least 1, not -2"),
    ],
)
def test_the_cli_refuses_them_in_one_line(puter_server, isolated_home, options, message):
    result = cli_runner(puter_server, isolated_home)("chat", "-m", "echo", *options, "hi")
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    refused_first(result.stderr.removeprefix("error: ").rstrip("\n"), message)
    assert drivers_calls(puter_server) == 0
