"""The public functions over the shared session(): `puter_magic.chat`, `achat`, `stream` and `astream`, each a line
over a Reply (core/reply.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from .sessions import finished, session


def chat(prompt: str, **options: Any) -> Any:
    """Session.chat() on the shared session(): sends the active thread's history plus `prompt` (nothing but the
    prompt with `history=False`), waits, keeps the turn, returns the Answer."""
    return session().chat(prompt, **options)


async def achat(prompt: str, **options: Any) -> Any:
    """chat() for async code (a notebook's top-level await): the same request and Answer; the request runs on the
    loop thread, never on the caller's loop."""
    if options.get("tools"):
        from .tool_ask import ask_with_tools

        return (await ask_with_tools(session(), prompt, stream=False, **options)).answer()
    return finished(await session().ask(prompt, stream=False, **options))


def stream(prompt: str, **options: Any) -> Iterator[str]:
    """chat()'s request, answered piece by piece: yields text as it arrives; the turn is kept when it ends.
    With `tools=`, the text of every step of the exchange (the calls run between them, as chat() runs them).

    Stopping early (break, Ctrl-C, `stop()`) keeps what arrived, flagged as interrupted; an error keeps nothing.
    """
    return iter(_asked(prompt, options))


def astream(prompt: str, **options: Any) -> AsyncIterator[str]:
    """stream() for async code: `async for piece in puter_magic.astream("…")`."""
    return aiter(_asked(prompt, options))


def _asked(prompt: str, options: dict[str, Any]) -> Any:
    """A Reply, or with tools a ToolLoop: either is read as text pieces, sync or async."""
    if options.get("tools"):
        from .tool_ask import ask_with_tools

        return ask_with_tools(session(), prompt, **options)
    return session().ask(prompt, **options)
