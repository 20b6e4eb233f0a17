"""Top-level %%puter cells run as coroutines, so that the kernel handles widget clicks (the panel's Stop) while an
answer streams.

A kernel reads widget messages on the same queue as cells, and a synchronous cell holds that queue until it
ends. Since ipykernel 7.4, a cell that is *awaiting* lets comm messages through. A cell magic is a synchronous
call, so an input transformer rewrites the line IPython makes of a %%puter cell,

    get_ipython().run_cell_magic('puter', LINE, CELL)
    await get_ipython().magics_manager.registry['PuterMagics'].ask_async(LINE, CELL)

and the kernel awaits it on its own loop. Only where that is safe: a kernel that dispatches comms while a cell
awaits, autoawait on with asyncio, and a cell that is not run from inside another one (`%%capture`, `%%time`,
`%run` compile or run their inner code synchronously, where `await` cannot be). Everywhere else the cell runs
as before, and the kernel interrupt (■) is the way to stop an answer.
"""

from __future__ import annotations

import ast
import contextlib
from typing import Any

from ..widgets.kernel import comms_while_awaiting

PREFIX = "get_ipython().run_cell_magic('puter', "
AWAIT = "await get_ipython().magics_manager.registry[{owner!r}].ask_async({line!r}, {cell!r})\n"


def magic_call(lines: list[str]) -> tuple[str, str] | None:
    """(line, cell) when `lines` is exactly IPython's rendering of a %%puter cell, else None."""
    if len(lines) != 1 or not lines[0].startswith(PREFIX):
        return None
    try:
        tree = ast.parse(lines[0], mode="eval")
    except SyntaxError:
        return None
    call = tree.body
    if not isinstance(call, ast.Call) or call.keywords or len(call.args) != 3:
        return None
    values = [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
    return (values[1], values[2]) if len(values) == 3 else None


class CellAwaiter:
    """The input transformer (in `shell.input_transformers_post`) and the execution-depth counter it relies on."""

    def __init__(self, shell: Any, owner: str = "PuterMagics") -> None:
        self.shell = shell
        self.owner = owner
        self.supported = comms_while_awaiting(shell)
        self.wanted = True  # PuterMagics.stoppable
        self.depth = 0  # cells running now: > 0 means a transform is for code run from inside a cell

    def __call__(self, lines: list[str]) -> list[str]:
        if not self.active or self.depth:
            return lines
        found = magic_call(lines)  # None at once for every cell that is not %%puter
        if found is None or not self._runs_async():
            return lines
        line, cell = found
        return [AWAIT.format(owner=self.owner, line=line, cell=cell)]

    @property
    def active(self) -> bool:
        """Whether top-level %%puter cells run as coroutines now (and so the panel's Stop can end them)."""
        return self.supported and self.wanted

    def _runs_async(self) -> bool:
        from IPython.core.interactiveshell import _asyncio_runner  # type: ignore[attr-defined]

        return bool(getattr(self.shell, "autoawait", False)) and self.shell.loop_runner is _asyncio_runner

    def pre_execute(self) -> None:
        self.depth += 1

    def post_execute(self) -> None:
        self.depth = max(0, self.depth - 1)  # IPython skips pre_execute (not post) for an empty cell

    def install(self) -> None:
        self.shell.input_transformers_post.append(self)
        self.shell.events.register("pre_execute", self.pre_execute)
        self.shell.events.register("post_execute", self.post_execute)

    def uninstall(self) -> None:
        if self in self.shell.input_transformers_post:
            self.shell.input_transformers_post.remove(self)
        for event, callback in (("pre_execute", self.pre_execute), ("post_execute", self.post_execute)):
            with contextlib.suppress(ValueError):
                self.shell.events.unregister(event, callback)
