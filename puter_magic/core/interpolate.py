"""Notebook variables in a prompt: `@{ name }` is replaced by the variable's value; every other brace is left alone.

A prompt is a cell's text, often code: dicts, JSON, f-strings (`f"{x:>10}"`, `f"{{literal}}"`), LaTeX, Jinja and
Handlebars templates (`{{ user.name }}`). So, unlike `str.format`, nothing is expanded unless it is exactly a
reference, and no kind of brace (`{…}`, `{{…}}`) is ever one:

    @{ path }      path = NAME ( .NAME | [INT] | ['text'] | ["text"] )*      spaces allowed just inside the braces

    @{df}  @{ cfg.model }  @{In[3]}  @{Out[2]}  @{data['key']}  @{items[-1]}

- Anything else after `@{` stays as it is: PowerShell's `@{a=1}`, Perl's `@{$ref}`, Objective-C's `@{@"k": v}`,
  `@{ x + 1 }`, `@{}`. LESS's `@{var}` does have this shape: write it `\\@{var}`.
- `\\@{ path }`: a backslash right before a reference keeps it literal; the backslash is removed. A backslash before
  an `@{` that is not a reference is not an escape and stays.
- Characters around a reference stay: `{@{x}}` becomes `{` + x + `}`, so a JSON template such as
  `{"user": @{user}}` works.
- Attributes must be public: `@{x._y}` and dunders are refused. Items are looked up with `obj[key]`.
- A value is rendered once and never scanned again: str as is; bytes decoded as UTF-8; dict, list and tuple as
  indented JSON (repr when they are not JSON-able); anything else with `str()`.
- Within a budget (core/render_objects.py): DataFrames and Series as a summary (`@{df:rows=50}`, `@{df:full}`),
  `@{cell:3}`, `@{cells:3-7}` and `@{file:path.py}` as source text, anything longer cut with a marker; what was
  cut is said in `notes` when the caller passes a list.

Pure: standard library and `puter_magic.errors` only.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError
from .render_objects import BUDGET, render_source, render_value

_NAME = r"[^\W\d]\w*"
_STEP = rf"""\.{_NAME}|\[(?:-?\d{{1,18}}|'[^'\n]*'|"[^"\n]*")\]"""
_PATH = rf"{_NAME}(?:{_STEP})*"
_SOURCE = r"(?P<kind>cells?|file):(?P<argument>(?<=cells:)\d{1,9}-\d{1,9}|(?<=cell:)\d{1,9}|(?<=file:)[^\s{}]+)"
_SPEC = r"(?::(?P<spec>full|rows=\d{1,9}))?"
# Not right after a word character: git's `main@{upstream}` and `HEAD@{1}` are not references.
_REFERENCE = re.compile(rf"(?:(?P<escape>\\)|(?<![\w\\]))@\{{[ \t]*(?:{_SOURCE}|(?P<path>{_PATH}){_SPEC})[ \t]*\}}")
_WHOLE_PATH = re.compile(_PATH)
_PARTS = re.compile(
    rf"(?P<first>^{_NAME})|\.(?P<attr>{_NAME})|\[(?P<index>-?\d+)\]"
    r"""|\['(?P<single>[^']*)'\]|\["(?P<double>[^"]*)"\]"""
)

_MARK = secrets.token_hex(8)  # image placeholders: a NUL-framed random mark no cell text contains
_PLACEHOLDER = re.compile(f"(\x00{_MARK}\\d+\x00)")
ImageHook = Callable[[Any], "dict[str, Any] | None"]

UNKNOWN_HINT = "define it first, or write \\@{ to send it as it is"
LOOKUP_HINT = "check the value, or write \\@{ to send it as it is"


def interpolate(
    text: str, namespace: Mapping[str, Any], *, budget: int = BUDGET, notes: list[str] | None = None
) -> str:
    """`text` with each `@{ path }` replaced by the rendered value from `namespace`; one regex pass.

    Each value gets at most `budget` characters; a note of what was cut is appended to `notes` (when given).
    Raises InputError for an unknown name, a private attribute, or a lookup that fails.
    """
    return _expand(text, namespace, budget, notes, None, {})


def interpolate_parts(
    text: str,
    namespace: Mapping[str, Any],
    image: ImageHook,
    *,
    budget: int = BUDGET,
    notes: list[str] | None = None,
) -> str | list[dict[str, Any]]:
    """interpolate(), where a value that `image(value)` makes an image part (a dict; None: not an image) becomes
    that part, placed where its reference stands: a list of text and image parts, or the text when no reference
    was an image. `@{file:x.png}` is offered to `image` as a Path."""
    found: dict[str, dict[str, Any]] = {}
    expanded = _expand(text, namespace, budget, notes, image, found)
    if not found:
        return expanded
    parts: list[dict[str, Any]] = []
    for piece in _PLACEHOLDER.split(expanded):
        if piece in found:
            parts.append(found[piece])
        elif piece:
            parts.append({"type": "text", "text": piece})
    return parts


def _expand(
    text: str,
    namespace: Mapping[str, Any],
    budget: int,
    notes: list[str] | None,
    image: ImageHook | None,
    found: dict[str, dict[str, Any]],
) -> str:
    if "@{" not in text:
        return text

    rendered: dict[str, str] = {}  # each path is looked up and rendered once per call

    def replace(match: re.Match[str]) -> str:
        if match.group("escape"):
            return match.group(0)[1:]
        path, spec, kind = match.group("path"), match.group("spec"), match.group("kind")
        key = f"{kind}:{match.group('argument')}" if kind else f"{path}:{spec}" if spec else path
        if key not in rendered and image is not None and not spec and kind != "cells":
            value = Path(match.group("argument")) if kind == "file" else None if kind else resolve(path, namespace)
            part = image(value) if value is not None else None
            if part is not None:
                rendered[key] = f"\x00{_MARK}{len(found)}\x00"
                found[rendered[key]] = part
        if key not in rendered:
            if kind:
                result = render_source(kind, match.group("argument"), namespace, budget)
            else:
                value = resolve(path, namespace)
                try:
                    result = render_value(value, spec, budget, render)
                except InputError:
                    raise
                except Exception as exc:  # a broken __str__ / __repr__
                    raise InputError(f"cannot show @{{{path}}}: {_reason(exc)}", hint=LOOKUP_HINT) from None
            rendered[key] = result.text
            if result.note and notes is not None:
                notes.append(f"@{{{key}}}: {result.note}")
        return rendered[key]

    return _REFERENCE.sub(replace, text)


def references(text: str) -> list[str]:
    """The paths that `interpolate()` would expand, as written, in order of first appearance, without repeats."""
    if "@{" not in text:
        return []
    found = (
        match.group("path") or f"{match.group('kind')}:{match.group('argument')}"
        for match in _REFERENCE.finditer(text)
        if not match.group("escape")
    )
    return list(dict.fromkeys(found))


def resolve(path: str, namespace: Mapping[str, Any]) -> Any:
    """The value `path` (a reference without its `@{` and `}`) names in `namespace`."""
    shown = f"@{{{path}}}"
    if not _WHOLE_PATH.fullmatch(path):
        raise InputError(f"{shown} is not a reference", hint="use NAME, .attribute, [number] or ['key'] steps")
    steps = [_step(match) for match in _PARTS.finditer(path)]
    for kind, key in steps:
        if kind == "attr" and isinstance(key, str) and key.startswith("_"):
            raise InputError(
                f"{shown} uses {key!r}: private attributes are not available",
                hint="reference a public attribute, or write \\@{ to send it as it is",
            )
    first = steps[0][1]
    if first not in namespace:
        raise InputError(f"unknown name {first!r} in {shown}", hint=UNKNOWN_HINT)
    value = namespace[first]
    for kind, key in steps[1:]:
        try:
            value = getattr(value, key) if kind == "attr" else value[key]
        except Exception as exc:
            raise InputError(f"cannot look up {shown}: {_reason(exc)}", hint=LOOKUP_HINT) from None
    return value


def render(value: Any) -> str:
    """The text a value stands for in a prompt. Errors of the value's own `__str__`/`__repr__` propagate."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (dict, list)) or (isinstance(value, tuple) and not hasattr(value, "_fields")):
        try:
            return json.dumps(value, indent=2, ensure_ascii=False, default=str)
        except (TypeError, ValueError, RecursionError):  # non-string keys, circular references
            return repr(value)
    return str(value)


def _step(match: re.Match[str]) -> tuple[str, Any]:
    kind = match.lastgroup or ""
    if kind == "index":
        return kind, int(match.group(kind))
    if kind in ("single", "double"):
        return "item", match.group(kind)
    return kind, match.group(kind)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
