"""puter_magic: chat with LLMs from Jupyter through Puter's AI API and OpenAI-compatible servers.

    %load_ext puter_magic                  # in a notebook; then %%puter cells and %puter commands
    puter_magic.chat("Hello")              # -> Answer: .text, .model, .provider, .thread, .usage
    await puter_magic.achat("Hello")       # the same, for async code
    for piece in puter_magic.stream("Hello"): ...          # str pieces as they arrive
    async for piece in puter_magic.astream("Hello"): ...   # the same, for async code
    puter_magic.batch(prompts)             # many prompts at once -> BatchResult, in input order
    puter_magic.session()                  # the shared Session: provider, model, conversations, login
    puter_magic.panel()                    # the ipywidgets panel bound to that session
    @puter_magic.tool                      # a notebook function a model may call (safe=True: without asking)
    puter_magic.draw("a cat")              # a picture (PIL image); speak("hi") audio; transcribe(); read_text()

What is sent: chat, achat, stream and astream send the active thread's system prompt and earlier turns (the
newest that fit the model's context) plus the prompt, and keep the answer as the thread's next turn; with
`history=False` only the prompt (and `system`) is sent and nothing is kept. batch sends each prompt alone and
keeps nothing; with `history=True` each is asked after the thread as it was, and all are kept in input order.
Options: model, provider, thread, system, new, history, temperature,
max_tokens. All of them share the one session the magics and the panel use; a failure raises a PuterError
(`one_line()` says what to do) and leaves the conversation as it was.

Importing this package is cheap: everything heavy loads on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = [
    "BatchError",
    "BatchResult",
    "achat",
    "astream",
    "batch",
    "chat",
    "draw",
    "load_ipython_extension",
    "panel",
    "read_text",
    "session",
    "speak",
    "stream",
    "tool",
    "transcribe",
    "unload_ipython_extension",
]

_LAZY = {
    "chat": "core.public",
    "achat": "core.public",
    "stream": "core.public",
    "astream": "core.public",
    "session": "core.sessions",
    "batch": "notebook.batch_call",
    "panel": "widgets.panel",
    "BatchError": "batches.values",
    "BatchResult": "batches.values",
    "tool": "core.tools",
    "draw": "core.media",
    "speak": "core.media",
    "transcribe": "core.media",
    "read_text": "core.media",
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
    from .notebook.magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook.magics import unload

    unload(ipython)
