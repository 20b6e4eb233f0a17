"""Refresh the stored outputs of the notebooks after a change of behaviour.

    .venv/bin/python notebooks/execute.py                      # every notebook in this folder
    .venv/bin/python notebooks/execute.py errors.ipynb         # some of them

Each notebook runs top to bottom against a fresh embedded local Puter server, in the environment the nbval run
gives its kernels (see conftest.py), with the notebook's folder as the working directory, and is saved in place.
The local server listens on a free port; the saved outputs say 4100 instead, the port of the README's
`puter-magic fake-server --port 4100` (nbval-sanitize.cfg ignores the port when comparing).
The admin token only ever goes through the environment; a saved notebook that contains a token is an error.
local-model.ipynb asks the real small model: it is set up and started first (puter_magic/testing/local_model.py;
root or password-less sudo), and its outputs keep the fixed port of the `local` preset.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from puter_magic.demo.run import kernel_environment, run_notebook, without_puter_settings
from puter_magic.testing import LocalPuter, local_model

HERE = Path(__file__).resolve().parent
LOCAL_MODEL_NOTEBOOK = "local-model.ipynb"
PORT = re.compile(r"(puter\.localhost|127\.0\.0\.1):\d+")


def normalise(notebook: nbformat.NotebookNode) -> None:
    """Outputs that do not depend on the port the server happened to get."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if isinstance(output.get("text"), str):
                output["text"] = PORT.sub(r"\1:4100", output["text"])
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str):
                    output["data"][mime] = PORT.sub(r"\1:4100", value)


def execute(path: Path) -> float:
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if path.name == LOCAL_MODEL_NOTEBOOK:  # it asks the real small model (the `local` preset)
            stack.enter_context(local_model.running())
        _execute(path)
    return time.monotonic() - started


def _execute(path: Path) -> None:
    with LocalPuter() as server, tempfile.TemporaryDirectory(prefix="puter-notebooks-") as scratch:
        env = without_puter_settings(os.environ) | kernel_environment(server, scratch)
        notebook = run_notebook(path, env, path.parent)
        if path.name != LOCAL_MODEL_NOTEBOOK:  # that one uses the fixed port of the `local` preset
            normalise(notebook)
        text = nbformat.writes(notebook) + "\n"
        if server.token in text or "eyJ" in text:
            raise SystemExit(f"{path.name}: the executed notebook contains a token; not saved")
    path.write_text(text, encoding="utf-8")


def main(names: list[str]) -> int:
    paths = [HERE / name for name in names] if names else sorted(HERE.glob("*.ipynb"))
    for path in paths:
        print(f"{path.name}: {execute(path):.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
