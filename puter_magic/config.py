"""Settings and stored credentials.

Precedence, for every setting: an explicit argument, then the environment, then the stored credentials file
(the token only), then the default. All user state lives in one folder: `PUTER_MAGIC_HOME`, or the platform's
user config dir (`~/.config/puter-magic` on Linux). Files there that hold secrets are written with mode 0600.

Environment variables:
    PUTER_TOKEN, PUTER_API_ORIGIN, PUTER_GUI_ORIGIN, PUTER_MODEL,
    PUTER_TIMEOUT_CONNECT, PUTER_TIMEOUT_FIRST_BYTE, PUTER_TIMEOUT_IDLE   (seconds)
    PUTER_MAX_RETRIES, PUTER_RATE_LIMIT ("30/10": requests per seconds; "off"), PUTER_MAX_CONCURRENT
    PUTER_LOG_LEVEL (debug, info, …), PUTER_MAGIC_HOME
"""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .redact import logger

DEFAULT_API_ORIGIN = "https://api.puter.com"
DEFAULT_GUI_ORIGIN = "https://puter.com"
CREDENTIALS_FILE = "credentials.json"

_ENV: dict[str, str] = {
    "token": "PUTER_TOKEN",
    "api_origin": "PUTER_API_ORIGIN",
    "gui_origin": "PUTER_GUI_ORIGIN",
    "model": "PUTER_MODEL",
    "connect_timeout": "PUTER_TIMEOUT_CONNECT",
    "first_byte_timeout": "PUTER_TIMEOUT_FIRST_BYTE",
    "idle_timeout": "PUTER_TIMEOUT_IDLE",
    "max_retries": "PUTER_MAX_RETRIES",
    "rate_limit": "PUTER_RATE_LIMIT",
    "max_concurrent": "PUTER_MAX_CONCURRENT",
}


