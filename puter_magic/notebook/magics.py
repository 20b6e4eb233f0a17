"""`%%puter` and `%puter`: the notebook face of the Session.

    %load_ext puter_magic
    %puter model deterministic
    %%puter -t ideas
    Three names for a cat, please.

Settings are traitlets, so `%config PuterMagics.default_model = "gpt-5-nano"` and `ipython_config.py` work.
Expected failures become one-line UsageErrors (no traceback); see errors.py for what each one suggests.

`%load_ext` imports what registering the magics needs; the session, the commands, the batch machinery and the
display load on first use (tests/test_load_ext.py holds the list).
"""

from __future__ import annotations

import contextlib
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Enum, Float, Integer, TraitError, Unicode, observe, validate

from ..core import first_session
from ..core.formats import FORMATS
from ..errors import InputError, PuterError
from .awaiting import CellAwaiter

KEPT_FAILURES = 20  # cells whose exceptions are kept for `%puter explain N` (each keeps its frames alive)

if TYPE_CHECKING:
    from ..core.sessions import Session
    from ..reports import Report


@contextlib.contextmanager
def friendly() -> Iterator[None]:
    """Expected failures become one line (IPython shows a UsageError without a traceback): `with friendly():`, or
    `@friendly()` on a method."""
    try:
        yield
    except PuterError as error:
        raise UsageError(error.one_line()) from None


@magic_arguments()
@argument("-m", "--model", help="model id for this cell (default: the session's model)")
@argument("--provider", help="provider for this cell (default: the session's provider)")
@argument("-t", "--thread", help="conversation thread (default: the active one)")
@argument("-s", "--system", help="system prompt: sets the thread's (or, with --no-history, this cell's)")
@argument("--temperature", type=float, help="sampling temperature")
@argument("--max-tokens", type=int, help="upper bound on the answer's tokens")
@argument("--context", type=int, metavar="N", help="the model's window in tokens, whatever the server says")
@argument("--no-stream", action="store_true", help="wait for the whole answer instead of streaming it")
@argument("--new", action="store_true", help="start the thread over before asking")
@argument("--no-history", action="store_true", help="a one-off question: no context, nothing kept")
@argument("-f", "--format", choices=FORMATS, help="markdown (default), text, code or json")
@argument("--insert", action="store_true", help="with -f code: put the code into a new cell below")
@argument("-o", "--out", metavar="VAR", help="store the answer (for json: the parsed value) in VAR")
@argument("--schema", metavar="TYPE", help="answer as JSON fitting TYPE (a class or JSON schema here, or list[TYPE])")
@argument("--quiet", action="store_true", help="show nothing; use with -o, or to add context silently")
@argument("--raw", action="store_true", help="send the cell as it is: no @{name} expansion")
@argument("--image", action="append", metavar="PATH", help="attach an image file (repeat for more)")
@argument(
    "--draw", action="store_true", help="draw the cell as a picture (Puter's image generation; -m picks the model)"
)
@argument("--size", metavar="WxH", help="with --draw: the picture's size, e.g. 1024x1024")
@argument("--speak", action="store_true", help="say the cell aloud (text-to-speech); -o keeps the audio bytes")
@argument("--speak-answer", action="store_true", help="ask as usual, then say the answer aloud")
@argument("--voice", help="with --speak / --speak-answer: the voice (`%%puter models --voices` lists them)")
@argument("--save", metavar="PATH", help="with --draw / --speak: also write the picture or audio to PATH")
@argument("--map", metavar="VAR", help="ask the cell once per item of VAR (list, dict, Series, DataFrame): @{item}, …")
@argument("--concurrency", type=int, metavar="N", help="with --map: how many items are asked at once (default 8)")
@argument("--tools", metavar="NAMES", help="functions the model may call: names in the notebook or @tool, a,b")
@argument("--approve", choices=("ask", "all", "none"), help="with --tools: ask before each call (default), or not")
@argument("--max-steps", type=int, metavar="N", help="with --tools: at most N requests for this cell (default 8)")
@argument("-h", "--help", action="store_true", help="show this list instead of asking")
def cell_options(line: str) -> None:
    """%%puter [options] — the cell is the prompt; @{name} inserts a variable (\\@{ for a literal @{)."""


def parse_options(line: str) -> Any:
    """The %%puter line, split like a shell would (IPython's own splitter keeps the quotes)."""
    try:
        argv = shlex.split(line)
    except ValueError as exc:
        raise InputError(f"cannot read the options: {exc}", hint="check the quotes on the %%puter line") from None
    return cell_options.parser.parse_args(argv)


def cell_help() -> str:
    """Every %%puter option, one line each: what `%%puter --help` and `%%puter?` show."""
    lines = ["%%puter [options] — the cell is the prompt; @{name} inserts a variable (\\@{ for a literal @{)", ""]
    for action in cell_options.parser._actions:
        flags = ", ".join(action.option_strings)
        if action.nargs != 0:
            flags += f" {action.metavar or action.dest.upper()}"
        lines.append(f"  {flags:26} {action.help}")
    return "\n".join(lines)


