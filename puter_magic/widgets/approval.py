"""The Approve/Deny row a %%puter cell shows for a tool call, and waits on while it awaits.

    approved = await ApprovalRow.shown(call).decision()     # True, False once clicked

The click reaches the kernel because the cell is awaited (notebook/awaiting.py): ipykernel handles comm messages
while a cell awaits. Once decided the buttons are disabled and the row says what was decided, so the saved
notebook reads "Approved: get_weather(…)" rather than showing two dead buttons.
"""

from __future__ import annotations

import asyncio
import html

import ipywidgets as widgets  # type: ignore[import-untyped]

from ..core.approval import describe
from ..datatypes import ToolCall


class ApprovalRow(widgets.HBox):  # type: ignore[misc]
    """A question and two buttons; `decision()` waits for a click."""

    def __init__(self, call: ToolCall) -> None:
        self.call = call
        self._question = widgets.HTML(f"Run <code>{html.escape(describe(call))}</code>?")
        self._approve = widgets.Button(description="Approve", button_style="success", icon="check")
        self._deny = widgets.Button(description="Deny", button_style="danger", icon="times")
        super().__init__([self._question, self._approve, self._deny])
        self._approve.on_click(self._on_approve_click)
        self._deny.on_click(self._on_deny_click)
        self._decided: asyncio.Future[bool] | None = None
        self.value: bool | None = None

    @classmethod
    def shown(cls, call: ToolCall) -> ApprovalRow:
        from IPython.display import display

        row = cls(call)
        display(row)  # type: ignore[no-untyped-call]
        return row

    async def decision(self) -> bool:
        if self.value is None:
            self._decided = asyncio.get_running_loop().create_future()
            await self._decided
        assert self.value is not None
        return self.value

    def _on_approve_click(self, button: widgets.Button) -> None:
        self._decide(True)

    def _on_deny_click(self, button: widgets.Button) -> None:
        self._decide(False)

    def _decide(self, value: bool) -> None:
        if self.value is not None:
            return
        self.value = value
        self._approve.disabled = self._deny.disabled = True
        said = "Approved" if value else "Denied"
        self._question.value = f"{said}: <code>{html.escape(describe(self.call))}</code>"
        if self._decided is not None and not self._decided.done():
            self._decided.set_result(value)
