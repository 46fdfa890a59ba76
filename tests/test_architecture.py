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
