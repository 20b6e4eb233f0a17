"""The paths clients build from a base URL, mapped to the proxy's routes."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class TolerantPaths:
    """ASGI middleware: the paths clients build from a base URL, mapped to the routes, before the key check.

    Doubled and trailing slashes go (`/v1//models/` → `/v1/models`, a base URL ending in `/`), and a base URL
    without `/v1` still reaches the API (`/models`, `/chat/completions` → `/v1/...`): Cline 3.x shows an empty
    model list, not an error, when these are 404s.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = tidy_path(scope.get("path", "/"))
            if path != scope.get("path"):
                scope = dict(scope, path=path, raw_path=path.encode())
        await self.app(scope, receive, send)


_API_ROOTS = ("/models", "/chat/completions", "/responses")


def tidy_path(path: str) -> str:
    """`path` with repeated and trailing slashes removed and `/v1` added where a client left it out."""
    tidy = "/" + "/".join(part for part in path.split("/") if part)
    if any(tidy == root or tidy.startswith(root + "/") for root in _API_ROOTS):
        tidy = "/v1" + tidy
    return tidy
