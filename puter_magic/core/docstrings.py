"""What a docstring says about a function or a class: its summary and the description of each parameter or field.

Three styles, mixed freely:

    Google                      NumPy                       reST (Sphinx)
    Args:                       Parameters                  :param city: the city,
        city (str): the city,   ----------                      in English
            in English          city : str                  :param int days: how many
        days: how many              the city, in English
                                days : int
                                    how many

Google headers: Args, Arguments, Parameters, Params, Keyword Args, Keyword Arguments, Attributes, Fields (with a
colon); NumPy headers: Parameters, Other Parameters, Attributes (underlined with dashes). `x, y : int` describes both.
Every description comes back on one line. Pure: standard library only.
"""

from __future__ import annotations

import inspect
import re

GOOGLE_HEADERS = {
    "args",
    "arguments",
    "parameters",
    "params",
    "keyword args",
    "keyword arguments",
    "attributes",
    "fields",
}
NUMPY_HEADERS = {"parameters", "other parameters", "attributes"}
_GOOGLE_ENTRY = re.compile(r"^\**(?P<name>\w+)\s*(?:\([^)]*\))?\s*:(?P<text>.*)$")
_NUMPY_ENTRY = re.compile(r"^(?P<names>\**\w+(?:\s*,\s*\**\w+)*)\s*(?::.*)?$")
_REST_ENTRY = re.compile(r"^:(?:param|parameter|arg|argument|key|keyword)\s+(?:[^:]*\s)?(?P<name>\w+)\s*:(?P<text>.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """(summary, {name: description}): the summary is the first paragraph, on one line."""
    if not doc:
        return "", {}
    return _Reader(inspect.cleandoc(doc).splitlines()).read()


class _Reader:
    """The docstring's lines, stripped, with their indents worked out once."""

    def __init__(self, lines: list[str]) -> None:
        self.text = [line.strip() for line in lines]
        self.indent = [len(line) - len(line.lstrip()) for line in lines]
        self.found: dict[str, str] = {}

    def read(self) -> tuple[str, dict[str, str]]:
        text, summary, index = self.text, [], 0
        while index < len(text) and text[index] and not self.header(index) and not text[index].startswith(":"):
            summary.append(text[index])
            index += 1
        index = 0
        while index < len(text):
            if self.underlined(index) and text[index].lower() in NUMPY_HEADERS:
                index = self.numpy_section(index + 2)
            elif self.google_header(index):
                index = self.google_section(index + 1, self.indent[index])
            elif text[index].startswith(":") and (match := _REST_ENTRY.match(text[index])):
                index = self.entry(index, self.indent[index], match["name"], match["text"])
            else:
                index += 1
        return " ".join(summary), self.found

    def google_header(self, index: int) -> bool:
        line = self.text[index]
        return line.endswith(":") and line[:-1].strip().lower() in GOOGLE_HEADERS

    def underlined(self, index: int) -> bool:
        following = self.text[index + 1] if index + 1 < len(self.text) else ""
        return bool(following) and following.count("-") == len(following)

    def header(self, index: int) -> bool:
        return self.google_header(index) or self.underlined(index)

    def entry(self, index: int, indent: int, name: str, first: str) -> int:
        """Reads one entry whose first line is at `index`; continuation lines are indented deeper."""
        text, words = self.text, [first.strip()]
        index += 1
        while index < len(text) and (not text[index] or self.indent[index] > indent):
            if not text[index] and (index + 1 >= len(text) or self.indent[index + 1] <= indent):
                break
            words.append(text[index])
            index += 1
        self.found[name] = " ".join(word for word in words if word)
        return index

    def google_section(self, index: int, header_indent: int) -> int:
        while index < len(self.text):
            if not self.text[index]:
                index += 1
                continue
            if self.indent[index] <= header_indent:
                return index
            match = _GOOGLE_ENTRY.match(self.text[index])
            if match is None:
                index += 1
                continue
            index = self.entry(index, self.indent[index], match["name"], match["text"])
        return index

    def numpy_section(self, index: int) -> int:
        entry_indent = None
        while index < len(self.text):
            if not self.text[index]:
                index += 1
                continue
            if self.header(index):
                return index
            if entry_indent is None:
                entry_indent = self.indent[index]
            match = _NUMPY_ENTRY.match(self.text[index]) if self.indent[index] == entry_indent else None
            if match is None:
                index += 1
                continue
            names = [name.strip().lstrip("*") for name in match["names"].split(",")]
            index = self.entry(index, entry_indent, names[0], "")
            for name in names[1:]:
                self.found[name] = self.found[names[0]]
        return index
