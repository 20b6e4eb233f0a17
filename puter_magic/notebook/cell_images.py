"""The prompt of a %%puter cell with its images: `@{fig}` (and the other image kinds core/images.py reads) become
image parts where they stand, `--image PATH` attaches files after the text; each is downscaled to
`PuterMagics.image_max_side` and described for the provenance line.
"""

from __future__ import annotations

from collections import ChainMap
from pathlib import Path
from typing import Any

from ..core.images import Picture, picture_from_file, picture_of
from ..core.interpolate import interpolate_parts


def cell_prompt(
    magics: Any, args: Any, cell: str, pictures: list[Picture], notes: list[str] | None = None
) -> str | list[dict[str, Any]]:
    """The prompt to send for `cell`: text, or text and image parts; `pictures` receives what was sent, `notes`
    a line for each value that was cut to fit. `@{Err}` is the last exception (notebook/explain.py) unless the
    notebook has an `Err` of its own."""
    max_side = magics.image_max_side

    def image(value: Any) -> dict[str, Any] | None:
        picture = picture_of(value, max_side)
        if picture is None:
            return None
        pictures.append(picture)
        return picture.part()

    namespace = magics.namespace()
    if "@{Err" in cell and "Err" not in namespace:
        from .explain import report_for

        namespace = ChainMap({"Err": report_for(magics, None)}, namespace)
    prompt = cell if args.raw else interpolate_parts(cell, namespace, image, notes=notes)
    attached = [picture_from_file(Path(path), max_side) for path in args.image or ()]
    pictures.extend(attached)
    if isinstance(prompt, str) and not attached:
        return prompt.strip("\n")
    parts = [{"type": "text", "text": prompt}] if isinstance(prompt, str) else list(prompt)
    parts.extend(picture.part() for picture in attached)
    return trimmed(parts)


def trimmed(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The parts with the cell's outer blank lines gone (as a text prompt's are), and no empty text part."""
    if parts and parts[0].get("type") == "text":
        parts[0] = {"type": "text", "text": parts[0]["text"].lstrip("\n")}
    if parts and parts[-1].get("type") == "text":
        parts[-1] = {"type": "text", "text": parts[-1]["text"].rstrip("\n")}
    return [part for part in parts if part.get("type") != "text" or part["text"].strip()]


def described(pictures: list[Picture]) -> list[str]:
    """What the provenance says of the images sent: "1568×882 PNG, 61 KB (downscaled from 1920×1080)"."""
    return [picture.describe() for picture in pictures]