@magics_class
class PuterMagics(Magics):
    """The %puter line magic and the %%puter cell magic."""

    default_model = Unicode(None, allow_none=True, help="model used when a cell does not name one").tag(config=True)
    default_format = Enum(FORMATS, "markdown", help="how answers are shown by default").tag(config=True)
    temperature = Float(None, allow_none=True, help="default sampling temperature").tag(config=True)
    max_tokens = Integer(None, allow_none=True, help="default upper bound on an answer's tokens").tag(config=True)
    context_tokens = Integer(
        None, allow_none=True, help="the window threads are trimmed to, in tokens (None: what the server says)"
    ).tag(config=True)
    max_steps = Integer(8, help="with --tools: the most requests one cell makes before it stops").tag(config=True)
    update_interval = Float(0.08, help="seconds between screen updates while an answer streams").tag(config=True)
    autosave = Unicode(None, allow_none=True, help="JSON file the conversations are saved to after each answer").tag(
        config=True
    )
    image_max_side = Integer(
        1568, help="images sent (@{fig}, --image) are downscaled to at most this many pixels on their longest side"
    ).tag(config=True)
    stoppable = Bool(
        True, help="run %%puter cells as coroutines, so the panel's Stop reaches a streaming answer (ipykernel ≥ 7.4)"
    ).tag(config=True)

    def __init__(self, shell: Any = None, session_: Session | None = None, **kwargs: Any) -> None:
        # Set before the traitlets machinery loads config, which fires the observers below.
        self._session = session_  # None: the shared session, configured when it is made (see `session`)
        self.cell_id: str | None = None
        self.failures: dict[int, tuple[BaseException, str]] = {}  # execution count → (exception, cell source)
        self.awaiter = CellAwaiter(shell) if shell is not None else None
        self._loading = True  # the shell's config is being applied (see _start_autosave)
        super().__init__(shell=shell, **kwargs)
        self._loading = False
        self._apply_config()
        if self._session is None:
            first_session.when_made(self._adopt)

    @property
    def session(self) -> Session:
        """The session the magics ask; the shared one is made on first use, not at `%load_ext`."""
        if self._session is None:
            from ..core.sessions import session

            self._adopt(session())
        assert self._session is not None
        return self._session

    def _adopt(self, session: Session) -> None:
        if self._session is None:
            self._session = session
            self._apply_config()

    def _apply_config(self) -> None:
        if self.awaiter is not None:
            self.awaiter.wanted = self.stoppable
        if self._session is None:
            return  # applied when the shared session is made
        if self.default_model and not self._session.model:
            self._session.set_model(self.default_model)
        self._session.temperature = self.temperature
        self._session.max_tokens = self.max_tokens
        self._session.context_tokens = self.context_tokens

    @observe("default_model", "temperature", "max_tokens", "context_tokens", "stoppable")
    def _on_config_change(self, change: dict[str, Any]) -> None:
        if change["name"] == "default_model" and self._session is not None:
            self._session.set_model(change["new"])
        self._apply_config()
        if change["name"] == "context_tokens" and self._session is not None:
            self._session.notify("window")  # the panel's window bar follows

    @validate("autosave")
    def _start_autosave(self, proposal: Any) -> str | None:
        """A new autosave file is read (and the session resumes it) before the value is kept; a file that is
        no conversation save is refused, and the setting stays as it was."""
        value: str | None = proposal["value"]
        try:
            line = self.session.start_autosave(Path(value).expanduser() if value else None)
        except PuterError as error:
            if self._loading:  # a refused value stays in the shell's config: loading carries on without it
                print(f"PuterMagics.autosave: {error.one_line()}", file=sys.stderr)
                return None
            raise TraitError(error.one_line()) from None
        if line:
            print(line)
        return value

    @observe("autosave")
    def _on_autosave_change(self, change: dict[str, Any]) -> None:
        if not change["new"]:  # traitlets validates no None, so stopping happens here
            self.session.start_autosave(None)

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

    def ask(self, line: str, cell: str) -> Any:
        """%%puter as IPython calls a cell magic: the answer streams into the cell; Ctrl-C interrupts it."""
        args = parse_options(line)
        if args.help:
            return options_report()
        if args.draw or args.speak:
            return media_only(self, args, cell)
        from .cell_run import CellRun

        run = CellRun(self, args, cell)
        try:
            for piece in run.pending:
                run.take(piece)
        except KeyboardInterrupt:
            run.interrupted()
        except PuterError:
            run.failed()
            raise
        return spoken(self, args, run)

    async def ask_async(self, line: str, cell: str) -> Any:
        """%%puter as a coroutine: the kernel awaits it, and meanwhile handles widget clicks, so the panel's
        Stop reaches the answer (see notebook/awaiting.py); its interrupt arrives as CancelledError. The same cell
        as ask(), read with `async for`."""
        import asyncio

        with friendly():
            args = parse_options(line)
            if args.help:
                return options_report()
            if args.draw or args.speak:
                return media_only(self, args, cell)
            from .cell_run import CellRun

            run = CellRun(self, args, cell)
            try:
                async for piece in run.pending:
                    run.take(piece)
            except asyncio.CancelledError:
                run.interrupted()
            except PuterError:
                run.failed()
                raise
            return spoken(self, args, run)


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


def options_report() -> Report:
    from ..reports import Report

    text = cell_help()
    return Report(f"```text\n{text}\n```", text)


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
