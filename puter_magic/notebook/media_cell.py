"""`%%puter --draw` and `%%puter --speak`: the cell is a picture's description or the words to say; the result
shows inline (an image/png or audio output, with its provenance), goes to `-o VAR` and to `--save PATH`.
A normal cell's answer is spoken with `--speak` too (speak_answer). `%puter models --images` / `--voices`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from IPython.display import display

from ..core import media
from ..reports import Report, table


def draw_cell(magics: Any, args: Any, cell: str) -> None:
    session = magics.session
    prompt = cell.strip()
    model = media.image_model(session, args.model)
    picture = media.draw_media(prompt, model=model, size=args.size, session=session)
    if args.save:
        media._write(Path(args.save), picture.data)
    provenance = {"puter_magic": {"provider": session.provider_name, "model": model, "drawn": prompt[:200]}}
    if not args.quiet:
        bundle = {picture.media_type: picture.data, "text/plain": f"<picture by {model}: {prompt[:60]}>"}
        display(bundle, raw=True, metadata=provenance)
    if args.out:
        magics.namespace()[args.out] = media.as_image(picture.data)


def speak_text(magics: Any, args: Any, text: str, *, keep: bool) -> None:
    """Say `text` (a `--speak` cell, or a `--speak-answer` cell's answer) as an audio player; --save; with `keep`,
    -o VAR gets the audio (a Speech: bytes)."""
    speech = media.speak(text, voice=args.voice, save=args.save, session=magics.session)
    if not args.quiet:
        display(speech, metadata={"puter_magic": {"provider": magics.session.provider_name, "voice": args.voice}})
    if args.out and keep:
        magics.namespace()[args.out] = speech


def models_listing(magics: Any, kind: str) -> Report:
    if kind == "--voices":
        found = media.voices(session=magics.session)
        rows = [[v["id"], v["name"], v["language"]] for v in found]
        return table(["voice", "name", "language"], rows, f"{len(rows)} voices")
    images = media.image_models(session=magics.session)
    rows = [[m.id, m.name or "", m.provider or ""] for m in images]
    return table(["image model", "name", "provider"], rows, f"{len(rows)} image models (the first is the default)")
