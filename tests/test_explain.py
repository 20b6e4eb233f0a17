"""`%puter explain`, `%puter fix` and `@{Err}` in a real IPython kernel (jupyter_client), after a real exception.

The local Puter server's `echo` model answers with the prompt it was sent, so the answer shows exactly what the
model would have read: the failing cell, the traceback, the names in scope, and no secret.
"""

from __future__ import annotations

import pytest

pytest.importorskip("ipykernel")
from test_kernel import Kernel, kernel_env

SECRET = "sk-live-0123456789abcdefghij"
FAILING = f"api_key = {SECRET!r}\nlimit = 3\nrows = [1, 2]\ntotal = sum(rows) / (limit - 3)"


@pytest.fixture
def kernel(puter_server, tmp_path):
    instance = Kernel(kernel_env(puter_server, tmp_path))
    try:
        reply, _ = instance.execute("%load_ext puter_magic\n%puter model echo")
        assert reply["content"]["status"] == "ok"
        yield instance
    finally:
        instance.close()


def shown(messages) -> str:
    """Every text the frontend was shown (display data, its updates, streams)."""
    texts = []
    for message in messages:
        content = message["content"]
        if "data" in content:
            texts.append(content["data"].get("text/plain", ""))
        if message["msg_type"] == "stream":
            texts.append(content["text"])
    return "\n".join(texts)


def fail(kernel, code: str = FAILING) -> int:
    reply, _ = kernel.execute(code)
    assert reply["content"]["status"] == "error"
    return reply["content"]["execution_count"]


def test_explain_sends_the_cell_the_traceback_and_the_names_with_secrets_redacted(kernel, puter_server):
    fail(kernel, f"leaked = {puter_server.token!r}\nleaked.missing_method()")  # a registered secret's value
    number = fail(kernel)
    reply, messages = kernel.execute("%puter explain")
    assert reply["content"]["status"] == "ok"
    text = shown(messages)
    assert f"In [{number}]:" in text and "total = sum(rows) / (limit - 3)" in text
    assert "ZeroDivisionError: division by zero" in text and "Traceback" in text
    assert "- limit: int = 3" in text and "- rows: list = [1, 2]" in text
    assert "- api_key: str = <redacted>" in text
    assert SECRET not in text, "a secret's value never reaches the model"
    _, messages = kernel.execute(f"%puter explain {number - 1}")  # an earlier cell, by its number
    earlier = shown(messages)
    assert "AttributeError" in earlier and "leaked.missing_method()" in earlier
    assert puter_server.token not in earlier, "registered secrets are redacted wherever they appear"


def test_fix_proposes_the_corrected_cell_as_the_next_input(kernel):
    fail(kernel)
    reply, _ = kernel.execute("%puter fix")
    assert reply["content"]["status"] == "ok"
    inserted = [p for p in reply["content"]["payload"] if p["source"] == "set_next_input"]
    assert len(inserted) == 1 and inserted[0]["replace"] is False
    assert "total = sum(rows) / (limit - 3)" in inserted[0]["text"]  # echo answers with the cell it was shown
    assert SECRET not in inserted[0]["text"]


def test_err_in_a_prompt_and_explain_without_an_exception(kernel):
    reply, messages = kernel.execute("%puter explain")
    assert reply["content"]["status"] == "error"
    assert "no cell has raised an exception yet" in reply["content"]["evalue"]
    fail(kernel, "int('x')")
    reply, messages = kernel.execute("%%puter\nWhat went wrong here? @{Err}")
    assert reply["content"]["status"] == "ok"
    text = shown(messages)
    assert "What went wrong here?" in text and "ValueError: invalid literal for int()" in text
    reply, _ = kernel.execute("%puter explain 999")
    assert "cell 999 raised no exception that was seen" in reply["content"]["evalue"]
