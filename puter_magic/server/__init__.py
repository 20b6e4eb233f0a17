"""Serve a Session as an OpenAI-compatible endpoint, for Cline, the openai SDK and friends.

    from puter_magic.server import start
    proxy = start(session)          # 127.0.0.1, free port, generated key; proxy.url, proxy.key, proxy.stop()

Modules: `openai_format` and `openai_errors` (pure translation), `app` (the Starlette app), `serve` (uvicorn on a
thread, or in the foreground), `commands` (`%puter serve` helpers). Importing this package imports nothing heavy;
starlette and uvicorn load with `app` / `serve`.

Errors: every failure is answered OpenAI-shaped with a fitting status; the table is in `openai_errors`. After a
stream's first chunk the status is already sent: the error goes out as one `data: {"error": …}` line and the stream
ends without `[DONE]`. Messages pass through `redact`, so no token or key is ever in them.
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
