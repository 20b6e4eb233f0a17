"""Images of a saved conversation, stored once beside the file instead of as base64 in it.

    chat.json            {"type": "image_file", "path": "chat.images/3f9c….png"} where a prompt had an image
    chat.images/         one file per distinct image, named by the SHA-256 of its bytes (so written once)

    externalize(data, path)   to_json() data → the same with data-URL image parts moved to files beside `path`
    internalize(data, path)   the reverse, when a save is read; a missing image file is an InputError naming it
    image_link(url, path)     where a Markdown transcript beside `path` finds an image (the file is written)

Pure: standard library, `puter_magic.errors` and `core/image_codec.py` only.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError
from .image_codec import data_url, decode_data_url, image_part, part_url

EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}
MEDIA_TYPES = {extension: media_type for media_type, extension in EXTENSIONS.items()}


def folder_of(path: Path) -> Path:
    """The image folder of a save: `chat.json` → `chat.images/` next to it."""
    return path.with_name(f"{path.stem}.images")


def store(url: str, path: Path) -> str | None:
    """Write the image of a data URL into the folder beside `path` (once); its path relative to `path`'s folder.
    None when `url` is no base64 data URL of a known image type (it then stays in the file as it is)."""
    decoded = decode_data_url(url)
    if decoded is None or decoded[0] not in EXTENSIONS:
        return None
    media_type, data = decoded
    folder = folder_of(path)
    name = hashlib.sha256(data).hexdigest() + EXTENSIONS[media_type]
    target = folder / name
    if not target.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{name}.{os.getpid()}.tmp"
            temporary.write_bytes(data)
            os.replace(temporary, target)
        except OSError as exc:
            raise InputError(f"cannot write {target}: {exc.strerror or exc}", hint="check the folder") from None
    return f"{folder.name}/{name}"


def load(relative: str, path: Path) -> str:
    """The data URL of a stored image, `relative` to the save at `path`."""
    target = path.parent / relative
    if Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise InputError(f"{path}: the image path {relative!r} leaves the save's folder", hint="restore the file")
    try:
        data = target.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read its image {target}: {exc.strerror or exc}",
            hint="keep the .images folder next to the save",
        ) from None
    return data_url(MEDIA_TYPES.get(target.suffix.lower(), "image/png"), data)


def externalize(data: dict[str, Any], path: Path) -> dict[str, Any]:
    """to_json() data with each data-URL image of a prompt stored beside `path` and replaced by its file."""

    def out(part: Mapping[str, Any]) -> Mapping[str, Any]:
        url = part_url(part)
        relative = store(url, path) if url is not None else None
        return {"type": "image_file", "path": relative} if relative else part

    result: dict[str, Any] = _map_parts(data, out)
    return result


def internalize(data: Any, path: Path) -> Any:
    """Saved data with each stored image read back as a data-URL part (done before the data is checked)."""

    def back(part: Mapping[str, Any]) -> Mapping[str, Any]:
        if part.get("type") == "image_file" and isinstance(part.get("path"), str):
            return image_part(load(part["path"], path))
        return part

    return _map_parts(data, back)


def image_link(url: str, path: Path) -> str:
    """The Markdown image of `url` for a transcript saved at `path`: a stored file, or the URL itself."""
    relative = store(url, path)
    return f"![image]({relative or url})"


def _map_parts(data: Any, change: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> Any:
    """The data with `change` applied to each part of each list-shaped turn prompt (nothing else is touched)."""
    threads = data.get("threads") if isinstance(data, Mapping) else None
    if not isinstance(threads, Mapping):
        return data
    result = dict(data)
    result["threads"] = {}
    for name, thread in threads.items():
        turns = thread.get("turns") if isinstance(thread, Mapping) else None
        if isinstance(turns, list):
            thread = dict(thread)
            thread["turns"] = [_turn(turn, change) for turn in turns]
        result["threads"][name] = thread
    return result


def _turn(turn: Any, change: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> Any:
    if not isinstance(turn, Mapping) or not isinstance(turn.get("prompt"), list):
        return turn
    return {**turn, "prompt": [change(part) if isinstance(part, Mapping) else part for part in turn["prompt"]]}
