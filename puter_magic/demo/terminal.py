"""The demo's terminal: a notebook executing headlessly, shown as a conversation while it runs.

`Echo` is fed the kernel's messages (through `echoing_client`, an nbclient NotebookClient that hands each one over
before handling it) and prints a `%%puter` answer as it streams — the kernel's display updates carry the text
so far — then a footer with its provenance and the time from the cell's start to its first piece of text.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, TextIO

CURSOR = " ▍"  # display.CURSOR: the end of a streaming answer
INDENT = "     "


@dataclass
class Echo:
    """Prints the cells of one executing notebook.

    show_magics: which `%puter` line commands have their output shown (None: all of them)
    show_code: show plain Python cells with their output
    shorten: cut each answer after this many characters (None: whole answers)
    """

    out: TextIO = field(default_factory=lambda: sys.stdout)
    show_magics: Collection[str] | None = None
    show_code: bool = False
    shorten: int | None = None
    first_token: list[float] = field(default_factory=list)  # seconds, one per streamed answer
    _started: float = 0.0
    _printed: str = ""
    _streaming: bool = False
    _first: float | None = None
    _cut: bool = False

    # --- nbclient hooks ---------------------------------------------------------------------------------

    def cell_started(self, cell: Any, **_: Any) -> None:
        self._started, self._printed, self._streaming, self._first = time.monotonic(), "", False, None
        self._cut = False
        if not self._shown(cell) or cell.cell_type != "code":
            return
        first, _, body = cell.source.partition("\n")
        if first.startswith("%%puter"):
            if first.strip() != "%%puter":
                self._write(first.strip() + "\n")
            self._write("you> " + _indented(body.strip()) + "\n")
        elif not first.startswith("%puter"):
            self._write("py>  " + _indented(cell.source.strip()) + "\n")
        self.out.flush()

    def message(self, msg: dict[str, Any], cell: Any) -> None:
        """A kernel message for `cell`: the text of a streaming answer is printed as it grows."""
        if msg["msg_type"] not in ("display_data", "update_display_data") or not _is_question(cell):
            return
        if not self._shown(cell):
            return
        text = str(msg["content"].get("data", {}).get("text/plain", "")).removesuffix(CURSOR)
        if text in ("", "…") or self._cut or not text.startswith(self._printed):
            return  # the placeholder, or a final bundle that is not the streamed text (-f code, -f json)
        if self._first is None:
            self._first = time.monotonic() - self._started
            self.first_token.append(self._first)
            self._write("ai>  ")
        self._streaming = True
        self._stream(text)

    def cell_done(self, cell: Any, **_: Any) -> None:
        if not self._shown(cell) or cell.cell_type != "code":
            return
        first = cell.source.partition("\n")[0]
        if _is_question(cell):
            self._finish_answer(cell, first)
        elif first.startswith("%puter"):
            text = _output_text(cell)
            self._write(f"{first.strip()}\n{INDENT}" + _indented(text) + "\n" if text else f"{first.strip()}\n")
        else:
            text = _output_text(cell)
            if text:
                self._write(INDENT + _indented(text) + "\n")
        self._write("\n")
        self.out.flush()

    # --- helpers -----------------------------------------------------------------------------------------

    def _shown(self, cell: Any) -> bool:
        if "demo-skip" in cell.get("metadata", {}).get("tags", ()):
            return False
        first = cell.source.partition("\n")[0].strip()
        if first.startswith("%%puter"):
            return True
        if first.startswith("%puter"):
            command = first.split()[1] if len(first.split()) > 1 else ""
            return self.show_magics is None or command in self.show_magics
        return self.show_code and not first.startswith("%")

    def _stream(self, text: str) -> None:
        if self._cut:
            return
        if self.shorten is not None and len(text) > self.shorten:
            text, self._cut = text[: self.shorten], True
        self._write(_indented(text[len(self._printed) :]) + ("…" if self._cut else ""))
        self.out.flush()
        self._printed = text

    def _finish_answer(self, cell: Any, first: str) -> None:
        if not self._streaming:  # not streamed (--no-stream, an error, --quiet): show what the cell shows
            text = _output_text(cell)
            self._write("ai>  " + _indented(text if self.shorten is None else text[: self.shorten]))
        self._write("\n")
        footer = _footer(cell, self._first)
        out = _option(first, "-o", "--out")
        if out and footer:  # no footer: the question failed, and VAR was not set
            footer += f" · kept in `{out}`"
        if footer:
            self._write(f"{INDENT}[{footer}]\n")

    def _write(self, text: str) -> None:
        self.out.write(text)


def _is_question(cell: Any) -> bool:
    return bool(cell.cell_type == "code" and cell.source.startswith("%%puter"))


def _indented(text: str) -> str:
    return text.replace("\n", "\n" + INDENT)


def _option(line: str, *names: str) -> str | None:
    words = line.split()
    for index, word in enumerate(words[:-1]):
        if word in names:
            return words[index + 1]
    return None


def _output_text(cell: Any) -> str:
    texts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            texts.append(f"{output.get('ename')}: {output.get('evalue')}")
        else:
            texts.append(output.get("text") or output.get("data", {}).get("text/plain") or "")
    return "\n".join(text.rstrip("\n") for text in texts if text)


def _footer(cell: Any, first_token: float | None) -> str:
    """ "smollm2-135m via local · 40 tokens · first text after 0.21 s", from the answer's provenance."""
    provenance = next(
        (o["metadata"]["puter_magic"] for o in cell.get("outputs", []) if "puter_magic" in o.get("metadata", {})),
        None,
    )
    parts = []
    if provenance:
        parts.append(f"{provenance.get('model')} via {provenance.get('provider')}")
        usage = provenance.get("usage") or {}
        tokens = usage.get("output_tokens")
        if tokens is not None:
            parts.append(f"{tokens} tokens{' (estimated)' if usage.get('estimated') else ''}")
    if first_token is not None:
        parts.append(f"first text after {first_token:.2f} s")
    return " · ".join(parts)


def echoing_client(echo: Echo) -> type:
    """An nbclient NotebookClient class that hands every kernel message to `echo` first."""
    from nbclient import NotebookClient

    class EchoingClient(NotebookClient):
        def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
            echo.message(msg, cell)
            return super().process_message(msg, cell, cell_index)

    return EchoingClient


def stream_to_terminal(provider: Any, request: Any, collect: list[str] | None = None) -> Any:
    """Print an answer as it streams (and append its pieces to `collect`); returns the Finished event."""
    from ..core.loop import default_loop
    from ..datatypes import Finished, TextDelta

    finished = None
    try:
        for event in default_loop().iterate(lambda: provider.stream(request)):
            if isinstance(event, TextDelta):
                sys.stdout.write(event.text)
                sys.stdout.flush()
                if collect is not None:
                    collect.append(event.text)
            elif isinstance(event, Finished):
                finished = event
    finally:
        sys.stdout.write("\n")
        sys.stdout.flush()
    return finished
