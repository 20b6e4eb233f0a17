"""A cell's exception, told to the model: `@{Err}`, `%puter explain [N]` and `%puter fix [N]`.

The magics remember each failing cell's exception from IPython's `post_run_cell` event (PuterMagics.failures, by
execution count); before any is remembered, IPython's own `sys.last_value` stands for the last one. What the model
reads (`ErrorReport`): the failing cell's code, the traceback, and the names in scope at the failing line — the
innermost frame of code written in the notebook; at a cell's top level, the names the cell mentions — each with its
type and a short repr. Values of names that look like secrets (`*token*`, `*key*`, `*secret*`, `*password*` …)
and every registered secret are redacted, in the reprs, the traceback and the exception's message alike.
"""

from __future__ import annotations

import re
import reprlib
import sys
import traceback
from dataclasses import dataclass
from types import FrameType, TracebackType
from typing import Any

from ..errors import InputError
from ..redact import redact

SECRET_NAME = re.compile(r"token|key|secret|passw|pwd|credential|auth|cookie", re.IGNORECASE)
REDACTED = "<redacted>"
MAX_NAMES = 40
MIN_SECRET = 6  # a secret-named string shorter than this is no secret worth hiding in the text around it
TRACEBACK_CHARS = 6_000
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict = 80, 80, 6, 6

EXPLAIN = "This notebook cell failed. Explain briefly why, in plain words, and say how to fix it.\n\n{report}"
FIX = (
    "This notebook cell failed. Answer with the corrected cell only: one ```python code block holding the whole "
    "cell, fixed, and nothing else.\n\n{report}"
)


@dataclass(frozen=True)
class ErrorReport:
    """One failed cell as prompt text: its code, the traceback, the names in scope (secrets redacted)."""

    count: int | None
    code: str
    error: BaseException

    def __str__(self) -> str:
        label = f"In [{self.count}]" if self.count is not None else "The cell"
        lines = [f"{label}:", "```python", self.code.rstrip("\n"), "```", "", "Traceback:", "```text"]
        lines += [_traceback_text(self.error), "```"]
        names = self.names()
        if names:
            lines += ["", "Names in scope at the failing line:"]
            lines += [f"- {name}: {kind} = {shown}" for name, kind, shown in names]
        text = "\n".join(lines)
        for value in self._secret_values():  # wherever they appear: in the cell's code, in the traceback
            text = text.replace(value, REDACTED)
        return redact(text)

    def _scope(self) -> dict[str, Any]:
        frame = _failing_frame(self.error)
        if frame is None:
            return {}
        scope = frame.f_locals
        if frame.f_code.co_name == "<module>":  # a cell's top level: the notebook's globals, so only those it names
            mentioned = dict.fromkeys(_IDENTIFIER.findall(self.code))
            return {name: scope[name] for name in mentioned if name in scope}
        return dict(scope)

    def _secret_values(self) -> list[str]:
        values = (v for k, v in self._scope().items() if SECRET_NAME.search(k) and isinstance(v, (str, bytes)))
        texts = (v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values)
        return sorted({text for text in texts if len(text) >= MIN_SECRET}, key=len, reverse=True)

    def names(self) -> list[tuple[str, str, str]]:
        """(name, type, short repr) of what the failing line could see; secrets' values redacted."""
        found = []
        for name, value in list(self._scope().items())[:MAX_NAMES]:
            if name.startswith("__") or type(value).__name__ == "module":
                continue
            shown = REDACTED if SECRET_NAME.search(name) else _short(value)
            found.append((name, type(value).__name__, shown))
        return found


def report_for(magics: Any, number: int | None) -> ErrorReport:
    """The report of cell `number`'s exception (None: the last one); an InputError when there is none."""
    failures: dict[int, tuple[BaseException, str]] = getattr(magics, "failures", {})
    if number is not None:
        if number not in failures:
            known = ", ".join(map(str, sorted(failures))) or "none yet"
            raise InputError(f"cell {number} raised no exception that was seen", hint=f"cells that failed: {known}")
        error, code = failures[number]
        return ErrorReport(number, code, error)
    if failures:
        last = max(failures)
        return ErrorReport(last, failures[last][1], failures[last][0])
    last_error = getattr(sys, "last_value", None)  # IPython keeps the last one shown
    if not isinstance(last_error, BaseException):
        raise InputError("no cell has raised an exception yet", hint="run the failing cell, then ask again")
    history = magics.namespace().get("In")
    return ErrorReport(None, history[-2] if isinstance(history, list) and len(history) > 1 else "", last_error)


def prompt_for(magics: Any, argument: str, template: str) -> str:
    """The prompt of `%puter explain [N]` / `%puter fix [N]`."""
    text = argument.strip()
    if text and not text.isdigit():
        raise InputError(f"{text!r} is not a cell number", hint="write `{puter} explain 12` for In [12]")
    return template.format(report=report_for(magics, int(text) if text else None))


def _in_notebook(frame: FrameType) -> bool:
    return frame.f_globals.get("__name__") == "__main__"  # IPython runs cells in the user namespace, __main__


def _failing_frame(error: BaseException) -> FrameType | None:
    """The innermost frame of code written in the notebook, else the innermost."""
    tb: TracebackType | None = error.__traceback__
    frames: list[FrameType] = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    mine = [frame for frame in frames if _in_notebook(frame)]
    return mine[-1] if mine else (frames[-1] if frames else None)


def _traceback_text(error: BaseException) -> str:
    """The traceback from the cell on (IPython's own frames before it left out), cut from the top to a bound."""
    tb = error.__traceback__
    while tb is not None and not _in_notebook(tb.tb_frame):
        tb = tb.tb_next
    lines = traceback.format_exception(type(error), error, tb or error.__traceback__)
    text = "".join(lines).rstrip("\n")
    return text if len(text) <= TRACEBACK_CHARS else "…\n" + text[-TRACEBACK_CHARS:]


def _short(value: Any) -> str:
    try:
        return _SHORT.repr(value)
    except Exception as error:  # a broken __repr__ is the user's, not ours to raise
        return f"<repr failed: {type(error).__name__}>"
