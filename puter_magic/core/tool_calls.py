"""One tool call carried out for the tool loop (core/tool_loop.py), and what is shown of it.

call_here(call, tool, loop, stop)     on this thread (an async tool on the loop thread, where Stop cancels it)
await call_awaited(call, tool, stop)  on the caller's event loop (a notebook's awaited cell)
ToolActivity(call[, result]).line()   what the cell shows as a call starts and ends
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from ..datatypes import ToolCall
from . import tools as tool_calls
from .approval import describe
from .loop import LoopThread, Stop
from .tools import Tool, ToolResult

STOPPED = "stopped by the user: this call did not finish (or did not start)"
DENIED = "the user denied this call: it was not run; answer without it, or explain what you wanted it for"


@dataclass(frozen=True)
class ToolActivity:
    """One call, as it starts (`result` None) and as it ends (its result: `ok`, the text the model reads, time)."""

    call: ToolCall
    result: ToolResult | None = None

    def line(self) -> str:
        """`→ get_weather({"city": "Paris"})` when it starts; `  ← 18 °C (0.02 s)` (or `  ✗ …`) when it ends."""
        if self.result is None:
            return f"→ {describe(self.call)}"
        mark = "←" if self.result.ok else "✗"
        text = " ".join(self.result.text.split())
        text = text if len(text) <= 300 else text[:300] + "…"
        return f"  {mark} {text} ({self.result.seconds:.2f} s)"


def call_here(call: ToolCall, tool: Tool, loop: LoopThread, stop: Stop) -> ToolResult:
    """A sync tool runs on this thread; an async one on the loop thread, where Stop can cancel it."""
    if inspect.iscoroutinefunction(tool.function):
        try:
            return loop.run(tool_calls.run(tool, arguments(call)), stop=stop)
        except concurrent.futures.CancelledError:
            if stop.requested:
                return result_of(call, STOPPED)
            raise
    running = tool_calls.run(tool, arguments(call))
    try:
        running.send(None)  # a sync function's call completes without suspending
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    running.close()
    return result_of(call, f"{tool.name} returned an awaitable: define it with `async def`")


async def call_awaited(call: ToolCall, tool: Tool, stop: Stop) -> ToolResult:
    result: ToolResult = await call_awaited_or_stopped(
        tool_calls.run(tool, arguments(call)), stop, result_of(call, STOPPED)
    )
    return result


def arguments(call: ToolCall) -> Any:
    return call.arguments_text if call.arguments_text is not None else call.arguments


def result_of(call: ToolCall, text: str) -> ToolResult:
    return ToolResult(call.name, call.arguments, text, False, 0.0)


async def call_awaited_or_stopped(waiting: Coroutine[Any, Any, Any], stop: Stop, stopped: Any = None) -> Any:
    """Await `waiting` (a call, a person's decision) unless Stop is pressed first: then `stopped`."""
    task = asyncio.ensure_future(waiting)
    caller = asyncio.get_running_loop()
    stop.on_request(lambda: caller.call_soon_threadsafe(task.cancel))
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if stop.requested and not (current is not None and getattr(current, "cancelling", lambda: 0)()):
            return stopped
        raise
