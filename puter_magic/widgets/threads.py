"""The panel's conversation controls: the thread selector (+ switch to a new one), Clear history, temperature.

Everything here is local (no network): handlers change the session's conversations and notify, so the
magics and other panels follow; `sync()` brings the widgets in line with the session after a change from
anywhere.
"""

from __future__ import annotations

from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]

from ..core.sessions import Session
from ..errors import PuterError
from .jobs import Quiet
from .login import Say
from .text import thread_label


class ConversationBox(widgets.VBox):
    """Thread, new thread + Switch, Clear history, and the temperature slider of one session."""

    def __init__(self, session: Session, say: Say, *, label: dict[str, str], **kwargs: Any) -> None:
        self._session = session
        self._say = say
        self._quiet = Quiet()
        self._thread = widgets.Dropdown(description="Thread", style=label, layout=widgets.Layout(width="20em"))
        self._new_thread = widgets.Text(placeholder="new thread name", layout=widgets.Layout(width="11em"))
        self._switch = widgets.Button(
            description="Switch",
            tooltip="Switch to this thread (created when new)",
            layout=widgets.Layout(width="auto"),
        )
        self._clear = widgets.Button(
            description="Clear history", tooltip="Forget the active thread's turns", layout=widgets.Layout(width="auto")
        )
        self._temperature = widgets.FloatSlider(
            value=1.0, min=0.0, max=2.0, step=0.05, description="Temperature", continuous_update=False, style=label
        )
        super().__init__(
            children=[widgets.HBox([self._thread, self._new_thread, self._switch, self._clear]), self._temperature],
            **kwargs,
        )
        for name in ("thread", "new_thread", "switch", "clear", "temperature"):
            getattr(self, f"_{name}").add_class(f"puter-panel-{name.replace('_', '-')}")

        self._thread.observe(self._on_thread_value, names="value")
        self._switch.on_click(self._on_switch_click)
        self._clear.on_click(self._on_clear_click)
        self._temperature.observe(self._on_temperature_value, names="value")
        self.sync()

    def sync(self) -> None:
        """Threads (with their turn counts), the active one, and the temperature, from the session."""
        conversations = self._session.conversations
        options = [(thread_label(n, len(conversations.thread(n).turns)), n) for n in conversations.names()]
        temperature = self._session.temperature
        with self._quiet:
            if tuple(self._thread.options) != tuple(options):
                self._thread.options = options
            self._thread.value = conversations.active
            if temperature is not None and temperature != self._temperature.value:
                self._temperature.value = temperature

    # --- handlers -----------------------------------------------------------------------------------

    def _on_thread_value(self, change: dict[str, Any]) -> None:
        if self._quiet or change["new"] is None or change["new"] == self._session.conversations.active:
            return
        self._session.conversations.switch(change["new"])
        self._session.notify("thread")

    def _on_switch_click(self, _button: widgets.Button) -> None:
        name = self._new_thread.value.strip()
        if not name:
            self._say("Type a thread name first.", "error")
            return
        try:
            self._session.conversations.switch(name)
        except PuterError as error:
            self._say(error.one_line(), "error")
            return
        self._new_thread.value = ""
        self._say(f"Thread {name} is active.", "info")
        self._session.notify("thread")

    def _on_clear_click(self, _button: widgets.Button) -> None:
        name = self._session.conversations.active
        self._session.conversations.clear()
        self._say(f"Cleared thread {name}.", "info")
        self._session.notify("history")

    def _on_temperature_value(self, change: dict[str, Any]) -> None:
        if not self._quiet:
            self._session.temperature = float(change["new"])
