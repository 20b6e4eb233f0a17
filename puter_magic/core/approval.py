"""Who decides whether a tool call runs: the approval mode, and the person asked when the mode is "ask".

    approve="ask"    each call is put to the person (a y/n prompt, or an Approve/Deny row in a notebook) — default
    approve="all"    every call runs without asking
    approve="none"   no call runs (the model is told each was refused)

A tool marked safe (`@puter_magic.tool(safe=True)`) runs in every mode. Where nobody can answer — a notebook run
headlessly (nbclient, `make notebooks`), a script whose stdin is no terminal — "ask" denies, and says so once.
A denied call goes back to the model as a refusal, so it can answer without it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Protocol

from ..datatypes import ToolCall
from ..errors import InputError
from .tools import Tool

MODES = ("ask", "all", "none")
NOBODY_TO_ASK = (
    "tool calls need approval and nobody can give it here, so they are denied — "
    "pass approve='all' (--approve all) or mark the tool safe to let them run"
)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InputError(f"approve must be one of {', '.join(MODES)}, not {mode!r}", hint="the default is 'ask'")
    return mode


def describe(call: ToolCall, limit: int = 300) -> str:
    """A call as one line: `get_weather({"city": "Paris"})`, long arguments cut."""
    arguments = call.arguments_json
    if len(arguments) > limit:
        arguments = arguments[:limit] + "…"
    return f"{call.name}({arguments})"


class Approver(Protocol):
    """Puts one call to a person. `ask` blocks (a terminal prompt); `aask` awaits (a widget row while the cell
    awaits). Either may return None: nobody could be asked (the call is denied, and NOBODY_TO_ASK said once)."""

    def ask(self, call: ToolCall, tool: Tool) -> bool | None: ...

    async def aask(self, call: ToolCall, tool: Tool) -> bool | None: ...


class Nobody:
    """No person to ask: every call that needs approval is denied."""

    def ask(self, call: ToolCall, tool: Tool) -> bool | None:
        return None

    async def aask(self, call: ToolCall, tool: Tool) -> bool | None:
        return None


class Prompt:
    """A y/n question on the terminal (`input()`); Enter alone means no. None when stdin is not a terminal."""

    def __init__(self, read: Callable[[str], str] = input, interactive: Callable[[], bool] | None = None) -> None:
        self._read = read
        self._interactive = interactive or (lambda: sys.stdin is not None and sys.stdin.isatty())

    def ask(self, call: ToolCall, tool: Tool) -> bool | None:
        if not self._interactive():
            return None
        try:
            answer = self._read(f"\nRun {describe(call)}? [y/N] ")
        except EOFError:
            return None
        return answer.strip().lower() in ("y", "yes")

    async def aask(self, call: ToolCall, tool: Tool) -> bool | None:
        return self.ask(call, tool)


class Approval:
    """The decision for each call: the mode first, then the tool's `safe`, then the approver."""

    def __init__(self, mode: str = "ask", approver: Approver | None = None) -> None:
        self.mode = check_mode(mode)
        self.approver: Approver = approver if approver is not None else Prompt()
        self.nobody = False  # set when a call was denied because nobody could be asked

    def settled(self, tool: Tool) -> bool | None:
        """True or False when no person is needed, None when one is."""
        if self.mode == "all" or tool.safe:
            return True
        if self.mode == "none":
            return False
        return None

    def decided(self, answer: bool | None) -> bool:
        if answer is None:
            self.nobody = True
            return False
        return answer
