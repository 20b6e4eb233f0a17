"""`%%puter --help`, `%puter --help` and `%%puter?` list every cell option, one line each; `%puter help`
points there."""

from __future__ import annotations

import re

from cells import run

from puter_magic.notebook.cell_options import cell_options


def option_lines(text: str) -> dict[str, str]:
    """The long flag of every option line ("  -m, --model MODEL   what it does") → the line."""
    found = {}
    for line in text.splitlines():
        if match := re.match(r"  (?:-\w, )?(--[\w-]+)\S* ?\S* +\S", line):
            found[match.group(1)] = line
    return found


def every_flag() -> set[str]:
    return {flag for action in cell_options.parser._actions for flag in action.option_strings if flag.startswith("--")}


def test_cell_help_lists_every_option_once(shell, magics):
    report = run(shell, "%%puter --help\nthe body is not asked")
    listed = option_lines(report.plain)
    assert set(listed) == every_flag()
    assert all(len(line) <= 120 for line in listed.values())
    assert "the body is not asked" not in report.plain and magics.session.conversations.thread().turns == []


def test_the_line_magic_shows_the_same_list(shell, magics):
    """An empty `%%puter --help` cell never reaches the magic: IPython suggests `%puter`, which answers too."""
    assert run(shell, "%puter --help").plain == run(shell, "%%puter -h\nx").plain


def test_the_magic_docstring_lists_the_options(shell, magics):
    doc = shell.find_cell_magic("puter").__doc__
    assert set(option_lines(doc)) == every_flag()


def test_puter_help_points_to_the_cell_options(shell, magics):
    assert "`%%puter --help` lists the options" in run(shell, "%puter help").markdown
