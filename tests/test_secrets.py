"""A secret inside a server's error text reaches no person, log, notebook or exception.

Each server below writes the credential it was sent back into an error: inside a stream (a Puter error line,
an OpenAI-compatible `{"error": …}` event), in an HTTP error body, and in a line that cannot be decoded.
The secret must not appear — not even cut in half by an excerpt — in the exceptions raised, the debug log,
the output of `puter-magic chat`, or a notebook executed in a real kernel and saved.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from puter_magic import config
from puter_magic.config import CredentialStore
from puter_magic.datatypes import ChatRequest, Message
from puter_magic.errors import BadRequest, MalformedStream, PuterError, ServerError, StreamFailed
from puter_magic.providers.openai import OpenAIProvider
from puter_magic.providers.puter import PuterProvider
from puter_magic.testing import Fault
from puter_magic.testing.runner import serve

OPENAI_KEY = "sk-leaktest-7f3a9c2e51d84b6a0c9e2f71d3a5b8e4"
KEY_VARIABLE = "PUTER_LEAK_TEST_KEY"
ANSWER = "alpha beta gamma"


def leaks(text: str, secret: str) -> list[str]:
    """The pieces of `secret` found in `text`: any 23 characters of it in a row contain one of them.

    A JWT's first part is the same for every token, so only what follows it counts.
    """
    distinctive = secret.split(".", 1)[1] if secret.count(".") == 2 else secret
    pieces = {distinctive[i : i + 16] for i in range(0, len(distinctive) - 15, 8)}
    return sorted(piece for piece in pieces if piece in text)


def exception_texts(error: BaseException) -> Iterator[str]:
    """Everything an exception (and the ones chained to it) could show: str, repr, one_line and its fields."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield str(current)
        yield repr(current)
        yield repr(current.args)
        if isinstance(current, PuterError):
            yield current.one_line()
            yield current.hint
            yield repr(vars(current))
        current = current.__cause__ or current.__context__


# --- the servers -----------------------------------------------------------------------------------------


def puter_faults(token: str) -> dict[str, tuple[Fault, type[PuterError]]]:
    return {
        "error line": (
            Fault.error_line(after=1, message=f"the provider refused the key {token} (upstream)"),
            StreamFailed,
        ),
        "error body": (Fault.http(500, message=f"upstream auth failed for {token}", path="/drivers/call"), ServerError),
        # Long enough that an excerpt of the line would cut the token in the middle.
        "malformed line": (Fault.malformed(after=1, line='{"type":"text","text":"' + token), MalformedStream),
    }


OPENAI_FAILURES: dict[str, type[PuterError]] = {
    "error-event": StreamFailed,
    "error-body": BadRequest,
    "malformed-event": MalformedStream,
}


def _event(data: str) -> bytes:
    return f"data: {data}\n\n".encode()


def leaky_openai_app() -> Starlette:
    """An OpenAI-compatible server whose errors repeat the API key it was sent; the model names the failure."""

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": name, "object": "model"} for name in OPENAI_FAILURES]})

    async def completions(request: Request) -> Response:
        key = request.headers.get("authorization", "").removeprefix("Bearer ")
        model = (await request.json()).get("model")
        if model == "error-body":
            error = {"message": f"key {key} is not valid here", "type": "invalid_request_error", "param": key}
            return JSONResponse({"error": error, "echo": [{"key": key}]}, status_code=400)

        async def events() -> Any:
            yield _event(json.dumps({"choices": [{"index": 0, "delta": {"content": "partial "}}]}))
            if model == "error-event":
                yield _event(json.dumps({"error": {"message": f"upstream refused {key}", "code": 502}}))
            else:
                yield _event('{"choices": [{"delta": {"content": "' + key * 3)

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/chat/completions", completions, methods=["POST"]),
        ]
    )


@pytest.fixture(scope="module")
def leaky_openai() -> Iterator[str]:
    with serve(leaky_openai_app()) as server:
        yield f"{server.origin}/v1"


# --- exceptions and logs ---------------------------------------------------------------------------------


async def _failure(provider: Any, model: str) -> PuterError:
    request = ChatRequest((Message("user", ANSWER),), model)
    try:
        async for _ in provider.stream(request):
            pass
    except PuterError as error:
        return error
    finally:
        await provider.aclose()
    raise AssertionError("the request did not fail")


@pytest.mark.anyio
@pytest.mark.parametrize("name", ["error line", "error body", "malformed line"])
async def test_puter_errors_carrying_the_token_hold_no_trace_of_it(name, puter_server, puter_settings, caplog):
    caplog.set_level(logging.DEBUG, logger="puter_magic")
    fault, expected = puter_faults(puter_server.token)[name]
    puter_server.state.inject(fault)
    error = await _failure(PuterProvider(puter_settings), "echo")
    assert type(error) is expected
    assert "[redacted]" in error.message, "the server's words are kept, without the secret"
    for text in exception_texts(error):
        assert leaks(text, puter_server.token) == [], text
    assert caplog.records, "the debug log was on"
    assert leaks(caplog.text, puter_server.token) == []


