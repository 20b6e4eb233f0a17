"""The %%puter magics' settings: traitlets, so `%config PuterMagics.default_model = "gpt-5-nano"` and
`ipython_config.py` work, applied to the session the magics ask (the shared one is made on first use, not at
`%load_ext`, and configured then)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics
from traitlets import Bool, Enum, Float, Integer, TraitError, Unicode, observe, validate

from ..core import first_session
from ..core.formats import FORMATS
from ..errors import PuterError
from .awaiting import CellAwaiter

if TYPE_CHECKING:
    from ..core.sessions import Session


class PuterSettings(Magics):
    """The settings half of PuterMagics (notebook/magics.py): its traitlets and the session they configure."""

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
