"""The panel's side that follows the session: the provider list, the model combobox and what is known of the model,
the status badge — and the work behind Fetch and the status check, run on the loop thread (widgets/jobs.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..core.sessions import Session
from ..datatypes import ProviderStatus
from ..errors import PuterError
from ..providers.base import Provider
from ..providers.registry import PUTER
from ..redact import redact
from .jobs import Quiet
from .login import HIDDEN, LoginBox
from .text import badge_for, count_text, error_badge, modalities_html, provider_label

CUSTOM = "\N{HORIZONTAL ELLIPSIS}custom"  # the provider selector's "custom base URL" entry
NOT_LISTED = "not in the list"


class PanelSync:
    """What Panel (widgets/panel.py) shows of its session, brought up to date; Panel makes the widgets named here."""

    _session: Session
    _low_credit: float
    _login: LoginBox
    _quiet: Quiet  # set while the panel itself updates a widget
    _provider: Any  # the ipywidgets below are untyped
    _model: Any
    _fetch: Any
    _count: Any
    _note: Any
    _reads: Any
    _badge: Any

    if TYPE_CHECKING:

        def say(self, text: str, kind: str = "info") -> None: ...

        def refresh(self) -> Any: ...

    # --- work on the loop thread ----------------------------------------------------------------------

    async def _fetch_models(self, provider: Provider) -> None:
        try:
            models = await provider.models()
        except PuterError as error:
            self.say(f"Fetch failed: {error.one_line()}", "error")
            return
        self._session.remember_models(provider, models)  # notifies "models": the combobox takes the list
        self.say(f"Fetched {count_text(len(models))} from {provider.name}.", "ok")

    def _fetching(self, busy: bool) -> None:
        self._fetch.disabled, self._fetch.description = busy, "Fetching…" if busy else "Fetch"

    async def _check(self, provider: Provider) -> None:
        try:
            status = await provider.status()
        except PuterError as error:
            status = ProviderStatus(provider.name, provider.origin, reachable=False, error=error.one_line())
        if provider.name != self._session.provider_name:
            return  # the provider changed meanwhile; its own check is on the way
        badge = badge_for(status, low_credit=self._low_credit)
        self._badge.value = badge.html()
        self._badge.tooltip = redact(badge.detail) or None
        self._login.show(puter=provider.name == PUTER, connected=status.user is not None)

    # --- from the session into the widgets -----------------------------------------------------------

    def _active_provider(self) -> Provider | None:
        try:
            return self._session.provider
        except PuterError as error:
            self._badge.value = error_badge(error.one_line()).html()
            self.say(error.one_line(), "error")
            return None

    def _use(self, spec: str) -> bool:
        try:
            provider = self._session.use_provider(spec)  # notifies "provider": the widgets follow
        except PuterError as error:
            # Show where the session is now (Session.use_provider may already have switched before failing).
            self._sync_models()
            self.refresh()
            self.say(error.one_line(), "error")
            return False
        self.say(f"Provider {provider.name} ({provider.origin}) is active.", "info")
        return True

    def _sync_provider(self) -> None:
        options = [(provider_label(e.name, e.base_url), e.name) for e in self._session.registry.endpoints()]
        options.append(("Custom base URL…", CUSTOM))
        with self._quiet:
            if tuple(self._provider.options) != tuple(options):
                self._provider.options = options
            self._provider.value = self._session.provider_name
        if self._session.provider_name != PUTER:
            self._login.layout.display = HIDDEN  # no Puter account here; the status check shows it for Puter

    def _sync_models(self) -> None:
        try:
            known = self._session.known_models()
        except PuterError:  # the active provider cannot be created (a key variable is missing): no list
            known = None
        model = self._session.model or ""
        with self._quiet:
            self._model.options = tuple(sorted(m.id for m in known)) if known is not None else ()
            self._model.value = model
        self._count.value = count_text(len(known)) if known is not None else ""
        info = next((m for m in known or () if model and m.matches(model)), None)
        listed = known is None or not model or info is not None
        self._note.value = "" if listed else f'<span style="color:#b45309">{NOT_LISTED}</span>'
        self._reads.value = modalities_html(info)
