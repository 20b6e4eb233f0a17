"""Waiting for the process-wide Session: a face that may never need it (the magics, at `%load_ext`) asks here to
configure it once `sessions.session()` makes it, instead of making it (and importing the session machinery) up
front. Cheap to import: it imports nothing of the package."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

Configure = Callable[[Any], None]  # called with the Session

_lock = threading.Lock()
_waiting: list[Configure] = []
_made: list[Any] = []  # the Session, once made


def when_made(configure: Configure) -> None:
    """Call `configure` with the shared Session once it exists (at once if it does)."""
    with _lock:
        if not _made:
            _waiting.append(configure)
            return
    configure(_made[0])


def forget(configure: Configure) -> None:
    """Withdraw a `when_made` request that has not run yet."""
    with _lock:
        if configure in _waiting:
            _waiting.remove(configure)


def session_made(session: Any) -> None:
    """Called by `sessions.session()` with the Session it made: the waiting requests run, in order."""
    with _lock:
        _made[:] = [session]
        waiting, _waiting[:] = list(_waiting), []
    for configure in waiting:
        configure(session)
