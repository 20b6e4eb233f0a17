"""A pytest plugin that records how each real client fared, feature by feature, for the table in docs/clients.md.

A test marked ``@pytest.mark.real_client("llm", "streamed prompt")`` and parametrized over ``backend`` adds one
cell: passed, failed, or expected to fail (with the xfail reason). At the end of the session the cells are written
to ``test-artifacts/real-clients.json``; ``python tests/clients/table.py`` turns that file into docs/clients.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

RESULTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "real-clients.json"
_CELLS = pytest.StashKey[list[dict[str, Any]]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "real_client(client, feature): a cell of docs/clients.md's table")
    config.stash[_CELLS] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    marker = item.get_closest_marker("real_client")
    callspec = getattr(item, "callspec", None)
    if marker is None or callspec is None or "backend" not in callspec.params:
        return report
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
        cell = {"client": marker.args[0], "feature": marker.args[1], "backend": callspec.params["backend"]}
        cell |= {"outcome": outcome, "reason": getattr(report, "wasxfail", "") or _first_line(report)}
        item.config.stash[_CELLS].append(cell)
    return report


def _first_line(report: pytest.TestReport) -> str:
    if report.passed:
        return ""
    crash = getattr(report.longrepr, "reprcrash", None)
    return (crash.message if crash else str(report.longrepr)).splitlines()[0][:200]


def pytest_sessionfinish(session: pytest.Session) -> None:
    cells = session.config.stash.get(_CELLS, [])
    if cells:
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(cells, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
