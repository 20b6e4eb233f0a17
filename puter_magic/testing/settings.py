"""Behaviour switches of the local Puter server."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass
class Settings:
    """Server behaviour switches; change them in-process or with ``POST /__fake__/settings``."""

    host_routing: bool = True  # route by Host: "api.*" is the API host, anything else the GUI host
    permissive: bool = False  # accept legacy chat driver names (openai-completion, claude, …) as ai-chat
    self_hosted: bool = False  # /puterai/chat/models* list nothing, like a real self-hosted backend
    v1_mode: bool = False  # [A]/[B]-era answers: 200 {success:false} errors, no stream usage line
    latency: float = 0.0  # seconds before the first byte of each completion
    slow_chunks: int = 20  # default chunk count of the "slow" model
    slow_rate: float = 20.0  # default chunks per second of the "slow" model (0 = as fast as possible)
    stream_batch: int = 64  # text lines per HTTP chunk in an unpaced stream (1 = one chunk a line, like Puter)
    otp_ttl: float = 300.0  # seconds an otp_jwt_token from /login stays valid
    login_limit: int = 10  # /login (and /signup) requests per window from one client fingerprint
    login_ip_limit: int = 50  # … and from one IP address
    login_window: float = 900.0  # seconds of the sliding window (15 minutes)
    captcha: bool = False  # /login and /signup want a solved captcha (Puter's captcha.enabled; protocol §1)
    egress_flush_interval: float = 10.0  # seconds from a response's egress to its flush into /metering/usage
    media_providers: bool = True  # image, TTS, video, OCR and speech drivers have keys (False: keyless, §8a)

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial update, checking names and types (raises ValueError)."""
        kinds = {f.name: f.type for f in dataclasses.fields(self)}
        for name, value in changes.items():
            if name not in kinds:
                raise ValueError(f"unknown setting {name!r}")
            if kinds[name] == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"setting {name!r} must be a boolean")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"setting {name!r} must be a non-negative number")
            elif kinds[name] == "int" and value != int(value):
                raise ValueError(f"setting {name!r} must be an integer")
        for name, value in changes.items():
            setattr(self, name, int(value) if kinds[name] == "int" else value)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
