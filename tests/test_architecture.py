"""The layout of docs/architecture.md holds: no import cycle in src/, no private name imported
across packages, and the rule tables never reach for the Dual type or the interpreter."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "dualnumpy"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _type_checking_lines(tree: ast.Module) -> set[int]:
    """Lines inside ``if TYPE_CHECKING:`` blocks: annotations only, never run."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(name: str) -> list[tuple[str, str | None]]:
    """(module imported, name taken from it or None) for every import that runs, at any depth."""
    path = MODULES[name]
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    package = name if _is_package(name) else name.rpartition(".")[0]
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub, None) if sub in MODULES else (target, alias.name))
    return [(m, n) for m, n in found if m == "dualnumpy" or m.startswith("dualnumpy.")]


def _graph() -> dict[str, set[str]]:
    return {name: {m for m, _ in _imports(name) if m in MODULES and m != name} for name in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_src_has_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_check_can_fail() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def _package_of(module: str) -> str:
    return module if _is_package(module) else module.rpartition(".")[0]


def test_no_private_name_is_imported_across_packages() -> None:
    offenders = []
    for name in MODULES:
        for target, imported in _imports(name):
            if target not in MODULES or _package_of(target) == _package_of(name):
                continue
            private_module = any(part.startswith("_") and part != "__init__"
                                 for part in target.split(".")[1:])
            if private_module or (imported is not None and imported.startswith("_")):
                offenders.append(f"{name}: {target}" + (f".{imported}" if imported else ""))
    assert offenders == []


def test_rules_never_import_the_dual_or_the_interpreter() -> None:
    forbidden = {"dualnumpy.core.dual", "dualnumpy.core.interpreter", "dualnumpy.core.indexing",
                 "dualnumpy.core.scalar", "dualnumpy.transforms"}
    for name in MODULES:
        if not name.startswith("dualnumpy.rules"):
            continue
        reached = {m for m, _ in _imports(name)}
        assert not {m for m in reached if any(m == f or m.startswith(f + ".") for f in forbidden)}, name


def test_the_reverse_gathers_only_what_numpy_facts_says_moves_elements() -> None:
    import numpy as np
    import pytest

    from dualnumpy.reverse import rules as reverse_rules
    from dualnumpy.reverse.rules import common

    reverse_rules._check_gathers(reverse_rules.FUNCTION_VJPS)
    with pytest.raises(ImportError, match=r"np\.sum"):
        reverse_rules._check_gathers({np.sum: common.FunctionRule(common._gather, ())})
