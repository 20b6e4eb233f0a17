"""A question answered with tools: ask, run the calls the model makes, send the results back, until it answers.

    loop = session.ask("Weather in Paris?", tools=[get_weather], approve="ask")
    for piece in loop: print(piece, end="")          # the text of every step; `async for` too; or loop.text()
    loop.steps          # the exchange: assistant messages with tool_calls, and one tool message per call
    loop.answer()       # the final answer (an Answer), its tool_calls all the calls made

Each step is one Reply (core/reply.py) with the exchange so far appended to the request. The calls of a step run
in the order the model made them, each after its approval (core/approval.py); `show` is told as each starts and
ends (a ToolActivity), and gets the one-line notes. At most `max_steps` requests: when the last one still calls
tools, its calls are answered "not run" and `limit_reached` is set — everything is kept.

The history stays consistent whatever happens: every call in `steps` has exactly one tool result. A call that
Stop, Ctrl-C or the kernel's interrupt cuts short — and each call of that step not run yet — gets the result
STOPPED, and the exchange is recorded, flagged as interrupted, so the next question carries it whole. A failed
request (a PuterError) records nothing, as a Reply does.

The loop's logic is one generator (`_plan`) that yields what needs waiting for — reading a Reply, a person's
decision, a tool call — and the two readers, `__iter__` and `__aiter__`, only carry those out, sync or awaited:
a sync tool runs on the reader's thread (the notebook's own), an async one is awaited (on the loop thread when
read synchronously).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from typing import Any

from ..datatypes import Answer, ChatRequest, Message, ToolCall, Usage
from ..errors import PuterError
from .approval import NOBODY_TO_ASK, Approval
from .bridged import one_reading
from .loop import LoopThread, Stop
from .reply import Reply
from .tool_calls import DENIED, STOPPED, ToolActivity, call_awaited, call_awaited_or_stopped, call_here, result_of
from .tools import Tool, ToolResult

DEFAULT_MAX_STEPS = 8


@dataclass(frozen=True)
class _Read:
    reply: Reply


@dataclass(frozen=True)
class _Decide:
    call: ToolCall
    tool: Tool


@dataclass(frozen=True)
class _Call:
    call: ToolCall
    tool: Tool


_Action = _Read | _Decide | _Call


class ToolLoop:
    """See the module docstring. Built by Session.ask(tools=…); read once, like a Reply."""

    def __init__(
        self,
        request: ChatRequest,
        reply_for: Callable[[ChatRequest], Reply],
        tools: Sequence[Tool],
        loop: LoopThread,
        *,
        approval: Approval | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
        show: Callable[[ToolActivity | str], None] | None = None,
        streamed: bool = True,
        thread: str | None = None,
        provider: str = "",
        record: Callable[[ToolLoop], None] | None = None,
        tracking: Callable[[Stop], AbstractContextManager[Any]] | None = None,
    ) -> None:
        self.request = replace(request, tools=tuple(tool.entry() for tool in tools))
        self.tools = {tool.name: tool for tool in tools}
        self.loop, self.streamed, self.thread, self.provider = loop, streamed, thread, provider
        self.approval = approval if approval is not None else Approval()
        self.max_steps = max(1, max_steps)
        self.stop = Stop()
        self.steps: list[Message] = []  # the exchange: assistant messages with calls, then their tool results
        self.replies: list[Reply] = []
        self.interrupted = False
        self.limit_reached = False
        self.error: PuterError | None = None
        self._reply_for, self._show, self._record, self._tracking = reply_for, show, record, tracking
        self._consumed = False
        self._told_nobody = False

    # --- what it knows ----------------------------------------------------------------------------

    def text(self) -> str:
        """The final answer's text (the last step's; what arrived of it when interrupted); waits like Reply's."""
        self.wait()
        return self.replies[-1].text() if self.replies and not self._last_called() else ""

    def _last_called(self) -> bool:
        return bool(self.replies[-1].tool_calls) if self.replies else False

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        return tuple(call for message in self.steps for call in message.tool_calls)

    @property
    def model(self) -> str:
        return self.replies[-1].model if self.replies else self.request.model

    @property
    def usage(self) -> Usage:
        """All steps' tokens and cost added up."""
        usages = [reply.usage for reply in self.replies]

        def total(name: str) -> Any:
            values = [getattr(usage, name) for usage in usages if getattr(usage, name) is not None]
            return sum(values) if values else None

        return Usage(total("input_tokens"), total("output_tokens"), total("cost_usd"), any(u.estimated for u in usages))

    def answer(self) -> Answer:
        text = self.text()
        reasoning = self.replies[-1].reasoning if self.replies else ""
        return Answer(
            text, self.model, self.provider, self.thread, self.usage, self.interrupted, reasoning, self.tool_calls
        )

    # --- the logic ----------------------------------------------------------------------------------

    def _plan(self) -> Generator[_Action, Any, None]:
        pending: list[ToolCall] = []  # the calls of the current step that have no result yet
        try:
            for step in range(1, self.max_steps + 1):
                if self.stop.requested:
                    self.interrupted = True
                    return
                reply = self._reply_for(replace(self.request, messages=(*self.request.messages, *self.steps)))
                self.replies.append(reply)
                self.stop.on_request(reply.stop.request)
                yield _Read(reply)
                if reply.interrupted:
                    self.interrupted = True
                    return
                if not reply.tool_calls:
                    return
                made = tuple(replace(call, arguments_text=call.arguments_json) for call in reply.tool_calls)  # as sent
                pending = list(made)
                self.steps.append(Message("assistant", reply.text(), tool_calls=made))
                while pending:
                    call = pending[0]
                    if step == self.max_steps:
                        result = result_of(call, f"not run: the limit of {self.max_steps} steps was reached")
                    elif self.stop.requested:
                        result = result_of(call, STOPPED)
                    else:
                        result = yield from self._one(call)
                    self._answered(pending.pop(0), result)
            self.limit_reached = True
            self._tell(
                f"the model was still calling tools after {self.max_steps} steps: stopped there, everything is "
                "kept — raise max_steps (--max-steps) to let it go on"
            )
        except BaseException as error:
            if not isinstance(error, PuterError):
                self.interrupted = True
                while pending:
                    call = pending.pop(0)
                    self._answered(call, result_of(call, STOPPED))
            raise

    def _one(self, call: ToolCall) -> Generator[_Action, Any, ToolResult]:
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(self.tools) or "none"
            return result_of(call, f"there is no tool named {call.name!r}; the tools are: {known}")
        allowed = self.approval.settled(tool)
        if allowed is None:
            allowed = self.approval.decided((yield _Decide(call, tool)))
            if self.stop.requested:  # Stop pressed while the person was being asked
                return result_of(call, STOPPED)
            if self.approval.nobody and not self._told_nobody:
                self._told_nobody = True
                self._tell(NOBODY_TO_ASK)
        if not allowed:
            return result_of(call, DENIED)
        self._tell(ToolActivity(call))
        result: ToolResult = yield _Call(call, tool)
        return result

    def _answered(self, call: ToolCall, result: ToolResult) -> None:
        self.steps.append(Message("tool", result.text, tool_call_id=call.id))
        self._tell(ToolActivity(call, result))

    def _tell(self, what: ToolActivity | str) -> None:
        if self._show is not None:
            self._show(what)
        elif isinstance(what, str):
            import sys

            print(what, file=sys.stderr)

    # --- reading it: the plan's actions carried out, on this thread or awaited ------------------------

    def __iter__(self) -> Iterator[str]:
        with self._flight():
            walk = _Walk(self._plan())
            while (action := walk.action) is not None:
                try:
                    if isinstance(action, _Read):
                        yield from action.reply
                        outcome: Any = action.reply
                    elif isinstance(action, _Decide):
                        outcome = self.approval.approver.ask(action.call, action.tool)
                    else:
                        outcome = call_here(action.call, action.tool, self.loop, self.stop)
                except BaseException as error:
                    walk.failed(error)
                else:
                    walk.done(outcome)

    async def __aiter__(self) -> AsyncIterator[str]:
        with self._flight():
            walk = _Walk(self._plan())
            while (action := walk.action) is not None:
                try:
                    if isinstance(action, _Read):
                        async for piece in action.reply:
                            yield piece
                        outcome: Any = action.reply
                    elif isinstance(action, _Decide):
                        outcome = await call_awaited_or_stopped(
                            self.approval.approver.aask(action.call, action.tool), self.stop
                        )
                    else:
                        outcome = await call_awaited(action.call, action.tool, self.stop)
                except BaseException as error:
                    walk.failed(error)
                else:
                    walk.done(outcome)

    def wait(self) -> ToolLoop:
        if not self._consumed:
            for _ in self:
                pass
        return self

    def __await__(self) -> Generator[Any, None, ToolLoop]:
        return self._await().__await__()

    async def _await(self) -> ToolLoop:
        if not self._consumed:
            async for _ in self:
                pass
        return self

    @contextmanager
    def _flight(self) -> Iterator[None]:
        if self._consumed:
            raise RuntimeError("this ToolLoop has been read already")
        self._consumed = True
        with one_reading(self, self._tracking, self._keep):
            yield

    def _keep(self, cut_short: bool) -> None:
        """Record the exchange, once; an interruption before any text or call keeps nothing."""
        if cut_short:
            self.interrupted = True
        record, self._record = self._record, None
        if record is None:
            return
        if not self.interrupted or self.steps or (self.replies and self.replies[-1].text()):
            record(self)


class _Walk:
    """A reader's way through the plan: `action` is what it waits for (None once the plan is done); `done()` hands
    the plan that action's outcome, `failed()` its error (the plan makes the history whole, then raises it again)."""

    def __init__(self, plan: Generator[_Action, Any, None]) -> None:
        self._plan = plan
        self.action: _Action | None = next(plan, None)

    def done(self, outcome: Any) -> None:
        try:
            self.action = self._plan.send(outcome)
        except StopIteration:
            self.action = None

    def failed(self, error: BaseException) -> None:
        self.action = self._plan.throw(error)
