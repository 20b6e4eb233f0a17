"""The layering rules of docs/architecture.md, checked on the source and in fresh interpreters."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "puter_magic"
PURE = [
    "types.py",
    "jsontext.py",
    "errors.py",
    "decoders.py",
    "providers/puter_wire.py",
    "conversation.py",
    "conversation_io.py",
    "interpolate.py",
    "formats.py",
    "batch_types.py",
    "server/openai_format.py",
    "server/openai_errors.py",
]
HTTPX_ALLOWED = ("http.py", "providers/", "testing/", "server/")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_only_the_standard_library(module):
    third_party = {name for name in imported_modules(PACKAGE / module) if name not in sys.stdlib_module_names}
    assert third_party <= {"puter_magic"}, f"{module} imports {sorted(third_party)}"


def test_httpx_stays_in_the_wire_providers_server_and_testing():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "httpx" in imported_modules(path) and not str(path.relative_to(PACKAGE)).startswith(HTTPX_ALLOWED)
    ]
    assert offenders == []


def test_importing_the_package_is_cheap():
    code = (
        "import sys, json; before = set(sys.modules); import puter_magic; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    heavy = {"httpx", "IPython", "ipywidgets", "asyncio", "starlette", "uvicorn", "puter_magic.http"}
    assert not heavy & set(loaded), sorted(heavy & set(loaded))


def test_load_ext_does_not_import_httpx(tmp_path):
    code = (
        "import sys, json\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from traitlets.config import Config\n"
        "config = Config(); config.HistoryManager.enabled = False\n"
        "shell = InteractiveShell.instance(config=config)\n"
        "shell.run_line_magic('load_ext', 'puter_magic')\n"
        "print(json.dumps(['httpx' in sys.modules, 'puter' in shell.magics_manager.magics['cell']]))"
    )
    env = {**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [False, True]
