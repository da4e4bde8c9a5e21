"""The package's layers, checked from its source: what imports what.

Module-level imports only: an import inside a function is a deliberate lazy
load (the CLI's commands, pywinrm at first connection) and runs after every
module involved has finished loading, so it cannot form a cycle at import time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "enforcer"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.If) -> bool:
    return isinstance(node.test, (ast.Name, ast.Attribute)) and "TYPE_CHECKING" in ast.unparse(node.test)


def module_imports(path: Path) -> set[str]:
    """The enforcer modules `path` imports when it is loaded (relative imports resolved)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and not _type_checking_only(node):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
                visit(node.orelse)
                visit(node.finalbody)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.split(".")[0] == "enforcer")
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                if base.split(".")[0] != "enforcer":
                    continue
                for alias in node.names:  # `from . import x` may name a module or an attribute
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if candidate in MODULES else base)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    found.discard(name)
    return found


def implicit_imports(name: str, path: Path) -> set[str]:
    """What loading `name` loads besides its import statements: its parent packages (Python loads
    `a` and `a.b` before `a.b.c`), and every submodule of a package that discovers its modules at
    import time (resources/__init__.py scans itself with pkgutil)."""
    parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    discovered: set[str] = set()
    if path.name == "__init__.py" and "import_module(" in path.read_text(encoding="utf-8"):
        discovered = {m for m in MODULES if m.startswith(name + ".") and m.count(".") == name.count(".") + 1}
    return parents | discovered


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: {m for m in module_imports(path) | implicit_imports(name, path) if m in MODULES and m != name}
         for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return found


def test_enforcer_has_no_import_cycles():
    """Parent packages are on every path (importing a.b.c runs a/__init__.py first), so the cycles that
    count are those not made of a package and its own submodules alone."""
    real = [c for c in cycles(GRAPH) if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]
    assert real == []


def test_every_module_imports_on_its_own_in_a_fresh_interpreter():
    """What the graph cannot see (a cycle through an import inside a function that runs at import time)."""
    code = ("import importlib, sys\n"
            f"for name in {sorted(m for m in MODULES if not m.endswith('.__main__'))!r}:\n"
            "    for loaded in [m for m in sys.modules if m == 'enforcer' or m.startswith('enforcer.')]:\n"
            "        del sys.modules[loaded]\n"
            "    importlib.import_module(name)\n")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_a_cycle_through_a_discovered_resource_module_is_seen():
    """planner imports resources, whose __init__ loads every resource module: a resource that imported the
    planner back would close a cycle no import statement of resources/__init__.py names."""
    graph = {name: set(targets) for name, targets in GRAPH.items()}
    graph["enforcer.resources.cluster_node"].add("enforcer.planner")
    assert any("enforcer.planner" in c and "enforcer.resources" in c for c in cycles(graph))


def test_relative_imports_are_resolved():
    assert "enforcer.transport.base" in GRAPH["enforcer.transport.winrm"]
    assert "enforcer.model" in GRAPH["enforcer.inventory"]


def _loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return set(out.split())


@pytest.mark.parametrize("module", ["enforcer.model", "enforcer.inventory", "enforcer.playbook"])
def test_the_data_model_and_loaders_load_no_transport_library(module):
    loaded = _loaded_after_import(module)
    assert not {m for m in loaded if m.split(".")[0] in ("winrm", "requests", "spnego", "urllib3")}



def test_the_simulator_imports_only_the_protocol_of_the_engine():
    engine = {target for name, targets in GRAPH.items() if name.startswith("enforcer.simulator")
              for target in targets if not target.startswith(("enforcer.simulator", "enforcer.protocol"))}
    assert engine <= {"enforcer"}, f"the simulator imports the engine's {sorted(engine - {'enforcer'})}"
