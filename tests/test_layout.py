"""The README's "Layout" nevers, enforced from the import graph.

Every `import` in the package counts, the ones inside functions included: a deferred import
still ties the two modules together.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sentra_tunnel"

# package → packages (or top-level modules) of the server it must never import
NEVER = {
    "models": {"routes", "portal", "tunnel", "services", "app"},
    "services": {"routes", "portal", "app"},
    "tunnel": {"portal", "routes", "app"},
    "routes": {"portal", "app"},
    "portal": {"routes", "app"},
}
# package → the only server modules outside itself it may import
ONLY = {
    "agent": {"wire", "door_schema"},
    "wire": {"door_schema"},
    "door_schema": set(),
}
# what the two modules the Pi shares with the server may import besides the standard library
LIGHT_THIRD_PARTY = {"pydantic"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imported_names(name: str) -> set[str]:
    """Absolute names of everything `name` imports, wherever in the module the import is."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            found.update(submodules & MODULES.keys())
            if not submodules <= MODULES.keys():  # names from the module itself
                found.add(base)
    return found


GRAPH = {name: {n for n in imported_names(name) if n in MODULES} - {name} for name in MODULES}


def area(name: str) -> str:
    """The package (or top-level module) a module belongs to: `tunnel`, `wire`, `__init__`."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


@pytest.mark.parametrize("package", sorted(NEVER))
def test_a_package_never_imports_what_the_layout_forbids(package):
    broken = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if area(name) == package
        for target in targets
        if area(target) in NEVER[package]
    )
    assert broken == []


@pytest.mark.parametrize("package", sorted(ONLY))
def test_the_pi_side_imports_only_the_shared_modules(package):
    allowed = ONLY[package] | {package}
    broken = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items()
        if area(name) == package
        for target in targets
        if area(target) not in allowed
    )
    assert broken == []


@pytest.mark.parametrize("module", ["sentra_tunnel.wire", "sentra_tunnel.door_schema"])
def test_the_shared_modules_load_only_pydantic_and_the_standard_library(module):
    outside = {
        name.partition(".")[0]
        for name in imported_names(module)
        if not name.startswith("sentra_tunnel")
    }
    assert outside - sys.stdlib_module_names - LIGHT_THIRD_PARTY == set()


def test_the_tunnel_renders_no_templates():
    rendering = sorted(
        name
        for name in MODULES
        if area(name) == "tunnel" and "render_template" in MODULES[name].read_text()
    )
    assert rendering == []


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = stack[stack.index(node) :]
                    del stack[stack.index(node) :]
                    if len(group) > 1:
                        cycles.append(sorted(group))
            elif target not in index:
                index[target] = low[target] = len(index)
                stack.append(target)
                work.append((target, iter(sorted(graph[target]))))
            elif target in stack:
                low[node] = min(low[node], index[target])
    return cycles


def test_no_import_cycles_between_modules():
    assert import_cycles(GRAPH) == []


def test_the_cycle_finder_finds_a_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_cycles(graph) == [["a", "b", "c"]]


def test_the_graph_sees_relative_and_deferred_imports():
    assert "sentra_tunnel.wire" in GRAPH["sentra_tunnel.agent.tunnel"]
    assert "sentra_tunnel.app" in GRAPH["sentra_tunnel"]  # imported inside create_app()
