"""`make demo` / `puter-magic demo`: a real small model first, then the Puter side on the local Puter server.

Part 1 runs notebooks/local-model.ipynb against SmolLM2-135M-Instruct on llama.cpp's llama-server (local_model.py),
offline, and streams its answers to the terminal as they arrive. Where that model cannot be set up (no root, no
apt, an installed package without the checkout's scripts) one line says why, and Part 2 runs alone.
Part 2 runs notebooks/quickstart.ipynb against an embedded local Puter backend, or, when PUTER_TOKEN is set and
PUTER_API_ORIGIN is not, against Puter itself. The executed notebooks and HTML copies go to ./demo-output/.
Without the repository's notebooks (an installed package), a two-turn conversation is streamed instead.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..config import Settings
from ..datatypes import ChatRequest, Message
from ..providers.puter import PuterProvider

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
QUICKSTART = NOTEBOOKS / "quickstart.ipynb"
LOCAL_MODEL = NOTEBOOKS / "local-model.ipynb"
OUTPUT = Path("demo-output")
REAL_MODEL = "gpt-5-nano"
QUESTIONS = (
    "Hello! What can you do?",
    "Tell me more about that.",
)
KERNEL_OPTIONS = ["--log-level=ERROR", "--PuterMagics.update_interval=0"]  # every piece reaches the terminal


def scratch_environment(scratch: str | os.PathLike[str]) -> dict[str, str]:
    """The variables that keep a kernel's user state under `scratch`."""
    home, ipython = Path(scratch) / "puter-home", Path(scratch) / "ipython"
    home.mkdir(parents=True, exist_ok=True)
    ipython.mkdir(parents=True, exist_ok=True)
    return {"PUTER_MAGIC_HOME": str(home), "IPYTHONDIR": str(ipython), "JUPYTER_PLATFORM_DIRS": "1"}


def kernel_environment(server: Any, scratch: str | os.PathLike[str]) -> dict[str, str]:
    """The variables a kernel needs to use the local `server`, with all its user state under `scratch`."""
    return {
        "PUTER_API_ORIGIN": server.api_origin,
        "PUTER_GUI_ORIGIN": server.gui_origin,
        "PUTER_TOKEN": server.token,
        "PUTER_RATE_LIMIT": "off",
        **scratch_environment(scratch),
    }


def without_puter_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without any PUTER_* variable, so the user's own settings cannot change what a notebook shows."""
    return {name: value for name, value in environ.items() if not name.startswith("PUTER_")}


