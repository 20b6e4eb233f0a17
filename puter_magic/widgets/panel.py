"""The panel: provider, model combobox with a Fetch button (and what the model reads and writes, when its server
says), the model's window and the thread's share of it, status badge, login, thread, temperature, Stop.

    import puter_magic
    puter_magic.panel()              # or `%puter panel`; bound to puter_magic.session() unless given one

The panel and the magics share one Session, so a change made in either shows in the other: the panel listens
with `session.on_change` and acts through the session's own methods. Widget callbacks run on the kernel's
shell thread and return at once; network work (Fetch, the status check, login) runs on the session's loop
thread, and its results reach the widgets by trait assignment (see widgets/jobs.py). Here the widgets are made and
wired; widgets/panel_sync.py brings them up to date with the session.

Stop ends the answer being streamed, or a --map batch (`Session.stop()`), and the panel's own work. The click
reaches a running %%puter cell because such cells run as coroutines where the kernel allows it (ipykernel ≥ 7.4,
see notebook/awaiting.py); in an older kernel clicks wait until the cell ends, so there the kernel interrupt (■, or I,I)
stops an answer. Either way the part that arrived is kept, flagged as interrupted.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as widgets  # type: ignore[import-untyped]
from IPython import get_ipython

from ..core.sessions import Session, session
from ..errors import PuterError
from ..redact import redact
from .jobs import Jobs, Quiet, done_future
from .kernel import stop_reaches_answers
from .login import HIDDEN, SHOWN, LoginBox
from .panel_sync import CUSTOM, PanelSync
from .text import CHECKING, LOW_CREDIT_USD, STOP_TIP, STOP_TIP_OLD_KERNEL, message_html, stop_message
from .threads import ConversationBox
from .window_bar import WindowBar


def panel(session_: Session | None = None, *, low_credit: float = LOW_CREDIT_USD) -> Panel:
    """The panel for `session_` (default: the kernel-wide session the magics use)."""
    return Panel(session_, low_credit=low_credit)


class Panel(widgets.VBox, PanelSync):
    """ipywidgets panel bound to a Session. `fetch()`, `refresh()` return futures; `wait()` waits for all work."""

    def __init__(self, session_: Session | None = None, *, low_credit: float = LOW_CREDIT_USD, **kwargs: Any) -> None:
        self._session = session_ if session_ is not None else session()
        self._low_credit = low_credit
        self._quiet = Quiet()  # set while the panel itself updates a widget
        self._jobs = Jobs(self._session.loop, on_error=self._on_job_error)
        label = {"description_width": "7em"}

        self._provider = widgets.Dropdown(description="Provider", style=label, layout=_width("34em"))
        self._url = widgets.Text(placeholder="http://host:port/v1", layout=_width("22em"))
        self._use_url = widgets.Button(description="Use URL", layout=_width("auto"))
        self._url_row = widgets.HBox([self._url, self._use_url], layout=widgets.Layout(display=HIDDEN))
        self._model = widgets.Combobox(
            description="Model",
            placeholder="type or pick a model id",
            ensure_option=False,
            continuous_update=False,  # the value reaches the kernel on Enter or when the field loses focus
            style=label,
            layout=_width("24em"),
        )
        self._fetch = widgets.Button(description="Fetch", tooltip="Fetch the provider's models", layout=_width("auto"))
        self._count = widgets.HTML()
        self._note = widgets.HTML()
        self._reads = widgets.HTML()  # what the picked model reads and writes, when its server says
        self._window = WindowBar(self._session, layout=widgets.Layout(margin="0 0 0 7.5em"))
        self._badge = widgets.HTML(CHECKING.html())
        self._refresh = widgets.Button(icon="refresh", tooltip="Check the connection again", layout=_width("auto"))
        self._login = LoginBox(self._session, self._jobs, self.say, layout=widgets.Layout(margin="0 0 0 7.5em"))
        self._conversation = ConversationBox(self._session, self.say, label=label)
        self._stops_answers = stop_reaches_answers(get_ipython())
        self._stop = widgets.Button(
            description="Stop",
            icon="stop",
            tooltip=STOP_TIP if self._stops_answers else STOP_TIP_OLD_KERNEL,
            layout=_width("auto"),
        )
        self._message = widgets.HTML()
        super().__init__(
            children=[
                widgets.HBox([self._provider, self._badge, self._refresh]),
                self._url_row,
                widgets.HBox([self._model, self._fetch, self._stop, self._count, self._note, self._reads]),
                self._window,
                self._login,
                self._conversation,
                self._message,
            ],
            **kwargs,
        )
        self.add_class("puter-panel")
        for name in [
            "provider",
            "url",
            "use_url",
            "model",
            "fetch",
            "stop",
            "count",
            "note",
            "reads",
            "badge",
            "refresh",
        ]:
            getattr(self, f"_{name}").add_class(f"puter-panel-{name.replace('_', '-')}")
        self._message.add_class("puter-panel-message")

        self._provider.observe(self._on_provider_value, names="value")
        self._use_url.on_click(self._on_use_url_click)
        self._model.observe(self._on_model_value, names="value")
        self._fetch.on_click(lambda _button: self.fetch())
        self._refresh.on_click(lambda _button: self.refresh())
        self._stop.on_click(lambda _button: self.stop())
        self._unsubscribe: Callable[[], None] | None = self._session.on_change(self._on_session_change)

        self._sync_provider()
        self._sync_models()
        self.refresh()

    # --- actions (also what the buttons do) ----------------------------------------------------------

    def fetch(self) -> concurrent.futures.Future[Any]:
        """Fetch the active provider's models on the loop thread; the list is cached per provider."""
        if (running := self._jobs.running("fetch")) is not None:
            return running
        if (provider := self._active_provider()) is None:
            return done_future()
        self._fetching(True)
        return self._jobs.submit("fetch", self._fetch_models(provider), done=lambda: self._fetching(False))

    def refresh(self) -> concurrent.futures.Future[Any]:
        """Check the connection again and update the badge (a newer check replaces a running one).

        The provider list is re-read too, so endpoints added with `%puter provider add` appear.
        """
        self._sync_provider()
        if (provider := self._active_provider()) is None:
            return done_future()
        self._badge.value = CHECKING.html()
        return self._jobs.submit("status", self._check(provider), replace=True)

    def stop(self) -> int:
        """End the answers being streamed and the panel's running work; returns how many things were stopped."""
        answers = self._session.stop()
        jobs = self._jobs.stop()
        self.say(stop_message(answers, jobs, old_kernel=not self._stops_answers), "info")
        return answers + jobs

    def wait(self, timeout: float = 10.0) -> bool:
        """Wait until the panel's background work, and the widget updates it makes, are done."""
        return self._jobs.wait(timeout)

    def say(self, text: str, kind: str = "info") -> None:
        """Put a sentence on the status line (secrets removed)."""
        self._message.value = message_html(redact(text), kind)

    def close(self) -> None:
        """Stop listening to the session, stop the panel's work and close its widgets (safe to call twice)."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is None:
            return
        unsubscribe()
        self._jobs.stop()
        for child in _descendants(self):
            child.close()
        super().close()

    # --- handlers -------------------------------------------------------------------------------------

    def _on_provider_value(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        if change["new"] == CUSTOM:
            self._url_row.layout.display = SHOWN
            return
        self._url_row.layout.display = HIDDEN
        if change["new"] != self._session.provider_name:
            self._use(change["new"])

    def _on_use_url_click(self, _button: widgets.Button) -> None:
        url = self._url.value.strip()
        if not url:
            self.say("Type the server's base URL, e.g. http://localhost:11434/v1.", "error")
            return
        if self._use(url):
            self._url.value = ""
            self._url_row.layout.display = HIDDEN

    def _on_model_value(self, change: dict[str, Any]) -> None:
        if self._quiet:
            return
        chosen = change["new"].strip() or None
        if chosen != self._session.model:
            self._session.set_model(chosen)  # notifies "model": the note says whether it is in the list
            self.say(f"Model set to {chosen}." if chosen else "No model chosen.", "info")

    def _on_job_error(self, error: BaseException) -> None:
        text = error.one_line() if isinstance(error, PuterError) else f"{type(error).__name__}: {error}"
        self.say(f"Error: {text}", "error")

    def _on_session_change(self, topic: str) -> None:
        """A change from anywhere (the magics, this or another panel), on whichever thread made it."""
        if topic == "answering":  # an answer started or ended: Stop shows whether it has one to stop
            self._stop.button_style = "danger" if self._stops_answers and len(self._session.answering) else ""
            return
        if topic == "provider":
            self._sync_models()
            self.refresh()  # re-reads the provider list first
        elif topic == "login":
            self.refresh()
        elif topic in ("model", "models"):
            self._sync_models()
        self._conversation.sync()  # threads and turn counts, and the temperature (it has no topic of its own)
        self._window.sync()  # after an answer, a model, provider, thread or window setting


def _width(width: str) -> widgets.Layout:
    return widgets.Layout(width=width)


def _descendants(box: widgets.Box) -> Iterator[widgets.Widget]:
    for child in box.children:
        if isinstance(child, widgets.Box):
            yield from _descendants(child)
        yield child
