"""puter_magic's own source read as syntax trees, for the tests that check what a module imports or touches."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "puter_magic"


def parsed(module: str) -> ast.Module:
    """The syntax tree of puter_magic/`module` (a path such as "core/conversation.py")."""
    return ast.parse((PACKAGE / module).read_text(encoding="utf-8"))


def absolute_imports(tree: ast.Module) -> set[str]:
    """The top-level names the absolute imports in `tree` import from (`import a.b` and `from a.b import c`: a)."""
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    names |= {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
    }
    return {name.split(".")[0] for name in names}
