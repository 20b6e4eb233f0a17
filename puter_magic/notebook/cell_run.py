"""One %%puter cell being answered: its Reply (or, with --map, its Batch), the view it streams into, and how each
ending is shown. PuterMagics.ask() reads `pending` with `for`, ask_async() with `async for`; nothing else differs.

What happened to the answer (kept, flagged, or nothing recorded) is the Reply's policy (core/reply.py); this
module only says it: a failure keeps the partial text on screen and raises; an interruption (Ctrl-C, the kernel's
interrupt) is one line; a Stop is an ordinary end with the part that arrived.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.display import display

from ..core.bridged import Bridged
from ..core.formats import bundle, substitution_warning, value_of
from ..core.images import Picture
from ..core.reply import Reply
from ..core.structured import StructuredReply, resolve
from ..core.validate import jsonable
from ..errors import InputError, SchemaMismatch, spell
from .cell_images import cell_prompt, described
from .cell_options import request_options
from .display import AnswerView, in_terminal

STOPPED_EARLY = "(stopped before the answer arrived — nothing is kept)"


class CellRun:
    """`pending` is what the cell waits for; `take()` each piece it yields, then `end()` (or `interrupted()`)."""

    def __init__(self, magics: Any, args: Any, cell: str) -> None:
        self.magics, self.args = magics, args
        self.fmt = args.format or ("json" if args.schema else magics.default_format)
        self.reply: Reply | None = None
        if args.map:
            from ..batches.run import start
            from .map_cell import dask_map, map_plan

            terminal = in_terminal(magics.shell)
            self.on_cluster = dask_map(magics, args, cell.strip("\n"))
            if self.on_cluster is not None:  # a Dask collection: its run is on the cluster, nothing to wait for here
                self.pending: Bridged[Any, Any] = start(self.on_cluster)
                return
            plan, self.rows = map_plan(
                magics.session, args, cell.strip("\n"), magics.namespace(), fmt=self.fmt, terminal=terminal
            )
            self.pending = start(plan)
            return
        self.pictures: list[Picture] = []
        self.notes: list[str] = []  # what was cut to fit: shown under the cell, not part of the answer
        prompt = cell_prompt(magics, args, cell, self.pictures, self.notes)
        ask: Any = magics.session.ask
        if args.tools:  # the model may call notebook functions: notebook/tool_cell.py
            from .tool_cell import ToolAnswerView, tool_asker

            ask = tool_asker(magics, args, lambda what: self.view.show(what))  # type: ignore[attr-defined]
        self.reply = self.pending = ask(
            prompt,
            **request_options(args),
            stream=not args.no_stream,
            thread=args.thread,
            key=magics.cell_id,
            history=not args.no_history,
            new=args.new,
            **self.structured(),
            context=args.context,
        )
        show_notes(self.notes, magics.shell)
        self.view = (ToolAnswerView if args.tools else AnswerView)(
            interval=magics.update_interval,
            terminal=in_terminal(magics.shell),
            plain=self.fmt == "text",
            quiet=args.quiet,
        )
        if not args.no_stream:
            self.view.start()

    def structured(self) -> dict[str, Any]:
        """`--schema TYPE`: the class (or JSON-schema dict) of that name in the notebook, or `list[TYPE]`; the name
        is looked up, never evaluated."""
        return {"schema": resolve(self.args.schema, self.magics.namespace())} if self.args.schema else {}

    def provenance(self, answer: Any) -> dict[str, Any]:
        """The output's metadata: where the answer came from, and the size of each image sent."""
        data = answer.provenance()
        if self.pictures:
            data["images"] = described(self.pictures)
        return {"puter_magic": data}

    def take(self, piece: str) -> None:
        self.view.append(piece)

    def failed(self) -> None:
        """The answer failed (the error propagates): what arrived stays on screen, marked."""
        reply = self.reply
        if reply is not None and isinstance(reply.error, SchemaMismatch) and reply.error.text:  # shown, not kept
            if not self.view.text:
                if not reply.streamed:  # a streamed view has started already
                    self.view.start()
                self.view.append(reply.error.text)
            self.view.keep_partial("it does not fit the schema: not added to the history")
            return
        if self.reply is not None and self.reply.streamed:
            self.view.keep_partial("stopped by an error: this part is not added to the history")

    def interrupted(self) -> NoReturn:
        """Ctrl-C, or the kernel's interrupt of an awaited cell: one line; the Reply kept what arrived."""
        reply = self.reply
        if reply is None:  # a batch ends early by itself; nothing else is interrupted here
            raise UsageError("interrupted") from None
        if not reply.text() and not getattr(reply, "steps", None):
            raise UsageError("interrupted before the answer arrived — nothing is kept") from None
        answer = reply.answer()
        self.view.finish(bundle(answer, "markdown"), self.provenance(answer))
        raise UsageError("interrupted — the part that arrived is kept, flagged in the history") from None

    def end(self) -> None:
        if self.reply is None:
            return self._show_map()
        answer = self.reply.answer()
        args, view, provenance = self.args, self.view, self.provenance(answer)
        if answer.interrupted:  # stopped: what arrived stays on screen; a partial answer is no value for -o
            if not answer.text and not answer.tool_calls:
                view.finish({"text/plain": STOPPED_EARLY})
                return None
            view.finish(bundle(answer, "markdown"), provenance)
            if args.out:
                raise UsageError(f"stopped — {args.out} was not set; the part that arrived is shown above and kept")
            return None
        try:
            structured = isinstance(self.reply, StructuredReply)
            value = self.reply.value if isinstance(self.reply, StructuredReply) else value_of(answer, self.fmt)
        except InputError as error:  # the answer arrived but is not what the format needs: show it, say so
            view.finish(bundle(answer, "markdown"), provenance)
            hint = spell(error.hint)
            raise UsageError(f"{error.message} — it is shown above and kept in the history; {hint}") from None
        view.finish(bundle(answer, self.fmt, jsonable(value) if structured else value), provenance)
        show_notes([line for line in (substitution_warning(answer),) if line], self.magics.shell)
        if args.out:
            self.magics.namespace()[args.out] = value
        if args.insert and self.magics.shell is not None:
            self.magics.shell.set_next_input(value_of(answer, "code"), replace=False)
        return None

    def _show_map(self) -> None:
        from .map_cell import interrupted_message

        if self.on_cluster is not None:
            return
        result = self.pending.result()  # type: ignore[attr-defined]  # a Batch, on the --map path
        args = self.args
        if args.out:
            self.magics.namespace()[args.out] = self.rows.shaped(result)
        if not args.quiet:
            display(result)
        if result.interrupted:
            raise UsageError(interrupted_message(result, args.out))


def show_notes(notes: list[str], shell: Any) -> None:
    """One line each, under the cell (stderr in a terminal), outside the answer's output."""
    if not notes:
        return
    if in_terminal(shell):
        print("\n".join(f"note: {note}" for note in notes), file=sys.stderr)
        return
    text = "\n".join(f"note: {note}" for note in notes)
    display({"text/plain": text}, raw=True, metadata={"puter_magic": {"notes": notes}})
