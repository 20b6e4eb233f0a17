"""puter_magic: chat with LLMs from Jupyter through Puter's AI API and OpenAI-compatible servers.

    %load_ext puter_magic          # in a notebook; then %%puter cells and %puter commands
    puter_magic.chat("Hello")      # from Python: chat, achat, stream, session
    puter_magic.batch(prompts)     # many prompts at once

Importing this package is cheap: everything heavy loads on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = [
    "BatchError",
    "BatchResult",
    "achat",
    "batch",
    "chat",
    "load_ipython_extension",
    "panel",
    "session",
    "stream",
    "unload_ipython_extension",
]

_LAZY = {
    "chat": "sessions",
    "achat": "sessions",
    "stream": "sessions",
    "session": "sessions",
    "batch": "batches",
    "panel": "panels",
    "BatchError": "batch_types",
    "BatchResult": "batch_types",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext puter_magic`: registers %puter / %%puter. Never touches the network."""
    from .magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .magics import unload

    unload(ipython)
