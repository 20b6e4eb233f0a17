"""A local Puter-compatible server, so notebooks and clients can be tested offline.

It answers like the self-hosted Puter backend recorded in the project's shared/puter-recorded.md (status codes,
``application/json; charset=utf-8`` compact JSON, NDJSON streams), with Puter's ``fake``/``costly``/``abuse``
models plus local test models (``deterministic``, ``echo``, ``slow``; unlisted, the scripted tool-calling
``tools-scripted`` and ``tools-scripted-openai``), fault injection and traffic observation::

    from puter_magic.testing import Fault, LocalPuter

    with LocalPuter() as puter:                  # 127.0.0.1, a free port, in a background thread
        puter.api_origin                         # http://api.puter.localhost:PORT
        puter.gui_origin                         # http://puter.localhost:PORT  (/login, /signup)
        puter.token                              # a session token of the user "admin"
        puter.state.inject(Fault.http(429, retry_after=0.2))
        puter.state.settings.latency = 0.5

In pytest, use the fixtures ``puter_server`` (fresh state per test) or ``puter_server_session``.

Besides chat, ``/drivers/call`` answers Puter's other AI drivers as shared/puter-recorded-2.md §8 recorded them:
image generation, text-to-speech (voices, engines), OCR, speech-to-text (models), speech-to-speech, and video
only as far as its ``test_mode`` answers and lists. With the setting ``media_providers`` on (the default), a call
without ``test_mode`` gets a deterministic local result, metered under Puter's usage types (402 without credit):
a generated PNG as a ``data:`` URL, MP3 (or WAV) bytes streamed, and OCR or transcripts that read back the text
those carry; with it off, the drivers refuse like a backend without keys. Image parts of chat messages
(``image_url`` data or https URLs, Anthropic ``image`` blocks) are accepted, unchecked, as Puter does, and
``puter.state.last_image_parts()`` decodes what the last chat request sent.

Hosts: with ``host_routing`` on (the default), a request whose Host starts with ``api.`` is an API request
(``/whoami``, ``/drivers/call``, ``/drivers/list-interfaces``, ``/puterai/chat/models[/details]``,
``/puterai/image/models[/details]``, ``/puterai/video/models[/details]``, ``/metering/usage``,
``/metering/allCosts``); any other Host
is the GUI host (``/login``, ``/login/otp``, ``/signup``,
``/get-anticsrf-token``, ``/logout``, ``/``). Every authenticated API response's body bytes are metered as
``egress:bytes`` and reach ``/metering/usage`` ``egress_flush_interval`` seconds later (10, as Puter; 0: at once),
on the server's clock: ``puter.state.advance_clock(10)`` instead of sleeping.
Routes asked on the wrong host answer 404, except a GET or HEAD
on the GUI host named by the domain, which redirects to ``/`` as Puter does. Raw clients connect to
``puter.origin`` (127.0.0.1) and send ``Host: puter.api_host`` or ``Host: puter.gui_host``.

Control API (JSON, no authentication; for clients on this machine: it answers on an IP address or a loopback
name, never with CORS headers nor to a foreign ``Origin``):

=========================  ===========================================================================
``GET /__fake__/``         origins, admin password and token, settings
``POST /__fake__/reset``   fresh users, tokens, settings, faults and logs (the admin token stays valid)
``GET /__fake__/settings`` the settings (see :class:`Settings`)
``POST /__fake__/settings`` change some, e.g. ``{"latency": 0.5, "v1_mode": true, "slow_rate": 0}``
``GET /__fake__/faults``   ``{"queued": [...], "persistent": [...]}``
``POST /__fake__/faults``  add one fault, a list, or ``{"faults": [...]}``, e.g. ``{"kind": "status",
                           "status": 429, "retry_after": 0.2, "count": 2, "path": "/drivers/call"}`` or
                           ``{"kind": "drop", "after": 3, "persistent": true}`` (see :class:`Fault`)
``DELETE /__fake__/faults`` clear all faults
``GET /__fake__/requests`` ``{"requests": [{time, method, path, query, host, authorization, body,
                           body_text}, ...]}`` (control requests are not logged)
``DELETE /__fake__/requests`` forget the logged requests
``GET /__fake__/stats``    ``requests``, ``in_flight``, ``max_in_flight``, ``streams_started``,
                           ``streams_completed``, ``streams_cancelled``, ``streams_dropped``, ``streams``
``POST /__fake__/users``   create or replace a user: ``{"username", "password", "email", "email_confirmed",
                           "requires_email_confirmation", "is_temp", "otp_code", "allowance",
                           "remaining"}`` (credit in micro-cents) → ``{"user": {...}, "token": "..."}``
``GET /__fake__/script``   ``{"pending": [...], "served": N}``: the replies of the scripted tool models
``POST /__fake__/script``  enqueue one reply, a list, or ``{"replies": [...]}``, e.g. ``{"text": "Let me look.",
                           "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}`` or
                           ``{"tool_calls": [...], "repeat": true}`` (see ``scripted.py``, ``tool_models.py``)
``DELETE /__fake__/script`` empty the script
=========================  ===========================================================================
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from puter_magic.testing.app import build_app
    from puter_magic.testing.fake_puter import FakePuter
    from puter_magic.testing.faults import Fault, StreamDropped
    from puter_magic.testing.local import LocalPuter, run_forever
    from puter_magic.testing.models import MODELS, ChatModel
    from puter_magic.testing.records import RecordedRequest, StreamRecord
    from puter_magic.testing.runner import ServerThread, serve
    from puter_magic.testing.scripted import Script, ScriptedCall, ScriptedReply
    from puter_magic.testing.settings import Settings
    from puter_magic.testing.users import MICRO_CENTS_PER_USD, User

# Public name -> submodule. Loaded on first use, so that importing this package (as pytest does for the
# plugin) does not import starlette or uvicorn.
_EXPORTS = {
    "ChatModel": "models",
    "FakePuter": "fake_puter",
    "Fault": "faults",
    "LocalPuter": "local",
    "MICRO_CENTS_PER_USD": "users",
    "MODELS": "models",
    "RecordedRequest": "records",
    "Script": "scripted",
    "ScriptedCall": "scripted",
    "ScriptedReply": "scripted",
    "ServerThread": "runner",
    "Settings": "settings",
    "StreamDropped": "faults",
    "StreamRecord": "records",
    "User": "users",
    "build_app": "app",
    "run_forever": "local",
    "serve": "runner",
}
__all__ = [
    "MICRO_CENTS_PER_USD",
    "MODELS",
    "ChatModel",
    "FakePuter",
    "Fault",
    "LocalPuter",
    "RecordedRequest",
    "Script",
    "ScriptedCall",
    "ScriptedReply",
    "ServerThread",
    "Settings",
    "StreamDropped",
    "StreamRecord",
    "User",
    "build_app",
    "run_forever",
    "serve",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
