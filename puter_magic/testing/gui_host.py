"""The bare GUI host, as an API client meets it by mistake (recordings 83-88): Puter's catch-all redirects an
unmatched GET or HEAD to ``/`` when the Host is exactly the configured domain, and ``/`` is the desktop's HTML
page; every other method and host gets the 404 JSON."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from puter_magic.testing.fake_puter import FakePuter
from puter_magic.testing.responses import html_response, not_found

REDIRECT_TEXT = "Found. Redirecting to /"
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
    <title>Puter</title>
    <meta charset="utf-8">
    <meta name="description" content="The local Puter server's stand-in for the Puter desktop.">
</head>
<body>
    <p>This is the GUI host of a local Puter server. API requests go to the <code>api.</code> host.</p>
</body>
</html>
"""


def _host_name(request: Request) -> str:
    host = request.headers.get("host", "")
    return "" if host.startswith("[") else host.split(":", 1)[0].lower()


def unmatched(state: FakePuter, request: Request) -> Response:
    """What a request that matches no route on its host gets."""
    routed = state.settings.host_routing
    if routed and request.method in ("GET", "HEAD") and _host_name(request) == state.domain.lower():
        headers = {"location": "/"}
        return Response(REDIRECT_TEXT, status_code=302, headers=headers, media_type="text/plain; charset=utf-8")
    return not_found()


async def page(request: Request, state: FakePuter) -> Response:
    return html_response(PAGE)