@dataclass(frozen=True)
class Settings:
    """Everything the Puter client needs to know. Build with `Settings.load()`."""

    token: str | None = field(default=None, repr=False)
    api_origin: str = DEFAULT_API_ORIGIN
    gui_origin: str = ""  # "" = derived from api_origin (see gui_origin_for); stays "" when it cannot be
    model: str | None = None
    connect_timeout: float = 10.0
    first_byte_timeout: float = 180.0
    idle_timeout: float = 60.0
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    max_retry_wait: float = 60.0
    rate_limit: tuple[int, float] | None = (30, 10.0)
    max_concurrent: int | None = 3
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_origin", normalize_origin(self.api_origin, "api_origin"))
        gui = normalize_origin(self.gui_origin, "gui_origin") if self.gui_origin else gui_origin_for(self.api_origin)
        object.__setattr__(self, "gui_origin", gui or "")
        for name in ("connect_timeout", "first_byte_timeout", "idle_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigurationError(f"{name} must be a positive number of seconds")
        if self.max_retries < 0:
            raise ConfigurationError("max_retries must be 0 or more")

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Explicit overrides > environment > stored credentials > defaults."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        for name, var in _ENV.items():
            raw = env.get(var)
            if raw is not None and raw.strip() != "":
                values[name] = _parse(name, var, raw.strip())
                sources[name] = f"env {var}"
        for name, value in overrides.items():
            if name not in _FIELD_NAMES:
                raise TypeError(f"unknown setting {name!r}")
            if value is not None:
                values[name] = value
                sources[name] = "argument"
        if "token" not in values:
            api_origin = normalize_origin(values.get("api_origin", DEFAULT_API_ORIGIN), "api_origin")
            stored = CredentialStore(state_dir(env)).get(api_origin)
            if stored:
                values["token"] = stored
                sources["token"] = "credentials file"
        return cls(**values, sources=sources)

    def with_token(self, token: str | None, source: str = "login") -> Settings:
        return replace(self, token=token, sources={**self.sources, "token": source})

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, shown value, where it came from) for each setting; the token is masked."""
        rows = []
        for f in fields(self):
            if f.name == "sources":
                continue
            value = getattr(self, f.name)
            shown = mask(value) if f.name == "token" else _show(value or None)
            default = "from api_origin" if f.name == "gui_origin" else "default"
            rows.append((f.name, shown, self.sources.get(f.name, default)))
        return rows


_FIELD_NAMES = {f.name for f in fields(Settings)} - {"sources"}


def _parse(name: str, var: str, raw: str) -> Any:
    try:
        if name in ("connect_timeout", "first_byte_timeout", "idle_timeout"):
            return float(raw)
        if name == "max_retries":
            return int(raw)
        if name == "max_concurrent":
            return None if raw.lower() in ("off", "none", "0") else int(raw)
        if name == "rate_limit":
            if raw.lower() in ("off", "none", "0"):
                return None
            count, _, window = raw.partition("/")
            return (int(count), float(window or 1))
    except ValueError:
        raise ConfigurationError(f"{var}={raw!r} is not valid", hint=_ENV_HINTS.get(name)) from None
    return raw


_ENV_HINTS = {
    "rate_limit": 'use "REQUESTS/SECONDS" such as "30/10", or "off"',
    "max_concurrent": "use a whole number, or off",
    "max_retries": "use a whole number",
}


def _show(value: Any) -> str:
    if isinstance(value, tuple) and len(value) == 2:
        return f"{value[0]} per {value[1]:g} s"
    return "—" if value is None else str(value)


def gui_origin_for(api_origin: str) -> str | None:
    """Where to log in for an API origin: `api.X` → `X` (same scheme and port); None when it cannot be told,
    so that a password never goes to a host the user did not choose."""
    if api_origin == DEFAULT_API_ORIGIN:
        return DEFAULT_GUI_ORIGIN
    parts = urlsplit(api_origin)
    host = parts.hostname or ""
    if not host.startswith("api.") or len(host) <= len("api."):
        return None
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host[len('api.') :]}{port}"


def mask(secret: str | None) -> str:
    """Say whether a secret is set without showing any of it."""
    return "not set" if not secret else "set (hidden)"


def normalize_origin(value: str, name: str = "origin") -> str:
    """'https://Host:443/' → 'https://host:443'; reject anything that is not an http(s) origin."""
    text = str(value).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{name} {value!r} is not an http(s) URL", hint="use a URL such as https://api.puter.com"
        )
    if parts.path or parts.query or parts.fragment:
        raise ConfigurationError(f"{name} {value!r} must be an origin without a path", hint=None)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def state_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where user state lives: PUTER_MAGIC_HOME, else the platform's user config folder."""
    env = os.environ if environ is None else environ
    if env.get("PUTER_MAGIC_HOME"):
        return Path(env["PUTER_MAGIC_HOME"]).expanduser()
    if sys.platform == "win32":
        return Path(env.get("APPDATA") or Path.home() / "AppData" / "Roaming") / "puter-magic"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "puter-magic"
    return Path(env.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "puter-magic"


_warned_folders: set[Path] = set()


def make_private_folder(folder: Path) -> None:
    """Create `folder` with mode 0700, or tighten an existing one that others may enter; say once if we cannot."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if os.name != "posix":
        return
    mode = stat.S_IMODE(folder.stat().st_mode)
    if not mode & 0o077:
        return
    try:
        os.chmod(folder, 0o700)
    except OSError as exc:
        if folder not in _warned_folders:
            _warned_folders.add(folder)
            logger.warning(
                "%s can be read by other users (mode 0%o) and could not be made private (%s); "
                "set PUTER_MAGIC_HOME to a folder you own",
                folder,
                mode,
                exc.strerror or type(exc).__name__,
            )


def write_private(path: Path, text: str) -> None:
    """Write atomically (temp file + rename) with mode 0600, in a folder only the user can read."""
    make_private_folder(path.parent)
    fd, tmp = tempfile.mkstemp(  # mkstemp creates the file with mode 0600
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CredentialStore:
    """Tokens kept per API origin, so a token is only ever sent back to the origin that issued it."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / CREDENTIALS_FILE

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read {self.path}: {exc.__class__.__name__}", hint="delete the file and log in again"
            ) from None
        return data if isinstance(data, dict) else {}

    def get(self, origin: str) -> str | None:
        entry = self._read().get(origin)
        return entry.get("token") if isinstance(entry, dict) else None

    def put(self, origin: str, token: str, username: str | None = None) -> None:
        data = self._read()
        data[origin] = {"token": token, **({"username": username} if username else {})}
        write_private(self.path, json.dumps(data, indent=2))

    def remove(self, origin: str) -> bool:
        data = self._read()
        if data.pop(origin, None) is None:
            return False
        write_private(self.path, json.dumps(data, indent=2))
        return True
