"""The serving side of a connection: an answer that ends when its client leaves. The proxy (server/asgi.py) and the
local test servers (testing/streaming.py) answer through it; it needs asyncio and ASGI's `receive` only."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]  # ASGI's (starlette.types.Receive)


async def disconnected(receive: Receive) -> None:
    """Return once the client has gone (ASGI's `http.disconnect`)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def unless_client_leaves(answer: Awaitable[None], receive: Receive) -> asyncio.Future[None]:
    """Run `answer` until it ends or the client leaves: whichever comes first, the other is cancelled, and both have
    finished when this returns. Returns the answer's task, cancelled if the client left first."""
    work = asyncio.ensure_future(answer)
    watch = asyncio.ensure_future(disconnected(receive))
    try:
        await asyncio.wait((work, watch), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, watch):
            task.cancel()
        await asyncio.wait((work, watch))
    return work
