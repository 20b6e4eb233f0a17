"""Fixtures leave nothing behind that a later test would see, so the suite passes in any order."""

from __future__ import annotations

import os
import threading

from conftest import CtrlC


def test_the_shell_fixture_keeps_its_ipython_dir_out_of_the_environment(shell):
    assert os.environ.get("IPYTHONDIR") != shell.ipython_dir


def test_a_ctrl_c_still_pending_when_its_test_ends_is_never_pressed(ctrl_c_raises):
    """A test that fails before its Ctrl-C was pressed must not interrupt a later test instead."""
    ready = threading.Event()
    presser = CtrlC()
    presser.press_when(ready)
    presser.close()  # what the ctrl_c fixture does when the test ends
    ready.set()
    threading.Event().wait(0.1)  # the main thread waits, as the next test's would: a press would land here
