"""Session.ask() with tools: the first request as ask() builds it, then a ToolLoop (core/tool_loop.py) over it.

loop = ask_with_tools(session, "Weather in Paris?", [get_weather], approve="all")
puter_magic.chat("Weather in Paris?", tools=[get_weather], approve="all")     # the same, through chat()
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from ..datatypes import ChatRequest
from .approval import Approval, Approver
from .reply import Reply
from .tool_calls import ToolActivity
from .tool_loop import DEFAULT_MAX_STEPS, ToolLoop
from .tools import resolve


def ask_with_tools(
    session: Any,
    prompt: str | list[dict[str, Any]],
    tools: Any,
    *,
    approve: str = "ask",
    approver: Approver | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    show: Callable[[ToolActivity | str], None] | None = None,
    namespace: dict[str, Any] | None = None,
    **options: Any,
) -> ToolLoop:
    """`session.ask(prompt, **options)` with `tools` the model may call: callables, Tools, or names (looked up in
    `namespace`, then among @tool functions). `approve` is "ask", "all" or "none" (core/approval.py), `approver`
    who is asked (a y/n prompt on a terminal by default), `show` is told of each call as it starts and ends.
    Nothing is sent until the ToolLoop is read; its exchange is kept as one turn when it ends."""
    approval = Approval(approve, approver)
    chosen = resolve(tools, namespace)
    first: Reply = session.ask(prompt, **options)
    provider, streamed = first._provider, first.streamed

    def reply_for(request: ChatRequest) -> Reply:
        return Reply(request, provider, session.loop, streamed=streamed, held=True)

    return ToolLoop(
        first.request,
        reply_for,
        chosen,
        session.loop,
        approval=approval,
        max_steps=max_steps,
        show=show,
        streamed=streamed,
        thread=first.thread,
        provider=first.provider,
        record=cast("Callable[[ToolLoop], None] | None", first._record),  # Session._keep reads either
        tracking=None if options.get("held") else session.answering.tracking,
    )
