"""No import cycle among the modules of ``geo_planner/`` and ``api/``.

Every ``import`` counts, at module level, inside functions and under ``TYPE_CHECKING`` alike (an import moved
into a function to dodge a cycle is still a cycle of the design). Imports are read with :mod:`ast`, not
executed; an import names the deepest module of the repository it reaches (``from .siting import plan`` is
``geo_planner.siting.plan``, ``from .siting import MODELS`` is ``geo_planner.siting``); the package a module
sits in is not counted as imported by it.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("geo_planner", "api")


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every Python module of the packages under ``root``, by dotted name (a package by its ``__init__``)."""
    modules: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The deepest module of ``modules`` that the dotted ``name`` reaches, or None outside the repository."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The repository modules that one module imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    here = module.split(".") if is_package else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            if node.level and len(base) < 1:
                continue
            stem = ".".join(base + (node.module.split(".") if node.module else []))
            names = [f"{stem}.{alias.name}" for alias in node.names] if stem else []
        else:
            continue
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != module:
                found.add(target)
    return found


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, set[str]]:
    """Module → the repository modules it imports."""
    modules = module_files(root, packages)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a closed path, first module repeated at the end) per strongly connected group of modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan's algorithm; the graph is small (a few hundred modules)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_path_in(group, graph) for group in groups]


def _path_in(group: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A shortest closed import path through the first module of a strongly connected group."""
    start, members = group[0], set(group)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [start, *reversed(path[:-1]), start] if v != start else [start, start]
                if w not in previous:
                    previous[w] = v
                    nxt.append(w)
        frontier = nxt
    return group  # not reached: a strongly connected group always closes


def test_no_import_cycle() -> None:
    """No module of geo_planner/ or api/ reaches itself through imports."""
    found = cycles(import_graph(REPO, PACKAGES))
    assert not found, "import cycles:\n" + "\n".join(" → ".join(c) for c in found)


#: package → the packages it must never import (the data flow of the README's design section)
FORBIDDEN = {
    "geo_planner.siting": ("geo_planner.organisation", "geo_planner.decision"),
    "geo_planner.organisation": ("geo_planner.decision",),
    "geo_planner.siting.models.p_median": ("geo_planner.siting.stations", "geo_planner.siting.plan"),
}
#: what no stage imports: the run's order, its output folder, the report and the service
LATER = ("geo_planner.pipeline", "geo_planner.outputs", "geo_planner.report", "api")


def test_packages_import_only_what_their_docstring_allows() -> None:
    """Station siting, organisation and decision support import only earlier stages (see their ``__init__``)."""
    graph = import_graph(REPO, PACKAGES)
    wrong = []
    for package, never in FORBIDDEN.items():
        for module, targets in graph.items():
            if module != package and not module.startswith(package + "."):
                continue
            for target in targets:
                if any(target == n or target.startswith(n + ".") for n in (*never, *LATER)):
                    wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_check_finds_a_cycle_hidden_in_a_function(tmp_path: Path) -> None:
    """A cycle closed by an import inside a function, across a subpackage, is found and spelled out."""
    pkg = tmp_path / "geo_planner"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from ..c import thing\n")
    (pkg / "c.py").write_text("def f():\n    from geo_planner.a import x\n    return x\n")
    (pkg / "d.py").write_text("from . import a\nfrom .sub import b\n")  # imports two of the cycle, not in it
    graph = import_graph(tmp_path, ("geo_planner",))
    assert graph["geo_planner.d"] == {"geo_planner.a", "geo_planner.sub.b"}
    assert cycles(graph) == [["geo_planner.a", "geo_planner.sub.b", "geo_planner.c", "geo_planner.a"]]
