"""`puter-magic draw "…" -o cat.png` and `puter-magic speak "…" -o hello.mp3`: Puter's image generation and
text-to-speech from a terminal; the file is written, one line on stderr says what was made."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .cli_chat import read_prompt, session_for
from .errors import InputError


def add_parsers(commands: Any, parents: list[argparse.ArgumentParser]) -> None:
    draw = commands.add_parser("draw", parents=parents, help="draw a picture (Puter's image generation) into a file")
    draw.add_argument("prompt", nargs="*", help="what to draw (none, or '-': read standard input)")
    draw.add_argument("-o", "--output", required=True, metavar="PATH", help="where to write the picture (.png)")
    draw.add_argument("--model", "-m", help="image model (default: the first of `puter-magic draw`'s server list)")
    draw.add_argument("--size", metavar="WxH", help="the picture's size, e.g. 1024x1024")
    speak = commands.add_parser("speak", parents=parents, help="say a text aloud (text-to-speech) into a file")
    speak.add_argument("prompt", nargs="*", help="the words (none, or '-': read standard input)")
    speak.add_argument("-o", "--output", required=True, metavar="PATH", help="where to write the audio (.mp3)")
    speak.add_argument("--voice", help="the voice, e.g. nova")


def cmd_draw(args: argparse.Namespace) -> int:
    from .core import media

    session = session_for(args)
    prompt = read_prompt(args.prompt)
    model = media.image_model(session, args.model)
    picture = media.draw_media(prompt, model=model, size=args.size, session=session)
    _write(Path(args.output), picture.data)
    print(f"drew {args.output} ({picture.media_type}, {len(picture.data):,} bytes) with {model}", file=sys.stderr)
    return 0


def cmd_speak(args: argparse.Namespace) -> int:
    from .core import media

    speech = media.speak(read_prompt(args.prompt), voice=args.voice, session=session_for(args))
    _write(Path(args.output), bytes(speech))
    print(f"wrote {args.output} ({speech.media_type}, {len(speech):,} bytes)", file=sys.stderr)
    return 0


def _write(path: Path, data: bytes) -> None:
    try:
        path.expanduser().write_bytes(data)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}", hint="check the path") from None