@pytest.mark.anyio
@pytest.mark.parametrize("model", list(OPENAI_FAILURES))
async def test_openai_errors_carrying_the_key_hold_no_trace_of_it(model, leaky_openai, caplog):
    caplog.set_level(logging.DEBUG, logger="puter_magic")
    error = await _failure(OpenAIProvider(leaky_openai, api_key=OPENAI_KEY), model)
    assert type(error) is OPENAI_FAILURES[model]
    assert "[redacted]" in error.message
    for text in exception_texts(error):
        assert leaks(text, OPENAI_KEY) == [], text
    assert caplog.records, "the debug log was on"
    assert leaks(caplog.text, OPENAI_KEY) == []


def test_an_error_body_is_redacted_all_the_way_down(leaky_openai):
    from puter_magic.core.loop import default_loop

    error = default_loop().run(_failure(OpenAIProvider(leaky_openai, api_key=OPENAI_KEY), "error-body"))
    assert isinstance(error, BadRequest)
    assert error.body == {
        "error": {
            "message": "key [redacted] is not valid here",
            "type": "invalid_request_error",
            "param": "[redacted]",
        },
        "echo": [{"key": "[redacted]"}],
    }


# --- what a person sees: the terminal and a saved notebook -----------------------------------------------


@pytest.mark.parametrize("name", ["error line", "error body", "malformed line"])
def test_puter_magic_chat_shows_no_token_even_at_debug_level(name, puter_server, isolated_home):
    fault, _ = puter_faults(puter_server.token)[name]
    puter_server.state.inject(fault)
    env = {
        **os.environ,
        "PUTER_API_ORIGIN": puter_server.api_origin,
        "PUTER_GUI_ORIGIN": puter_server.gui_origin,
        "PUTER_TOKEN": puter_server.token,
        "PUTER_MAGIC_HOME": str(isolated_home),
        "PUTER_RATE_LIMIT": "off",
        "PUTER_LOG_LEVEL": "debug",
    }
    result = subprocess.run(
        [sys.executable, "-m", "puter_magic", "chat", "-m", "echo", ANSWER],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "[redacted]" in errors[0], result.stderr
    assert "DEBUG" in result.stderr, "the debug log was on"
    assert leaks(result.stdout + result.stderr, puter_server.token) == []


def test_a_saved_notebook_shows_no_secret_from_any_error(
    puter_server, leaky_openai, tmp_path, notebook_env, monkeypatch
):
    monkeypatch.setenv("PUTER_LOG_LEVEL", "debug")
    monkeypatch.setenv(KEY_VARIABLE, OPENAI_KEY)
    faults = puter_faults(puter_server.token)
    steps: list[tuple[str, Callable[[], None] | None]] = [
        ("%load_ext puter_magic", None),
        ("%puter model echo", None),
    ]
    for fault, _ in faults.values():
        steps.append((f"%%puter\n{ANSWER}", lambda fault=fault: puter_server.state.inject(fault)))
    steps.append((f"%puter provider {leaky_openai} --key-env {KEY_VARIABLE}", None))
    steps.extend((f"%%puter --model {model}\n{ANSWER}", None) for model in OPENAI_FAILURES)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source, _ in steps])
    client = NotebookClient(
        notebook,
        timeout=60,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    with client.setup_kernel():
        for index, (cell, (_, before)) in enumerate(zip(notebook.cells, steps, strict=True)):
            if before is not None:
                before()
            client.execute_cell(cell, index)
    saved = tmp_path / "saved.ipynb"
    nbformat.write(notebook, saved)
    shown = [  # IPython prints a UsageError as one line on stderr, without a traceback
        [line for out in cell.outputs if out.get("name") == "stderr" for line in out.text.splitlines()]
        for cell in notebook.cells
    ]
    failures = [line for lines in shown for line in lines if line.startswith("UsageError:")]
    assert len(failures) == len(faults) + len(OPENAI_FAILURES), "every injected failure reached the notebook"
    assert all("[redacted]" in line for line in failures), failures
    text = saved.read_text()
    assert "DEBUG" in text, "the kernel logged at debug level into the notebook"
    assert leaks(text, puter_server.token) == []
    assert leaks(text, OPENAI_KEY) == []


# --- PUTER_MAGIC_HOME is private --------------------------------------------------------------------------


@pytest.mark.parametrize("loose", [0o755, 0o777, 0o750])
def test_a_loose_home_is_made_private_when_state_is_written(loose, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(loose)
    CredentialStore(home).put("http://127.0.0.1:9", "a-token-of-some-length")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "credentials.json").stat().st_mode) == 0o600


def test_a_home_that_cannot_be_tightened_is_reported_once(tmp_path, monkeypatch, caplog):
    home = tmp_path / "shared"
    home.mkdir()
    home.chmod(0o755)

    def not_the_owner(path: Any, mode: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(config.os, "chmod", not_the_owner)
    store = CredentialStore(home)
    with caplog.at_level(logging.WARNING, logger="puter_magic"):
        store.put("http://127.0.0.1:9", "a-token-of-some-length")
        store.put("http://127.0.0.1:9", "another-token-of-some-length")
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "\n" not in warnings[0]
    assert str(home) in warnings[0] and "0755" in warnings[0] and "PUTER_MAGIC_HOME" in warnings[0]
