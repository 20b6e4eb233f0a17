"""Rendering only: how an answer appears while it streams and once it is done.

In a notebook: one display handle per answer, updated at most every `interval` seconds however fast the chunks
come, and one final update with the ordinary MIME bundle (it stays in the saved .ipynb). In terminal IPython:
the text goes straight to stdout as it arrives.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Mapping
from typing import Any

CURSOR = " ▍"


def in_terminal(shell: Any) -> bool:
    """True for terminal IPython (no frontend to render rich output), False in a kernel."""
    return shell is None or getattr(shell, "kernel", None) is None


class AnswerView:
    """One answer on screen. Call append() for each piece, then finish() or fail()."""

    def __init__(
        self, *, interval: float = 0.08, terminal: bool = False, plain: bool = False, quiet: bool = False
    ) -> None:
        self.interval = interval
        self.terminal = terminal
        self.plain = plain
        self.quiet = quiet
        self.updates = 0
        self._parts: list[str] = []
        self._shown = 0
        self._last = 0.0
        self._display_id = uuid.uuid4().hex
        self._started = False

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def start(self, placeholder: str = "…") -> None:
        if self.terminal or self.quiet:
            return
        from IPython.display import display

        display({"text/plain": placeholder}, raw=True, display_id=self._display_id)
        self._started = True
        self._last = time.monotonic()

    def append(self, piece: str) -> None:
        if not piece:
            return
        self._parts.append(piece)
        if self.quiet:
            return
        if self.terminal:
            sys.stdout.write(piece)
            sys.stdout.flush()
            return
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._update(self._streaming_bundle())

    def _streaming_bundle(self) -> dict[str, Any]:
        text = self.text
        self._shown = len(self._parts)
        if self.plain:
            return {"text/plain": text + CURSOR}
        return {"text/markdown": text + CURSOR, "text/plain": text}

    def _update(self, data: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> None:
        from IPython.display import update_display

        update_display(dict(data), raw=True, display_id=self._display_id, metadata=dict(metadata or {}))
        self.updates += 1

    def finish(self, data: Mapping[str, Any], metadata: Mapping[str, Any] | None = None) -> None:
        """The final output: `data` is the answer's MIME bundle, `metadata` its provenance."""
        if self.quiet:
            return
        if self.terminal:
            if self._parts and not self.text.endswith("\n"):
                sys.stdout.write("\n")
            elif not self._parts:
                sys.stdout.write(str(data.get("text/plain", "")) + "\n")
            sys.stdout.flush()
            return
        if not self._started:
            from IPython.display import display

            display(dict(data), raw=True, metadata=dict(metadata or {}))
            return
        self._update(data, metadata)

    def keep_partial(self, note: str) -> None:
        """After a failure: leave what arrived on screen, without the cursor, with a note under it."""
        text = self.text
        if self.quiet:
            return
        if self.terminal:
            if text and not text.endswith("\n"):
                sys.stdout.write("\n")
            sys.stdout.flush()
            return
        if not self._started:
            return
        if text:
            self._update({"text/markdown": f"{text}\n\n*({note})*", "text/plain": f"{text}\n({note})"})
        else:  # nothing arrived: the error line alone says what happened
            self._update({"text/plain": ""})
