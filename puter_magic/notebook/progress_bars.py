"""How a batch's progress is shown: an ipywidgets bar in a notebook, one updating line on stderr elsewhere.

Rendering only. A reporter gets Snapshots: `start()` and `finish()` on the caller's thread, `update()` from the
loop thread (at most `TICK` times a second, see batches/run.py). In a notebook `update()` only assigns traits —
the thread-safe door into a widget — and `finish()` replaces the bar with one plain line, so the saved notebook
shows text (no widget state) and a re-run shows the same text: the final line carries no timings.

IPython and ipywidgets are imported only when a bar is made.
"""

from __future__ import annotations

import importlib
import sys
import uuid
from typing import Any, TextIO

from ..batches.progress import NoProgress, Reporter, Snapshot


class TerminalProgress:
    """One line on `stream` (stderr), rewritten in place with `\\r`; only the final line when it is not a tty."""

    def __init__(
        self, stream: TextIO | None = None, *, live: bool | None = None, width: int = 24, link: str | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.live = live if live is not None else _isatty(self.stream)
        self.width = width
        self.link = link  # Dask's dashboard, for a batch on a cluster: said once, above the bar
        self.lines = 0  # lines written, for tests
        self._shown = 0

    def start(self, snapshot: Snapshot) -> None:
        if self.link:
            self._write(f"Dask dashboard: {self.link}\n")
        self.update(snapshot)

    def update(self, snapshot: Snapshot) -> None:
        if self.live:
            self._write("\r" + self.line(snapshot))

    def finish(self, snapshot: Snapshot, *, keep: bool = True) -> None:
        self._write(("\r" if self.live else "") + self.line(snapshot, timing=True) + "\n")
        self._shown = 0

    def line(self, snapshot: Snapshot, *, timing: bool = True) -> str:
        filled = round(self.width * snapshot.done / snapshot.total) if snapshot.total else self.width
        bar = "█" * filled + "·" * (self.width - filled)
        return f"{bar} {snapshot.describe(timing=timing)}"

    def _write(self, text: str) -> None:
        visible = len(text.strip("\r\n"))
        padding = " " * max(0, self._shown - visible)  # rub out the rest of a longer previous line
        self._shown = visible
        if text.endswith("\n"):
            text = text[:-1] + padding + "\n"
        else:
            text += padding
        self.stream.write(text)
        self.stream.flush()
        self.lines += 1


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class WidgetProgress:
    """An IntProgress and a Label in a notebook; replaced by one line of text when the batch ends."""

    def __init__(self, link: str | None = None) -> None:
        import html

        import ipywidgets  # type: ignore[import-untyped]

        self.bar = ipywidgets.IntProgress(value=0, min=0, max=1)
        self.label = ipywidgets.Label()
        shown = [self.bar, self.label]
        if link:  # Dask's dashboard, beside the bar of a batch on a cluster
            address = html.escape(link, quote=True)
            shown.append(ipywidgets.HTML(f'<a href="{address}" target="_blank">Dask dashboard</a>'))
        self.box = ipywidgets.HBox(shown)
        self._display_id = uuid.uuid4().hex

    def start(self, snapshot: Snapshot) -> None:
        self.update(snapshot)
        _ipython_display().display(self.box, display_id=self._display_id)

    def update(self, snapshot: Snapshot) -> None:
        # Trait assignment is the thread-safe way into a widget: this runs on the loop thread.
        self.bar.max = max(1, snapshot.total)
        self.bar.value = snapshot.done
        self.label.value = snapshot.describe()

    def finish(self, snapshot: Snapshot, *, keep: bool = True) -> None:
        self.update(snapshot)
        self.bar.bar_style = "success" if snapshot.state == "finished" and not snapshot.failed else "warning"
        text = snapshot.describe(timing=False) if keep else ""
        _ipython_display().update_display({"text/plain": text}, raw=True, display_id=self._display_id)
        self.close()

    def close(self) -> None:
        """Close the widgets and their layout and style models: nothing stays behind in the kernel."""
        for widget in (self.box, *self.box.children):
            for part in (getattr(widget, "layout", None), getattr(widget, "style", None), widget):
                if part is not None:
                    part.close()


def _ipython_display() -> Any:
    """IPython.display (untyped), imported when a bar is shown."""
    return importlib.import_module("IPython.display")


def choose(progress: bool | Reporter, *, terminal: bool | None = None, link: str | None = None) -> Reporter:
    """The reporter for `progress=`: True picks a widget in a notebook kernel and a stderr line elsewhere; `link`
    is Dask's dashboard, shown beside it."""
    if progress is False:
        return NoProgress()
    if progress is not True:
        return progress
    if terminal is None:
        terminal = not _in_kernel()
    if not terminal:
        try:
            return WidgetProgress(link)
        except ImportError:
            pass
    return TerminalProgress(link=link)


def _in_kernel() -> bool:
    """True inside a Jupyter kernel. IPython is looked at only when something already imported it."""
    if "IPython" not in sys.modules:
        return False
    from IPython import get_ipython

    shell: Any = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
