"""The import contract that lint-imports cannot see: imports hidden inside functions.

Layers and cycles are checked by `lint-imports` (pyproject's [tool.importlinter]); a project import inside
a function hides an edge from it, so they stay few and each one says why."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROJECT_PACKAGES = ("vaxsync", "transforms", "matching", "validation", "synth")
MAX_FUNCTION_LEVEL_IMPORTS = 5


def _imported_module(node: ast.Import | ast.ImportFrom) -> str:
    if isinstance(node, ast.ImportFrom):
        return "." if node.level else (node.module or "")
    return node.names[0].name


def function_level_project_imports(source: str) -> list[str]:
    """`module` for each import of a project module made inside a function body."""
    found: list[str] = []

    def visit(node: ast.AST, inside_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if inside_function and isinstance(child, ast.Import | ast.ImportFrom):
                module = _imported_module(child)
                if module == "." or module.split(".")[0] in PROJECT_PACKAGES:
                    found.append(module)
            visit(child, inside_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(ast.parse(source), False)
    return found


def project_files() -> list[Path]:
    return sorted(
        path
        for folder in (*PROJECT_PACKAGES, "dags")
        for path in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in path.parts
    )


def test_few_project_imports_are_made_inside_functions() -> None:
    hidden = {
        str(path.relative_to(ROOT)): imports
        for path in project_files()
        if (imports := function_level_project_imports(path.read_text(encoding="utf-8")))
    }
    assert sum(len(imports) for imports in hidden.values()) <= MAX_FUNCTION_LEVEL_IMPORTS, hidden


def test_the_counter_sees_imports_in_nested_functions_and_methods() -> None:
    source = (
        "import polars\n"
        "from vaxsync.core import settings\n"
        "def f():\n"
        "    from vaxsync.marts import events\n"
        "    import json\n"
        "class C:\n"
        "    def m(self):\n"
        "        def inner():\n"
        "            import matching.model\n"
    )
    assert function_level_project_imports(source) == ["vaxsync.marts", "matching.model"]
