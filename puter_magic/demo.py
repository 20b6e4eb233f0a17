"""`make demo` / `puter-magic demo`: run notebooks/quickstart.ipynb headlessly and show the conversation.

Against an embedded local Puter backend, or, when PUTER_TOKEN is set and PUTER_API_ORIGIN is not, against Puter
itself. The executed notebook and an HTML copy go to ./demo-output/. Without the repository's notebooks (an
installed package), a two-turn conversation is streamed to the terminal instead.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .config import Settings
from .providers.puter import PuterProvider
from .types import ChatRequest, Message

QUICKSTART = Path(__file__).resolve().parent.parent / "notebooks" / "quickstart.ipynb"
OUTPUT = Path("demo-output")
REAL_MODEL = "gpt-5-nano"
QUESTIONS = (
    "Hello! What can you do?",
    "Tell me more about that.",
)


def kernel_environment(server: Any, scratch: str | os.PathLike[str]) -> dict[str, str]:
    """The variables a kernel needs to use the local `server`, with all its user state under `scratch`."""
    home, ipython = Path(scratch) / "puter-home", Path(scratch) / "ipython"
    home.mkdir(parents=True, exist_ok=True)
    ipython.mkdir(parents=True, exist_ok=True)
    return {
        "PUTER_API_ORIGIN": server.api_origin,
        "PUTER_GUI_ORIGIN": server.gui_origin,
        "PUTER_TOKEN": server.token,
        "PUTER_RATE_LIMIT": "off",
        "PUTER_MAGIC_HOME": str(home),
        "IPYTHONDIR": str(ipython),
        "JUPYTER_PLATFORM_DIRS": "1",
    }


def without_puter_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without any PUTER_* variable, so the user's own settings cannot change what a notebook shows."""
    return {name: value for name, value in environ.items() if not name.startswith("PUTER_")}


def run_notebook(
    path: Path, env: Mapping[str, str], cwd: Path, *, on_cell: Callable[..., Any] | None = None, **options: Any
) -> Any:
    """Execute the notebook at `path` in a kernel of this interpreter (whatever kernelspecs are installed)."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    client = NotebookClient(
        notebook,
        km=manager,
        timeout=60,
        record_timing=False,
        coalesce_streams=True,
        on_cell_executed=on_cell,
        extra_arguments=["--log-level=ERROR"],
        resources={"metadata": {"path": str(cwd)}},
        **{"store_widget_state": False, **options},  # closed progress bars would otherwise pile up in the file
    )
    client.execute(env=dict(env))
    notebook.metadata.get("language_info", {}).pop("version", None)  # the same file whatever Python ran it
    return notebook


def show_cell(cell: Any, **_: Any) -> None:
    """Print an executed %%puter cell as one exchange: the prompt, then the text the notebook shows for it."""
    first, _, prompt = cell.source.partition("\n")
    if cell.cell_type != "code" or not first.startswith("%%puter"):
        return
    texts = [out.get("text") or out.get("data", {}).get("text/plain") or out.get("evalue") for out in cell.outputs]
    answer = "\n".join(text.rstrip("\n") for text in texts if text) or "(nothing shown)"
    if first.strip() != "%%puter":
        print(first.strip())
    print("you> " + prompt.strip().replace("\n", "\n     "))
    print("ai>  " + answer.replace("\n", "\n     ") + "\n", flush=True)


def run_demo(model: str = "deterministic") -> int:
    """Run the quickstart notebook (or, without it, stream a two-turn conversation)."""
    if not QUICKSTART.is_file():
        return stream_demo(model)
    with tempfile.TemporaryDirectory(prefix="puter-demo-") as scratch:
        if os.environ.get("PUTER_TOKEN") and not os.environ.get("PUTER_API_ORIGIN"):
            print(f"Running {QUICKSTART.name} against Puter itself (PUTER_TOKEN is set) with {REAL_MODEL}\n")
            options = {"allow_errors": True, "on_notebook_start": _use_real_model}
            notebook = run_notebook(QUICKSTART, os.environ, Path(scratch), on_cell=show_cell, **options)
        else:
            from .testing import LocalPuter

            with LocalPuter() as server:
                print(f"Running {QUICKSTART.name} against the local Puter backend at {server.api_origin}\n")
                env = without_puter_settings(os.environ) | kernel_environment(server, scratch)
                notebook = run_notebook(QUICKSTART, env, Path(scratch), on_cell=show_cell)
    return save(notebook)


def _use_real_model(notebook: Any, **_: Any) -> None:
    """Puter has no `deterministic` or `echo` model: the cells ask a real one instead."""
    for cell in notebook.cells:
        cell.source = re.sub(r"(%puter model |-m )(deterministic|echo)\b", rf"\g<1>{REAL_MODEL}", cell.source)


def save(notebook: Any) -> int:
    import nbformat
    from nbconvert import HTMLExporter

    OUTPUT.mkdir(exist_ok=True)
    nbformat.write(notebook, OUTPUT / QUICKSTART.name)
    html, _ = HTMLExporter().from_notebook_node(notebook)
    (OUTPUT / QUICKSTART.with_suffix(".html").name).write_text(html, encoding="utf-8")
    print(f"The executed notebook and an HTML copy are in {OUTPUT.resolve()}/ ({QUICKSTART.stem}.ipynb, .html)")
    return 0


def stream_demo(model: str = "deterministic") -> int:
    """Start the local Puter server, then stream a two-turn conversation to the terminal."""
    from .cli import stream_to_terminal
    from .loop import default_loop
    from .testing import LocalPuter

    with LocalPuter() as server:
        print(f"Local Puter backend at {server.api_origin} (model: {model})\n")
        settings = Settings(api_origin=server.api_origin, gui_origin=server.gui_origin, token=server.token)
        provider = PuterProvider(settings)
        history: list[Message] = []
        for question in QUESTIONS:
            print(f"you> {question}")
            history.append(Message("user", question))
            sys.stdout.write("ai>  ")
            answer: list[str] = []
            finished = stream_to_terminal(provider, ChatRequest(tuple(history), model), collect=answer)
            history.append(Message("assistant", "".join(answer)))
            if finished is not None and finished.usage.total_tokens is not None:
                print(f"     ({finished.usage.total_tokens} tokens)")
            print()
        default_loop().run(provider.aclose())
    return 0
