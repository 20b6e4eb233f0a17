"""A notebook executed headlessly (nbclient) and saved: the token is in none of it, nor in an export."""

from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

CELLS = [
    "%load_ext puter_magic",
    "%puter status",
    "%puter config",
    "%puter model deterministic",
    "%%puter\nWhat is my token?",
    "%puter history",
    "%puter export conversation.json",
    "import puter_magic; puter_magic.chat('and again')",
]


def test_a_saved_notebook_and_its_export_never_hold_the_token(puter_server, tmp_path, notebook_env):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    NotebookClient(
        notebook, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    saved = tmp_path / "saved.ipynb"
    nbformat.write(notebook, saved)
    text = saved.read_text()
    assert "Turn 1. You said: What is my token?" in text, "the answers were saved"
    assert "as **admin**" in text
    assert puter_server.token not in text
    assert puter_server.token not in (tmp_path / "conversation.json").read_text()
    assert os.environ["PUTER_TOKEN"] == puter_server.token, "the token only ever travelled by the environment"
