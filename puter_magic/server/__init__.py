"""Serve a Session as an OpenAI-compatible endpoint, for Cline, the openai SDK and friends.

    from puter_magic.server import start
    proxy = start(session)          # 127.0.0.1, free port, generated key; proxy.url, proxy.key, proxy.stop()

Modules: `openai_format` and `openai_errors` (pure translation), `app` (the Starlette app), `serve` (uvicorn on a
thread, or in the foreground), `commands` (`%puter serve` helpers). Importing this package imports nothing heavy;
starlette and uvicorn load with `app` / `serve`.

Errors: every failure is answered OpenAI-shaped with a fitting status; the table is in `openai_errors`. After a
stream's first chunk the status is already sent: the error goes out as one `data: {"error": …}` line and the stream
ends without `[DONE]`. Messages pass through `redact`, so no token or key is ever in them.

Bad input: a request whose text holds a lone UTF-16 surrogate (valid JSON such as `"\\ud83d"`, half an emoji) is
served with U+FFFD in its place, not refused; an emoji that upstream splits across two events reaches the client
whole; nothing the proxy sends can fail to encode (`puter_magic.wire.jsontext`). `max_tokens` below 1, and numbers
outside their range (JSON's 1e400 is infinity), are a 400 naming the field.

Slow clients and shutdown: a client that stops reading pauses the upstream read (the loop's hand-off holds at most
`handoff.WINDOW` events), so memory stays flat. Ctrl-C or SIGTERM to `puter-magic serve` ends each open stream with a
`data: {"error": {"code": "server_shutting_down", …}}` event (a whole answer in flight gets a 503), then exits.

The key: `puter-magic serve --key K` shows K to every local user in the process list; prefer `PUTER_PROXY_KEY`, or
let a key be generated (printed once).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .serve import RunningProxy, serve_forever, start

__all__ = ["RunningProxy", "serve_forever", "start"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import serve

        return getattr(serve, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
