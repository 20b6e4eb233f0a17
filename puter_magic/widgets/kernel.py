"""What the kernel does with widget clicks while a cell runs: whether the panel's Stop can reach an answer that is
streaming. The magics' awaited-cell rewrite (notebook/awaiting.py) is found by its name in the shell's magics
registry, so the panel asks without importing the notebook layer."""

from __future__ import annotations

import inspect
from typing import Any


def comms_while_awaiting(shell: Any) -> bool:
    """True when the shell's kernel handles widget messages while a cell awaits (ipykernel ≥ 7.4)."""
    dispatch = getattr(getattr(shell, "kernel", None), "dispatch_shell", None)
    if dispatch is None:
        return False
    try:
        return "concurrent" in inspect.signature(dispatch).parameters
    except (TypeError, ValueError):
        return False


def stop_reaches_answers(shell: Any) -> bool:
    """Whether a Stop click is handled while an answer streams: %%puter cells (and top-level `await`) await."""
    magics = shell.magics_manager.registry.get("PuterMagics") if shell is not None else None
    awaiter = getattr(magics, "awaiter", None)
    return awaiter.active if awaiter is not None else comms_while_awaiting(shell)