def run_notebook(
    path: Path,
    env: Mapping[str, str],
    cwd: Path,
    *,
    on_cell: Callable[..., Any] | None = None,
    echo: Any = None,
    **options: Any,
) -> Any:
    """Execute the notebook at `path` in a kernel of this interpreter (whatever kernelspecs are installed).

    With `echo` (a demo_terminal.Echo), the cells are shown in the terminal while they run."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    manager = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    client_class: Any = NotebookClient
    if echo is not None:
        from .terminal import echoing_client

        client_class = echoing_client(echo)
        options = {"on_cell_execute": echo.cell_started, **options}
        on_cell = on_cell or echo.cell_done
    client = client_class(
        notebook,
        km=manager,
        timeout=120,
        record_timing=False,
        coalesce_streams=True,
        on_cell_executed=on_cell,
        extra_arguments=KERNEL_OPTIONS if echo is not None else ["--log-level=ERROR"],
        resources={"metadata": {"path": str(cwd)}},
        **{"store_widget_state": False, **options},  # closed progress bars would otherwise pile up in the file
    )
    client.execute(env=dict(env))
    notebook.metadata.get("language_info", {}).pop("version", None)  # the same file whatever Python ran it
    return notebook


def run_demo(model: str = "deterministic") -> int:
    """Part 1 (the real small model, when it can run here), then Part 2 (the Puter side)."""
    if not QUICKSTART.is_file():
        return stream_demo(model)
    with tempfile.TemporaryDirectory(prefix="puter-demo-") as scratch:
        real_model_part(Path(scratch))
        return puter_part(Path(scratch))


def heading(text: str) -> None:
    print(f"\n━━ {text} " + "━" * max(3, 100 - len(text)) + "\n", flush=True)


def real_model_part(scratch: Path) -> None:
    from ..testing import local_model
    from .terminal import Echo

    heading("Part 1: a real small model, offline")
    try:
        local_model.prepare(progress=lambda line: print("  " + line, flush=True))
        started = time.monotonic()
        server = local_model.start()
    except local_model.LocalModelUnavailable as error:
        print(f"Part 1 is skipped: {error.one_line(surface='cli')}. Part 2 runs alone.", flush=True)
        return
    try:
        how = "already running" if server.process is None else f"started in {time.monotonic() - started:.1f} s"
        print(f"{local_model.DESCRIPTION} at {server.base_url} ({how}).")
        print("Every answer in this part is written by that model, streamed through the OpenAI-compatible")
        print("provider as it arrives. It has 135M parameters: quick and real, and often wrong.\n", flush=True)
        echo = Echo(show_code=True)
        env = without_puter_settings(os.environ) | scratch_environment(scratch / "local-model")
        notebook = run_notebook(LOCAL_MODEL, env, scratch, echo=echo, allow_errors=True)
    finally:
        server.stop()
    save(notebook, LOCAL_MODEL)


def puter_part(scratch: Path) -> int:
    from nbclient.exceptions import CellExecutionError

    from .terminal import Echo

    heading("Part 2: the Puter side")
    echo = Echo(show_magics={"status", "models"}, shorten=160)
    if os.environ.get("PUTER_TOKEN") and not os.environ.get("PUTER_API_ORIGIN"):
        print(f"{QUICKSTART.name} against Puter itself (PUTER_TOKEN is set) with {REAL_MODEL}.\n")
        options: dict[str, Any] = {"allow_errors": True, "on_notebook_start": _use_real_model}
        notebook = run_notebook(QUICKSTART, os.environ, scratch, echo=echo, **options)
        save(notebook, QUICKSTART)
        return 0
    from ..testing import LocalPuter

    with LocalPuter() as server:
        print(f"{QUICKSTART.name} against the local Puter test server at {server.api_origin}: login, status,")
        print("models and credit as on Puter. Its models are test doubles, not language models: `deterministic`")
        print("repeats what you said this turn and the turn before, `echo` repeats your message.\n", flush=True)
        env = without_puter_settings(os.environ) | kernel_environment(server, scratch / "quickstart")
        try:
            notebook = run_notebook(QUICKSTART, env, scratch, echo=echo)
        except CellExecutionError as error:  # the local server answers every cell: this is a bug, said in one line
            print(f"error: {QUICKSTART.name} stopped at a cell that failed: {error.ename}: {error.evalue}")
            return 1
    save(notebook, QUICKSTART)
    return 0


def _use_real_model(notebook: Any, **_: Any) -> None:
    """Puter has no `deterministic` or `echo` model: the cells ask a real one instead."""
    for cell in notebook.cells:
        cell.source = re.sub(r"(%puter model |-m )(deterministic|echo)\b", rf"\g<1>{REAL_MODEL}", cell.source)


def save(notebook: Any, source: Path) -> None:
    import nbformat
    from nbconvert import HTMLExporter

    OUTPUT.mkdir(exist_ok=True)
    nbformat.write(notebook, OUTPUT / source.name)
    html, _ = HTMLExporter().from_notebook_node(notebook)
    (OUTPUT / source.with_suffix(".html").name).write_text(html, encoding="utf-8")
    print(f"The executed notebook and an HTML copy: {OUTPUT.resolve()}/{source.stem}.ipynb, .html", flush=True)


def stream_demo(model: str = "deterministic") -> int:
    """Start the local Puter server, then stream a two-turn conversation to the terminal."""
    from ..core.loop import default_loop
    from ..testing import LocalPuter
    from .terminal import stream_to_terminal

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
