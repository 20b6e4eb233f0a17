"""pytest fixtures for testing against a local Puter server, registered through the ``pytest11`` entry point.

- ``puter_server_session``: one :class:`~puter_magic.testing.LocalPuter` for the whole test session.
- ``puter_server``: that same server, reset to a fresh state before (and after) each test.
- ``puter_settings``: ``puter_magic.config.Settings`` pointing at ``puter_server`` with a valid token.
- ``memory_provider``: a :class:`~puter_magic.testing.memory.MemoryProvider` (replies scripted with ``enqueue()``).
- ``memory_session``: a ``Session`` on ``memory_provider``, its model chosen: no socket anywhere.

pytest loads this module in every run where puter-magic is installed, so it imports nothing heavy up front:
starlette and uvicorn are imported when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from puter_magic.config import Settings
    from puter_magic.core.sessions import Session
    from puter_magic.testing.local import LocalPuter
    from puter_magic.testing.memory import MemoryProvider


@pytest.fixture(scope="session")
def puter_server_session() -> Iterator[LocalPuter]:
    """A local Puter backend on 127.0.0.1, shared by the whole session."""
    from puter_magic.testing.local import LocalPuter

    with LocalPuter() as server:
        yield server


@pytest.fixture
def puter_server(puter_server_session: LocalPuter) -> Iterator[LocalPuter]:
    """The session's local Puter backend with fresh users, tokens, settings, faults and logs."""
    puter_server_session.reset()
    yield puter_server_session
    puter_server_session.reset()


# --- Client fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def puter_settings(puter_server: LocalPuter) -> Settings:
    """``Settings`` for the local server: the admin's token, no client-side pacing, quick retries."""
    from puter_magic.config import Settings

    return Settings(
        api_origin=puter_server.api_origin,
        gui_origin=puter_server.gui_origin,
        token=puter_server.token,
        rate_limit=None,
        max_concurrent=None,
        backoff_base=0.01,
        backoff_cap=0.05,
    )


# --- In memory -----------------------------------------------------------------------------------------------


@pytest.fixture
def memory_provider() -> MemoryProvider:
    """A provider answering from the replies the test enqueues (``echo`` when none is left)."""
    from puter_magic.testing.memory import MemoryProvider

    return MemoryProvider()


@pytest.fixture
def memory_session(memory_provider: MemoryProvider) -> Iterator[Session]:
    """A ``Session`` whose active provider is ``memory_provider``, on its first model; closed afterwards.

    Its Puter settings name a closed port and no token, so nothing in it can reach a network by mistake."""
    from puter_magic.config import Settings
    from puter_magic.core.sessions import Session

    session = Session(Settings(api_origin="http://127.0.0.1:9", token=None), provider=memory_provider)
    session.set_model(memory_provider.model_list[0].id)
    yield session
    session.close()
