"""Fixtures of the browser tests: a notebook folder, JupyterLab serving it, and a Chromium page.

The local Puter server runs in this process (`puter_server`); JupyterLab's kernels reach it through the
PUTER_* variables they inherit. Artifacts (screenshots, the JupyterLab log on failure) go to test-artifacts/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .lab import JupyterLab, chromium

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def lab(puter_server: Any, tmp_path: Path) -> Iterator[JupyterLab]:
    root = tmp_path / "notebooks"
    root.mkdir()
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PUTER_", "JUPYTER"))}
    env.update(
        PUTER_API_ORIGIN=puter_server.api_origin,
        PUTER_GUI_ORIGIN=puter_server.gui_origin,
        PUTER_TOKEN=puter_server.token,
        PUTER_MAGIC_HOME=str(tmp_path / "puter-home"),
        PUTER_RATE_LIMIT="off",
    )
    with JupyterLab(root, tmp_path / "jupyter", env) as server:
        yield server


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    with chromium(tmp_path / "chromium-profile") as context:
        context.set_default_timeout(20_000)
        yield context.new_page()
