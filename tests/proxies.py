"""The proxy as the proxy tests run it: in front of a Session of its own, read by the real openai SDK."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import openai

from puter_magic.config import Settings
from puter_magic.core.loop import LoopThread
from puter_magic.core.sessions import Session
from puter_magic.server.serve import RunningProxy, start


@contextmanager
def running_proxy(settings: Settings, loop: LoopThread, openai_base: str | None = None) -> Iterator[RunningProxy]:
    """The proxy on a new Session (on `openai_base`'s server if given, else Puter at `settings`), closed after."""
    session = Session(settings, loop=loop)
    if openai_base:
        session.use_provider(openai_base)
    try:
        with start(session) as proxy:
            yield proxy
    finally:
        session.close()


def sdk(proxy: RunningProxy, base: str = "/v1") -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.url + base, api_key=proxy.key, max_retries=0, timeout=10)


def chat_calls(puter_server) -> list[dict]:
    """The arguments of each chat request the local Puter server received."""
    return [r.body["args"] for r in puter_server.state.requests if r.path == "/drivers/call"]
