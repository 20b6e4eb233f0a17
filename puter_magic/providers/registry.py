"""The endpoints a session knows: Puter, the OpenAI-compatible presets, and named custom URLs.

A spec names one: "puter", a preset ("ollama", "vllm", "lmstudio", "llamacpp", "textgen"), a name given
earlier with `add()`, or a base URL (then its host:port is its name). Providers are created once and kept.
Keys are read from the environment variable the user names (`key_env`), so they never sit in a notebook.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import Settings
from ..errors import ConfigurationError
from .base import Provider
from .openai_wire import PRESETS, normalize_base_url

PUTER = "puter"


@dataclass(frozen=True)
class Endpoint:
    name: str
    base_url: str
    key_env: str | None = None


class ProviderRegistry:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._endpoints: dict[str, Endpoint] = {name: Endpoint(name, url) for name, url in PRESETS.items()}
        self._providers: dict[str, Provider] = {}

    def add(self, name: str, base_url: str, *, key_env: str | None = None) -> Endpoint:
        if name == PUTER:
            raise ConfigurationError("'puter' names Puter itself", hint="pick another name for the endpoint")
        endpoint = Endpoint(name, normalize_base_url(base_url), key_env)
        _check_key(endpoint)  # an endpoint whose key cannot be read is not added
        self._endpoints[name] = endpoint
        self._providers.pop(name, None)
        return endpoint

    def resolve(self, spec: str, *, key_env: str | None = None) -> str:
        """The name a spec refers to, adding an endpoint for a URL (or a preset with a key) on the way."""
        spec = spec.strip()
        if spec.lower() == PUTER:
            return PUTER
        if "://" in spec:
            url = normalize_base_url(spec)
            known = next((e.name for e in self._endpoints.values() if e.base_url == url), None)
            if known and (key_env is None or self._endpoints[known].key_env == key_env):
                return known
            name = url.split("://", 1)[1].split("/", 1)[0]
            self.add(name, url, key_env=key_env)
            return name
        if spec not in self._endpoints:
            known = ", ".join([PUTER, *self._endpoints])
            raise ConfigurationError(f"unknown provider {spec!r}", hint=f"use one of {known}, or a base URL")
        if key_env is not None and self._endpoints[spec].key_env != key_env:
            self.add(spec, self._endpoints[spec].base_url, key_env=key_env)
        return spec

    def get(self, name: str) -> Provider:
        if name not in self._providers:
            self._providers[name] = self._create(name)
        return self._providers[name]

    def _create(self, name: str) -> Provider:
        if name == PUTER:
            from .puter import PuterProvider

            return PuterProvider(self.settings)
        endpoint = self._endpoints[name]
        key = _check_key(endpoint)
        from .openai import OpenAIProvider  # imports httpx: not before the first request needs it

        return OpenAIProvider(endpoint.base_url, api_key=key, name=name)

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint(PUTER, self.settings.api_origin), *self._endpoints.values()]

    def created(self) -> list[Provider]:
        return list(self._providers.values())

    def adopt(self, provider: Provider) -> None:
        """Use an already built provider under its own name."""
        if provider.name != PUTER and provider.name not in self._endpoints:
            self._endpoints[provider.name] = Endpoint(provider.name, provider.origin)
        self._providers[provider.name] = provider


def _check_key(endpoint: Endpoint) -> str | None:
    """The endpoint's API key from its environment variable (None when it names none); unset is an error."""
    if not endpoint.key_env:
        return None
    key = os.environ.get(endpoint.key_env)
    if not key:
        raise ConfigurationError(
            f"the environment variable {endpoint.key_env} is not set",
            hint=f"set it to the API key of {endpoint.base_url}, then try again",
        )
    return key
