"""The tree keeps its architecture: no module imports itself back through others (lazy imports
count too), product code never uses the test bench, and no target package uses another."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("components", "policies", "tools", "testbench")
TARGETS = ("local", "aws", "ecr", "gar")
MAX_FUNCTION_LINES = 60


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}


def imported(path: Path, known: set[str]) -> Iterator[str]:
    """Project modules `path` imports anywhere but under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        for n in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        yield from (name for name in names if name in known)


def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: set(imported(path, set(found))) - {name} for name, path in found.items()}


def cycle_from(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in edges.get(node, ()):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_no_module_imports_itself_back() -> None:
    edges = graph()
    # a package's __init__ importing its own submodules is how packages work, not a circle
    edges = {m: {n for n in targets if not m.startswith(f"{n}.")} for m, targets in edges.items()}
    cycles = [c for m in sorted(edges) if (c := cycle_from(m, edges))]
    assert cycles == [], " | ".join(" -> ".join(c) for c in cycles[:5])


def test_product_code_never_uses_the_test_bench() -> None:
    users = [
        m
        for m, targets in graph().items()
        if not m.startswith("testbench") and any(t.startswith("testbench") for t in targets)
    ]
    assert users == []


def test_no_target_package_uses_another() -> None:
    crossings = [
        (m, t)
        for m, targets in graph().items()
        for target in TARGETS
        if m.startswith(f"components.{target}")
        for t in targets
        if t.startswith("components.") and t.split(".")[1] in TARGETS and t.split(".")[1] != target
    ]
    assert crossings == []


def test_no_function_is_longer_than_60_lines() -> None:
    """A long constructor wants a few named helpers (the 60-line rule of the developers' brief)."""
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path in modules().values()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
