"""Running a cell in the in-process shell as a test does: errors raised, not just shown."""

from __future__ import annotations

from typing import Any


def run(shell: Any, source: str, cell_id: str | None = None) -> Any:
    """Run `source` as a cell (with `cell_id`, as a notebook sends it); raise its error, else return its value."""
    result = shell.run_cell(source, cell_id=cell_id)
    if result.error_in_exec is not None:
        raise result.error_in_exec
    if result.error_before_exec is not None:
        raise result.error_before_exec
    return result.result
