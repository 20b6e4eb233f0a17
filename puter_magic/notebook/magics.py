"""`%%puter` and `%puter`: the notebook face of the Session.

    %load_ext puter_magic
    %puter model deterministic
    %%puter -t ideas
    Three names for a cat, please.

Settings are traitlets (notebook/magic_settings.py), so `%config PuterMagics.default_model = "gpt-5-nano"` and
`ipython_config.py` work; the cell's options are notebook/cell_options.py's. Expected failures become one-line
UsageErrors (no traceback); see errors.py for what each one suggests.

`%load_ext` imports what registering the magics needs; the session, the commands, the batch machinery and the
display load on first use (tests/test_load_ext.py holds the list).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import line_cell_magic, magics_class, no_var_expand

from ..core import first_session
from ..errors import PuterError
from .cell_options import cell_help, options_report, parse_options
from .magic_settings import PuterSettings

KEPT_FAILURES = 20  # cells whose exceptions are kept for `%puter explain N` (each keeps its frames alive)


@contextlib.contextmanager
def friendly() -> Iterator[None]:
    """Expected failures become one line (IPython shows a UsageError without a traceback): `with friendly():`, or
    `@friendly()` on a method."""
    try:
        yield
    except PuterError as error:
        raise UsageError(error.one_line()) from None


@magics_class
class PuterMagics(PuterSettings):
    """The %puter line magic and the %%puter cell magic; their settings are PuterSettings' traitlets."""

    def on_pre_run_cell(self, info: Any) -> None:
        """The cell id keys the cell's turn, so re-running a cell replaces its turn."""
        self.cell_id = getattr(info, "cell_id", None)

    def on_post_run_cell(self, result: Any) -> None:
        """A cell's exception is remembered (the newest KEPT_FAILURES) for `@{Err}` and `%puter explain N`."""
        error = getattr(result, "error_in_exec", None)
        if error is None or isinstance(error, (UsageError, KeyboardInterrupt)) or result.execution_count is None:
            return
        self.failures[result.execution_count] = (error, getattr(result.info, "raw_cell", "") or "")
        while len(self.failures) > KEPT_FAILURES:
            del self.failures[min(self.failures)]

    @no_var_expand
    @line_cell_magic
    @friendly()
    def puter(self, line: str, cell: str | None = None) -> Any:
        """%puter COMMAND … (`%puter help` lists them) · %%puter [options] with the prompt as the cell."""
        if cell is None:
            if line.strip() in ("-h", "--help"):  # where IPython sends an empty `%%puter --help` cell
                return options_report()
            from . import commands

            return commands.run(self, line)
        return self.ask(line, cell)

    def namespace(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}

    def _start(self, line: str, cell: str) -> tuple[Any, Any]:
        """(the cell's run, None) for a chat cell; (None, what to show) for `--help`, `--draw` and `--speak`."""
        args = parse_options(line)
        if args.help:
            return None, options_report()
        if args.draw or args.speak:
            media_only(self, args, cell)
            return None, None
        from .cell_run import CellRun

        return CellRun(self, args, cell), None

    def ask(self, line: str, cell: str) -> Any:
        """%%puter as IPython calls a cell magic: the answer streams into the cell; Ctrl-C interrupts it."""
        run, shown = self._start(line, cell)
        if run is None:
            return shown
        try:
            for piece in run.pending:
                run.take(piece)
        except KeyboardInterrupt:
            run.interrupted()
        except PuterError:
            run.failed()
            raise
        return spoken(self, run.args, run)

    async def ask_async(self, line: str, cell: str) -> Any:
        """%%puter as a coroutine: the kernel awaits it, and meanwhile handles widget clicks, so the panel's
        Stop reaches the answer (see notebook/awaiting.py); its interrupt arrives as CancelledError. The same cell
        as ask(), read with `async for`."""
        import asyncio

        with friendly():
            run, shown = self._start(line, cell)
            if run is None:
                return shown
            try:
                async for piece in run.pending:
                    run.take(piece)
            except asyncio.CancelledError:
                run.interrupted()
            except PuterError:
                run.failed()
                raise
            return spoken(self, run.args, run)


def media_only(magics: PuterMagics, args: Any, cell: str) -> None:
    """`--draw` and `--speak` cells: a picture or audio of the cell, no chat."""
    from . import media_cell

    if args.draw:
        return media_cell.draw_cell(magics, args, cell)
    return media_cell.speak_text(magics, args, cell.strip(), keep=True)


def spoken(magics: PuterMagics, args: Any, run: Any) -> Any:
    """The end of a chat cell; with --speak-answer, its answer said aloud once it is shown."""
    result = run.end()
    if args.speak_answer and run.reply is not None and run.reply.text().strip():
        from . import media_cell

        media_cell.speak_text(magics, args, run.reply.text(), keep=False)
    return result


PuterMagics.puter.__doc__ = f"""%puter COMMAND … runs a command (`%puter help` lists them).

{cell_help()}"""


def load(shell: Any) -> PuterMagics:
    magics = PuterMagics(shell)
    shell.register_magics(magics)
    shell.events.register("pre_run_cell", magics.on_pre_run_cell)
    shell.events.register("post_run_cell", magics.on_post_run_cell)
    if magics.awaiter is not None:
        magics.awaiter.install()
    return magics


def unload(shell: Any) -> None:
    for kind in ("line", "cell"):
        shell.magics_manager.magics[kind].pop("puter", None)
    if isinstance(shell.magics_manager.registry.get(PuterMagics.__name__), PuterMagics):
        del shell.magics_manager.registry[PuterMagics.__name__]  # what the panel asks whether Stop reaches cells
    for configurable in list(getattr(shell, "configurables", [])):
        if isinstance(configurable, PuterMagics):
            shell.configurables.remove(configurable)
            with contextlib.suppress(ValueError):
                shell.events.unregister("pre_run_cell", configurable.on_pre_run_cell)
                shell.events.unregister("post_run_cell", configurable.on_post_run_cell)
            if configurable.awaiter is not None:
                configurable.awaiter.uninstall()
            first_session.forget(configurable._adopt)
