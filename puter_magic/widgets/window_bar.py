"""The panel's window bar: the model's context window and how much of it the active thread uses.

    Window 4,096 tokens · thread ~1,210 (30%)  ▮▮▮▯▯▯▯▯▯▯

Read from the session without a request: `Session.window()` is the window the next request is trimmed to
(core/fitting.py: a setting, a learned window, the server's once known, else the default) and
`Session.thread_tokens()` the thread's estimate. The panel calls `sync()` after each change the session
announces (an answer, a model or provider, a thread, a setting).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from ..core.sessions import Session
from ..errors import PuterError
from .login import HIDDEN, SHOWN
from .text import window_html, window_kind


class WindowBar(widgets.HBox):
    """A label and a small progress bar; hidden while no model is chosen."""

    def __init__(self, session: Session, **kwargs: Any) -> None:
        self._session = session
        self._label = widgets.HTML()
        self._bar = widgets.IntProgress(min=0, max=1, value=0, layout=widgets.Layout(width="10em"))
        super().__init__(children=[self._label, self._bar], **kwargs)
        self.add_class("puter-panel-window")
        self.sync()

    @property
    def text(self) -> str:
        """What the label says (the tests read it)."""
        return str(self._label.value)

    def sync(self) -> None:
        """The window and the thread's share of it, from the session (no request)."""
        try:
            tokens, source = self._session.window() if self._session.model else (0, "")
        except PuterError:  # the active provider cannot be made (a key variable is missing): nothing to show
            tokens, source = 0, ""
        if not tokens:
            self.layout.display = HIDDEN
            return
        used = self._session.thread_tokens()
        self._bar.max = tokens
        self._bar.value = min(used, tokens)
        self._bar.bar_style = window_kind(tokens, used)
        self._label.value = window_html(tokens, source, used)
        self.layout.display = SHOWN
