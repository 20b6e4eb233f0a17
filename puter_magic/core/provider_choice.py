"""The Session's provider, model and account: which provider answers (each keeps its own model), the model lists
fetched once per provider, and the Puter account's login, logout and usage — a base of core/sessions.py's Session."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ..datatypes import ModelInfo, ProviderStatus
from ..errors import InputError
from ..providers.base import Provider
from ..providers.registry import ProviderRegistry
from .loop import LoopThread


class ProviderChoice:
    """The provider and model in use and what is known of them; Session sets the attributes below."""

    registry: ProviderRegistry
    provider_name: str
    model: str | None
    loop: LoopThread
    _model_of: dict[str, str | None]  # the model each provider had when another one was chosen
    _models: dict[str, list[ModelInfo]]  # the model lists fetched, by provider and origin
    _lock: threading.RLock

    if TYPE_CHECKING:

        def notify(self, topic: str) -> None: ...

    # --- provider and model -----------------------------------------------------------------------

    @property
    def provider(self) -> Provider:
        """The active provider (created on first use)."""
        with self._lock:
            return self.registry.get(self.provider_name)

    def use_provider(self, spec: str, *, key_env: str | None = None) -> Provider:
        """Switch to "puter", a preset ("ollama", …), a named endpoint or a base URL; each keeps its model."""
        with self._lock:
            name = self.registry.resolve(spec, key_env=key_env)
            provider = self.registry.get(name)  # fails (a missing key, say) before anything changes
            if name != self.provider_name:
                self._model_of[self.provider_name] = self.model
                self.provider_name = name
                self.model = self._model_of.get(name)
        self.notify("provider")
        return provider

    def set_model(self, model: str | None) -> None:
        self.model = model.strip() if model else None
        self.notify("model")

    def models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The provider's models, fetched once and cached per provider."""
        provider = self.provider
        if refresh or _cache_key(provider) not in self._models:
            self.remember_models(provider, self.loop.run(provider.models()))
        return self._models[_cache_key(provider)]

    def remember_models(self, provider: Provider, models: list[ModelInfo]) -> None:
        """Cache a provider's model list (fetched here or elsewhere, e.g. by the panel) and tell the listeners."""
        self._models[_cache_key(provider)] = models
        self.notify("models")

    def known_models(self, provider: str | None = None) -> list[ModelInfo] | None:
        """The cached model list of a provider (the active one by default); None when never fetched."""
        return self._models.get(_cache_key(self.registry.get(provider or self.provider_name)))

    def model_info(self, model: str, provider: str | None = None) -> ModelInfo | None:
        for info in self.known_models(provider) or ():
            if info.matches(model):
                return info
        return None

    # --- account ----------------------------------------------------------------------------------

    def status(self) -> ProviderStatus:
        return self.loop.run(self.provider.status())

    def login(self, username: str, password: str, *, otp: Any = None) -> Any:
        user = self.loop.run(self._puter().login(username, password, otp=otp))
        self.notify("login")
        return user

    def login_guest(self) -> Any:
        """Create a temporary Puter account and log in as it (where the server allows it)."""
        user = self.loop.run(self._puter().login_guest())
        self.notify("login")
        return user

    def use_token(self, token: str) -> Any:
        user = self.loop.run(self._puter().use_token(token))
        self.notify("login")
        return user

    def logout(self) -> None:
        self.loop.run(self._puter().logout())
        self.notify("login")

    def usage(self) -> Any:
        return self.loop.run(self._puter().usage())

    def _puter(self) -> Any:
        provider = self.provider
        if not hasattr(provider, "login"):
            raise InputError(f"the {provider.name} provider has no Puter account", hint="switch to Puter first")
        return provider


def _cache_key(provider: Provider) -> str:
    return f"{provider.name}@{provider.origin}"
