"""A %%puter cell with `--tools`: its tool loop, who approves each call, and the calls shown in the answer.

    %%puter --tools get_weather,df_query [--approve ask|all|none] [--max-steps N]

Who is asked (core/approval.py) depends on where the cell runs:
- terminal IPython: a y/n prompt;
- a kernel whose frontend lets the cell read input (JupyterLab, Notebook): an Approve/Deny row in the cell when the
  cell is awaited (notebook/awaiting.py — the click reaches the kernel while the cell waits), else a y/n input()
  prompt below the cell;
- a kernel run headlessly (nbclient, `make notebooks`, papermill: no input allowed): nobody, so calls that need
  approval are denied, and one line says how to let them run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.approval import Approver, Nobody, Prompt
from ..core.tool_ask import ask_with_tools
from ..core.tool_calls import ToolActivity
from ..core.tool_loop import ToolLoop
from ..core.tools import Tool
from ..datatypes import ToolCall
from ..reports import Report
from .display import AnswerView, in_terminal


def tool_asker(magics: Any, args: Any, show: Callable[[ToolActivity | str], None]) -> Callable[..., ToolLoop]:
    """What the cell calls in place of `session.ask`: the same options, with the cell's tools and approval."""

    def ask(prompt: Any, **options: Any) -> ToolLoop:
        return ask_with_tools(
            magics.session,
            prompt,
            args.tools,
            namespace=magics.namespace(),
            approve=args.approve or "ask",
            approver=approver_for(magics.shell),
            max_steps=args.max_steps if args.max_steps is not None else magics.max_steps,
            show=show,
            **options,
        )

    return ask


def approver_for(shell: Any) -> Approver:
    if in_terminal(shell):
        return Prompt()
    if not getattr(shell.kernel, "_allow_stdin", False):  # the frontend said no one can type an answer
        return Nobody()
    return RowOrPrompt()


class RowOrPrompt:
    """In a kernel with a person at the frontend: an Approve/Deny row when the cell awaits, input() otherwise."""

    def ask(self, call: ToolCall, tool: Tool) -> bool | None:
        return Prompt(interactive=lambda: True).ask(call, tool)

    async def aask(self, call: ToolCall, tool: Tool) -> bool | None:
        from ..widgets.approval import ApprovalRow

        return await ApprovalRow.shown(call).decision()


class ToolAnswerView(AnswerView):
    """An AnswerView that also shows each call as it happens, and keeps those lines above the final answer."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.log: list[str] = []
        self._named: set[str] = set()
        self._logged = 0  # how much of the streamed text the log holds

    def show(self, what: ToolActivity | str) -> None:
        if isinstance(what, ToolActivity) and what.result is not None and what.call.id not in self._named:
            self.show(ToolActivity(what.call))  # a call that never ran (denied, unknown, stopped) is named too
        said = self.text[self._logged :].strip()  # what the model wrote before these calls
        if said:
            self.log.append(said)
        if isinstance(what, str):
            line = f"({what})"
        elif what.result is None:
            line = what.line()
            self._named.add(what.call.id)
        else:
            line = what.line().strip()
        self.log.append(line)
        self.append(f"\n{line}\n" if not self.text or self.text.endswith("\n") else f"\n\n{line}\n")
        self._logged = len(self.text)

    def finish(self, data: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> None:
        if self.log and not self.terminal:
            data = dict(data)
            plain = "\n".join(self.log)
            markdown = "\n".join(f"    {line}" for line in self.log)  # a code block: arguments shown as written
            data["text/plain"] = f"{plain}\n\n{data.get('text/plain', '')}"
            if "text/markdown" in data:
                data["text/markdown"] = f"{markdown}\n\n{data['text/markdown']}"
        super().finish(data, metadata)


def tools_report() -> Report:
    """`%puter tools`: each registered tool, whether it runs without asking, and what the model is told of it."""
    from ..core.tools import registered
    from ..reports import say, table

    tools = registered()
    if not tools:
        return say(
            "No tools registered: decorate a function with `@puter_magic.tool`, or name any function with "
            "`%%puter --tools NAME`."
        )
    rows = [[tool.name, "yes" if tool.safe else "asks", tool.description.split("\n")[0]] for tool in tools]
    return table(["tool", "runs without asking", "description"], rows)
