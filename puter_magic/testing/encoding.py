"""What Express adds to a finished body: a weak ETag (``res.send``), and gzip through ``compression()``.

Recordings 96-99: JSON of 1 KiB or more is gzip-compressed (chunked, no Content-Length) when the client offers
gzip; small bodies and the NDJSON stream are sent as they are.
"""

from __future__ import annotations

import base64
import gzip
import hashlib

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COMPRESSION_THRESHOLD = 1024
COMPRESSIBLE_TYPES = ("application/json", "text/html", "text/plain")


def weak_etag(body: bytes | memoryview) -> str:
    """Express's ETag: ``W/"<length in hex>-<first 27 characters of the base64 SHA-1>"``."""
    digest = base64.b64encode(hashlib.sha1(body).digest()).decode("ascii")[:27]
    return f'W/"{len(body):x}-{digest}"'


def offers_gzip(accept_encoding: str) -> bool:
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


class Compression:
    """ASGI middleware: gzip one-message bodies of a compressible type from 1 KiB up; streams pass untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not offers_gzip(Headers(scope=scope).get("accept-encoding", "")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None

        async def compressing_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            held, start = start, None
            body = message.get("body", b"")
            headers = MutableHeaders(scope=held)
            content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            compress = (
                not message.get("more_body", False)
                and content_type in COMPRESSIBLE_TYPES
                and len(body) >= COMPRESSION_THRESHOLD
                and "content-encoding" not in headers
            )
            if compress:
                body = gzip.compress(body)
                del headers["content-length"]
                headers["content-encoding"] = "gzip"
                headers.add_vary_header("Accept-Encoding")
                message = {**message, "body": body}
            await send(held)
            await send(message)

        await self.app(scope, receive, compressing_send)
