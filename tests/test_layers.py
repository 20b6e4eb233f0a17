"""The layering rules of docs/architecture.md, checked on the source (every import, lazy ones included) and in
fresh interpreters."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "puter_magic"

# The layer of each top-level module or subpackage of puter_magic; the faces are one layer with several rooms.
LAYER = {
    "datatypes": "foundations",
    "errors": "foundations",
    "redact": "foundations",
    "config": "foundations",
    "reports": "foundations",
    "discovery": "foundations",
    "wire": "wire",
    "providers": "providers",
    "core": "core",
    "batches": "batches",
    "testing": "testing",
    "notebook": "notebook",
    "widgets": "widgets",
    "cli": "cli",
    "cli_chat": "cli",
    "cli_media": "cli",
    "__main__": "cli",
    "demo": "demo",
    "server": "server",
}
BELOW_FACES = {"foundations", "wire", "providers", "core", "batches"}
MAY_IMPORT = {
    "foundations": {"foundations"},
    "wire": {"foundations", "wire"},
    "providers": {"foundations", "wire", "providers"},
    "core": {"foundations", "wire", "providers", "core"},
    "batches": BELOW_FACES,
    "testing": BELOW_FACES | {"testing"},
    "server": BELOW_FACES | {"server"},
    "notebook": BELOW_FACES | {"notebook", "widgets", "server"},
    "widgets": BELOW_FACES | {"widgets"},
    "cli": BELOW_FACES | {"cli", "server", "testing", "demo"},
    "demo": BELOW_FACES | {"demo", "testing"},
}
# Arrows against the table, each explained in docs/architecture.md (issue 14 allows at most two): none today.
KNOWN_BREAKS: set[tuple[str, str]] = set()
# Import cycles between modules: none (a Reply records itself through a callback the Session hands it).
KNOWN_CYCLES: set[frozenset[str]] = set()
PURE = [
    "datatypes.py",
    "discovery.py",
    "errors.py",
    "reports.py",
    "wire/decoders.py",
    "wire/jsontext.py",
    "wire/statuses.py",
    "providers/puter_wire.py",
    "providers/openai_wire.py",
    "providers/puter_account.py",
    "providers/puter_media_wire.py",
    "core/image_codec.py",
    "core/image_store.py",
    "core/media_models.py",
    "core/conversation.py",
    "core/conversation_io.py",
    "core/conversation_json.py",
    "core/threads.py",
    "core/interpolate.py",
    "core/formats.py",
    "core/docstrings.py",
    "core/hints.py",
    "core/schemas.py",
    "core/validate.py",
    "core/tools.py",
    "batches/values.py",
    "batches/progress.py",
    "server/openai_format.py",
    "server/openai_request.py",
    "server/request_fields.py",
    "server/openai_errors.py",
    "server/responses_request.py",
    "server/responses_format.py",
]
UI_LIBRARIES = {"IPython", "ipywidgets", "traitlets", "ipykernel"}
UI_ALLOWED = ("notebook/", "widgets/")
HTTPX_ALLOWED = ("wire/", "providers/", "testing/", "server/")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path) -> Iterator[str]:
    """Every module an import in `path` names, absolute; `from x import y` names x.y when that is a module."""
    here = module_name(path)
    package = here.split(".") if path.name == "__init__.py" else here.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base


def third_party(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imports_of(path)} - set(sys.stdlib_module_names) - {"puter_magic"}


def graph() -> dict[str, set[str]]:
    """Module → the package modules it imports. The root __init__ is left out: it is the lazy front door (its
    imports run on attribute access), and what the package takes from it is `__version__` alone (checked below)."""
    edges: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        if name == "puter_magic":
            continue
        edges[name] = {target for target in imports_of(path) if target in MODULES and target != "puter_magic"}
    return edges


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return LAYER.get(parts[1]) if len(parts) > 1 else None


def breaks() -> set[tuple[str, str]]:
    found = set()
    for source, targets in graph().items():
        for target in targets:
            here, there = layer_of(source), layer_of(target)
            if here and there and there not in MAY_IMPORT[here]:
                found.add((source, target))
    return found


def cycles() -> set[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    edges, index, low, stack, on_stack, found = graph(), {}, {}, [], set(), set()

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def page_rule(start: str) -> str:
    """The bullet of docs/architecture.md's import rules that begins with `start`."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    at = text.index(f"- {start}")
    end = text.find("\n- ", at + 2)
    return text[at : end if end != -1 else None]


