"""A scripted httpx.MockTransport handler and a fast backoff, for the wire tests (test_http, test_sending)."""

from __future__ import annotations

import httpx

from puter_magic.wire.limits import Backoff

FAST = Backoff(base=0.001, cap=0.002, max_wait=1.0)


def scripted(*answers: httpx.Response | Exception):
    """A MockTransport handler answering from a script (the last answer repeats); records every request."""
    seen: list[httpx.Request] = []
    script = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = script.pop(0) if len(script) > 1 else script[0]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen
