"""`%load_ext puter_magic` imports what registering the magics needs and nothing more: the session, the commands,
the batch machinery and the display load on first use. Checked on sys.modules in a fresh interpreter (the time
it takes is benchmarks/bench_load.py's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

SHELL = (
    "import sys, json\n"
    "from IPython.core.interactiveshell import InteractiveShell\n"
    "from traitlets.config import Config\n"
    "config = Config(); config.HistoryManager.enabled = False\n"
    "config.PuterMagics.temperature = 0.25\n"
    "config.PuterMagics.max_tokens = 77\n"
    "shell = InteractiveShell.instance(config=config)\n"
    "before = set(sys.modules)\n"
    "shell.run_line_magic('load_ext', 'puter_magic')\n"
    "loaded = sorted(set(sys.modules) - before)\n"
)
# Everything of the package that `%load_ext` may import.
AT_LOAD = {
    "puter_magic",
    "puter_magic.core",
    "puter_magic.core.first_session",
    "puter_magic.core.formats",
    "puter_magic.errors",
    "puter_magic.notebook",
    "puter_magic.notebook.awaiting",
    "puter_magic.notebook.cell_options",
    "puter_magic.notebook.magic_settings",
    "puter_magic.notebook.magics",
    "puter_magic.redact",
    "puter_magic.widgets",
    "puter_magic.widgets.kernel",
}
# Costly imports a kernel may not have made yet; none of them is needed to register the magics.
NOT_AT_LOAD = {"asyncio", "httpx", "ipywidgets", "ssl", "hashlib", "uuid", "subprocess", "concurrent.futures"}


def run_in_shell(code: str, tmp_path) -> dict:
    env = {**os.environ, "IPYTHONDIR": str(tmp_path / "ipython"), "PUTER_TOKEN": "", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", SHELL + code], capture_output=True, text=True, check=True, env=env, cwd=tmp_path
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_load_ext_imports_only_what_registering_the_magics_needs(tmp_path):
    found = run_in_shell(
        "print(json.dumps({'loaded': loaded, 'cell': 'puter' in shell.magics_manager.magics['cell'], "
        "'line': 'puter' in shell.magics_manager.magics['line']}))",
        tmp_path,
    )
    assert found["cell"] and found["line"]
    assert {name for name in found["loaded"] if name.split(".")[0] == "puter_magic"} == AT_LOAD
    assert NOT_AT_LOAD.isdisjoint(found["loaded"]), sorted(NOT_AT_LOAD.intersection(found["loaded"]))


def test_the_shell_config_reaches_the_session_made_after_load(tmp_path):
    """The session is made on first use, by the magics or by puter_magic.session(): it gets the config either way."""
    found = run_in_shell(
        "import puter_magic\n"
        "made_at_load = 'puter_magic.core.sessions' in sys.modules\n"
        "session = puter_magic.session()\n"
        "magics = shell.magics_manager.registry['PuterMagics']\n"
        "print(json.dumps([made_at_load, session.temperature, session.max_tokens, magics.session is session]))",
        tmp_path,
    )
    assert found == [False, 0.25, 77, True]


def test_a_command_loads_what_it_needs_on_first_use(tmp_path):
    found = run_in_shell(
        "report = shell.run_line_magic('puter', 'help')\n"
        "print(json.dumps(['%puter threads' in report.plain, 'puter_magic.notebook.commands' in sys.modules]))",
        tmp_path,
    )
    assert found == [True, True]