def test_the_architecture_page_lists_the_pure_modules_of_the_test():
    named = re.findall(r"`([\w/*]+\.py)`", page_rule("These modules import no third-party package"))
    listed = {str(path.relative_to(PACKAGE)) for name in named for path in PACKAGE.glob(name)}
    assert listed == set(PURE), "docs/architecture.md and PURE name different modules"


def test_the_architecture_page_explains_each_arrow_against_the_table():
    rule = page_rule("A layer imports only the layers below it")
    assert len(KNOWN_BREAKS) <= 2, "issue 14 allows at most two arrows against the table"
    unexplained = [arrow for arrow in KNOWN_BREAKS if not all(name in rule for name in arrow)]
    assert unexplained == [], "each arrow in KNOWN_BREAKS is named, with its reason, in docs/architecture.md"
    assert bool(KNOWN_BREAKS) or "there are none" in rule


def test_the_architecture_page_says_there_are_no_cycles():
    assert not KNOWN_CYCLES and "No import cycles between modules" in page_rule("No import cycles")


def test_every_module_has_a_layer():
    assert [name for name in MODULES if name != "puter_magic" and layer_of(name) is None] == []


def test_layers_import_only_the_layers_they_may():
    assert breaks() == KNOWN_BREAKS, "arrows against MAY_IMPORT (new ones, or known ones that are gone)"


def test_no_import_cycles_but_the_known_ones():
    assert cycles() == KNOWN_CYCLES, "import cycles (new ones, or known ones that are gone)"


def test_the_package_takes_only_its_version_from_the_front_door():
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and name != "puter_magic":
                here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(here[: len(here) - node.level + 1]) if node.level else node.module
                if node.level and node.module is None and base == "puter_magic":
                    taken = {alias.name for alias in node.names if f"puter_magic.{alias.name}" not in MODULES}
                    assert taken <= {"__version__"}, f"{name} takes {sorted(taken)} from puter_magic/__init__.py"


def test_subpackages_are_cheap_to_import():
    """Each subpackage's __init__ is its docstring (so importing one room never loads the others)."""
    for init in PACKAGE.glob("*/__init__.py"):
        if init.parent.name in {"testing", "server", "providers"}:
            continue
        body = ast.parse(init.read_text(encoding="utf-8")).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr), f"{init.parent.name}/__init__.py does more"


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_import_only_the_standard_library(module):
    assert third_party(PACKAGE / module) == set(), f"{module} imports {sorted(third_party(PACKAGE / module))}"


def test_ui_libraries_stay_in_the_notebook_and_the_widgets():
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(third_party(path) & UI_LIBRARIES)
        for path in MODULES.values()
        if third_party(path) & UI_LIBRARIES and not str(path.relative_to(PACKAGE)).startswith(UI_ALLOWED)
    }
    assert offenders == {}


def test_httpx_stays_in_the_wire_providers_server_and_testing():
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in MODULES.values()
        if "httpx" in third_party(path) and not str(path.relative_to(PACKAGE)).startswith(HTTPX_ALLOWED)
    ]
    assert offenders == []


def test_the_checks_see_lazy_imports():
    """The graph counts an import inside a function: cli imports the demo only when `demo` runs."""
    assert "puter_magic.demo.run" in graph()["puter_magic.cli"]


def test_importing_the_package_is_cheap():
    code = (
        "import sys, json; before = set(sys.modules); import puter_magic; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    heavy = {"httpx", "IPython", "ipywidgets", "asyncio", "starlette", "uvicorn", "puter_magic.wire.transport"}
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
