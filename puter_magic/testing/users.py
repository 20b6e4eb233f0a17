"""Users of the local Puter server, their credit, and the tokens it issues."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

MICRO_CENTS_PER_USD = 100_000_000  # Puter meters in micro-cents: $0.01 = 1 000 000 µ¢
ADMIN_ALLOWANCE = 100 * MICRO_CENTS_PER_USD  # "unlimited-ish" for the self-hosted admin
USER_ALLOWANCE = MICRO_CENTS_PER_USD // 2  # user_free: $0.50 a month
TEMP_ALLOWANCE = MICRO_CENTS_PER_USD // 4  # temp_free: $0.25 a month
DIRECTORIES = ("Desktop", "AppData", "Documents", "Pictures", "Videos", "Trash")
TASKBAR_APPS: tuple[dict[str, Any], ...] = (
    {
        "name": "dev-center",
        "title": "Dev Center",
        "godmode": True,
        "maximize_on_start": True,
        "index_url": "https://builtins.namespaces.puter.com/dev-center",
        "description": "This is the app that makes apps",
    },
    {
        "name": "camera",
        "title": "Camera",
        "godmode": False,
        "maximize_on_start": False,
        "index_url": "https://online-camera.com",
        "description": "Camera in the browser.",
    },
    {
        "name": "recorder",
        "title": "Recorder",
        "godmode": False,
        "maximize_on_start": False,
        "index_url": "https://voice-recorder.com",
        "description": "Online voice recorder in the browser with cloud storage. Take voice memos by recording"
        " through your mic directly in your web browser on any device.",
    },
)
_ADJECTIVES = (
    "olive",
    "amber",
    "brisk",
    "calm",
    "coral",
    "dusty",
    "eager",
    "fuzzy",
    "ivory",
    "lunar",
    "misty",
)
_NOUNS = (
    "key",
    "river",
    "stone",
    "cloud",
    "maple",
    "harbor",
    "comet",
    "meadow",
    "pebble",
    "falcon",
    "lantern",
)


@dataclass
class User:
    username: str
    password: str | None
    email: str | None = None
    email_confirmed: bool = False
    requires_email_confirmation: bool = False
    is_temp: bool = False
    otp_code: str | None = None  # 2FA: the one code /login/otp accepts (our simplification of TOTP)
    allowance: int = USER_ALLOWANCE  # micro-cents per month
    remaining: float = USER_ALLOWANCE  # micro-cents left (egress costs fractions of one)
    uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    created_ts: float = field(default_factory=time.time)
    usage: dict[str, dict[str, float]] = field(default_factory=dict)  # usageType -> {units, cost, count}
    directories: dict[str, str] = field(default_factory=dict)
    last_activity_ts: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        if not self.directories:
            self.directories = {f"/{self.username}/{name}": str(uuid.uuid4()) for name in DIRECTORIES}

    @property
    def used(self) -> float:
        return sum(entry["cost"] for entry in self.usage.values())

    @property
    def verified(self) -> bool:
        """What whoami reports as ``email_confirmed``: the recorded admin has false at login but true in whoami,
        while a temp user and an unconfirmed one have false in both (recordings 02, 75, 78)."""
        return self.email_confirmed or self.username == "admin"

    @property
    def blocked_until_confirmed(self) -> bool:
        """Puter's gate: such an account gets 403 ``email_confirmation_required`` on almost every route."""
        return self.requires_email_confirmation and not self.email_confirmed

    def summary(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "uuid": self.uuid,
            "email": self.email,
            "email_confirmed": self.email_confirmed,
            "requires_email_confirmation": self.requires_email_confirmation,
            "is_temp": self.is_temp,
            "otp": self.otp_code is not None,
            "allowance": self.allowance,
            "remaining": self.remaining,
        }


@dataclass
class Session:
    """One login: the JSON token (``t:"gui"``) and the cookie token (``t:"s"``) both name it; a logout revokes it."""

    username: str
    user_uuid: str
    revoked: bool = False


def _compact(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_token(user: User, kind: str = "gui") -> str:
    """A JWT-looking token (three base64url parts); the signature is random and never checked."""
    header = {"alg": "HS256", "typ": "JWT"}
    payload = {"type": kind, "user_uid": user.uuid, "jti": secrets.token_hex(8), "iat": int(time.time())}
    parts = [_compact(header), _compact(payload), secrets.token_bytes(32)]
    return ".".join(_b64url(part) for part in parts)


def temp_username() -> str:
    """A generated temp-user name such as ``olive_key_988684``."""
    pick = secrets.choice
    return f"{pick(_ADJECTIVES)}_{pick(_NOUNS)}_{secrets.randbelow(900_000) + 100_000}"


def human_readable_age(seconds: float) -> str:
    """moment.js-style relative age, as whoami's ``human_readable_age``."""
    minutes, hours, days = seconds / 60, seconds / 3600, seconds / 86400
    if seconds < 45:
        return "a few seconds ago"
    if seconds < 90:
        return "a minute ago"
    if minutes < 45:
        return f"{round(minutes)} minutes ago"
    if minutes < 90:
        return "an hour ago"
    if hours < 22:
        return f"{round(hours)} hours ago"
    if hours < 36:
        return "a day ago"
    return f"{round(days)} days ago"
