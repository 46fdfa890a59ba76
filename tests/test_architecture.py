"""The pure core never imports I/O, network, database or clock modules, nor the edges."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "optiflow"
CORE = ["domain", "signals", "filters", "decisions", "portfolio", "engine", "execution"]
CORE_FILES = ["marketdata/features.py", "marketdata/indicators.py"]
FORBIDDEN = {
    "asyncio",
    "ccxt",
    "sqlite3",
    "telegram",
    "socket",
    "time",
    "os",
    "pathlib",
    "io",
    "requests",
    "httpx",
    "random",
    "threading",
    "subprocess",
    "logging",
    "optiflow.adapters",
    "optiflow.app",
    "optiflow.runtimes",
    "optiflow.queries",
    "optiflow.optimize",
    "optiflow.interfaces",
    "optiflow.supervisor",
    "optiflow.marketdata.loaders",
}


def core_modules() -> list[Path]:
    """Every module of the pure core."""
    files = [p for pkg in CORE for p in (SRC / pkg).rglob("*.py")]
    return files + [SRC / f for f in CORE_FILES if (SRC / f).exists()]


def imported(path: Path) -> set[str]:
    """Top-level names a module imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_imports_nothing_impure(path: Path) -> None:
    """No I/O, clock or edge imports in the core."""
    bad = {n for n in imported(path) for f in FORBIDDEN if n == f or n.startswith(f + ".")}
    assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_module_never_reads_the_wall_clock(path: Path) -> None:
    """Time comes from events: no now(), utcnow(), today() or time() calls."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            assert node.func.attr not in {"now", "utcnow", "today", "time", "monotonic"}, path


def module_name(path: Path) -> str:
    """Dotted module name of a source file."""
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Every optiflow module -> the optiflow modules it imports (any depth of the file)."""
    files = {module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            mods: list[str] = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            targets.update(m for m in mods if m in files and m != name)
        graph[name] = targets
    return graph


def test_no_import_cycles_between_modules() -> None:
    """No module imports, directly or through others, a module that imports it back."""
    graph = import_graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for mod in sorted(graph):
        if mod not in state:
            visit(mod)
