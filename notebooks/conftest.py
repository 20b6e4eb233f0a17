"""Run the notebooks under nbval against an embedded local Puter server.

    .venv/bin/python -m pytest --nbval notebooks/ --nbval-sanitize-with notebooks/nbval-sanitize.cfg -p no:cacheprovider

nbval items are not pytest Functions (fixtures never run for them), so everything here is a hook:

- `pytest_configure` starts one `LocalPuter` and points the environment at it *before* nbval starts any kernel
  (kernels inherit the environment): origins, the admin token (never written into a notebook), no client-side
  pacing, and temporary PUTER_MAGIC_HOME / IPYTHONDIR so no user state is read or written.
- each notebook starts from a fresh server state (credit, users, logs), so it runs the same alone or in a batch.
- local-model.ipynb asks a real small model through the `local` preset: before its first cell, the model server
  is set up (cached under .cache/, shared with make test and make demo) and started; it stops with the session.
  A model that cannot be set up or started fails that notebook with the one line that says why.
- the kernel is the one of this interpreter (`--nbval-current-env`), whatever kernelspecs the machine has.
- nbval drops `update_display_data` messages, but a streamed `%%puter` answer is exactly that: a placeholder
  display, then updates. `_FinalDisplays` gives nbval what a notebook shows in the end (what nbclient stores).
- nbval executes with `store_history=False`; the notebooks use `In[n]` / `Out[n]`, as every notebook user can,
  so cells are executed with history, like Jupyter and nbclient do.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import pytest

collect_ignore_glob = [".ipynb_checkpoints/*"]  # Jupyter's autosaves are not notebooks to check

LOCAL_MODEL_NOTEBOOK = "local-model.ipynb"
_state: dict[str, Any] = {}


def pytest_configure(config: pytest.Config) -> None:
    if not (getattr(config.option, "nbval", False) or getattr(config.option, "nbval_lax", False)):
        return
    from puter_magic.demo.run import kernel_environment, without_puter_settings
    from puter_magic.testing import LocalPuter

    config.option.nbval_current_env = True
    server = LocalPuter().start()
    scratch = tempfile.mkdtemp(prefix="puter-notebooks-")
    _state.update(server=server, scratch=scratch, saved=dict(os.environ))
    environment = without_puter_settings(os.environ) | kernel_environment(server, scratch)
    os.environ.clear()
    os.environ.update(environment)
    _patch_nbval()


def pytest_unconfigure(config: pytest.Config) -> None:
    model = _state.pop("local_model", None)
    if model is not None:
        model.stop()
    server = _state.pop("server", None)
    if server is None:
        return
    server.stop()
    os.environ.clear()
    os.environ.update(_state.pop("saved"))
    shutil.rmtree(_state.pop("scratch"), ignore_errors=True)


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A fresh server state at the first cell of each notebook."""
    notebook = item.parent
    if "server" in _state and _state.get("notebook") is not notebook:
        _state["notebook"] = notebook
        _state["server"].reset()
        if notebook.name == LOCAL_MODEL_NOTEBOOK and "local_model" not in _state:
            _state["local_model"] = _start_local_model()


def _start_local_model() -> Any:
    from puter_magic.testing import local_model

    try:
        local_model.prepare(progress=lambda line: None)
        return local_model.start()
    except local_model.LocalModelUnavailable as error:
        pytest.fail(f"{LOCAL_MODEL_NOTEBOOK} needs the local model: {error.one_line(surface='cli')}", pytrace=False)


# --- nbval, made to see what Jupyter shows ------------------------------------------------------------------


def _patch_nbval() -> None:
    from nbval.kernel import RunningKernel
    from nbval.plugin import IPyNbFile

    if getattr(IPyNbFile, "_puter_patched", False):
        return
    IPyNbFile._puter_patched = True
    read = IPyNbFile.get_kernel_message

    def get_kernel_message(self: Any, *args: Any, **kwargs: Any) -> Any:
        displays = self.__dict__.setdefault("_final_displays", _FinalDisplays())
        while not displays.ready:
            displays.feed(read(self, *args, **kwargs))
        return displays.ready.pop(0)

    def execute_cell_input(self: Any, cell_input: str, allow_stdin: Any = None) -> str:
        return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)

    IPyNbFile.get_kernel_message = get_kernel_message
    RunningKernel.execute_cell_input = execute_cell_input


class _FinalDisplays:
    """Hold back a cell's messages from its first display with an id until the kernel is idle again, folding each
    `update_display_data` into the display it updates; updates of displays of earlier cells are dropped, as
    nbval always did. The order of the messages is kept."""

    def __init__(self) -> None:
        self.ready: list[dict[str, Any]] = []
        self.held: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}

    def feed(self, msg: dict[str, Any]) -> None:
        kind = msg["msg_type"]
        content = msg["content"]
        parent = msg["parent_header"].get("msg_id")
        if self.held and parent != self.held[0]["parent_header"].get("msg_id"):
            self._release()  # nbval read the idle message itself (after an unexpected error)
        display_id = (content.get("transient") or {}).get("display_id")
        if kind == "update_display_data":
            target = self.by_id.get(display_id)
            if target is not None:
                target["content"] = {**target["content"], "data": content["data"], "metadata": content["metadata"]}
            return
        if kind == "display_data" and display_id:
            self.by_id[display_id] = msg
            self.held.append(msg)
            return
        if not self.held:
            self.ready.append(msg)
            return
        self.held.append(msg)
        if kind == "status" and content.get("execution_state") == "idle":
            self._release()

    def _release(self) -> None:
        self.ready.extend(self.held)
        self.held = []
        self.by_id = {}
