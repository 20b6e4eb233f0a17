"""Fixtures leave nothing behind that a later test would see, so the suite passes in any order."""

from __future__ import annotations

import os


def test_the_shell_fixture_keeps_its_ipython_dir_out_of_the_environment(shell):
    assert os.environ.get("IPYTHONDIR") != shell.ipython_dir
