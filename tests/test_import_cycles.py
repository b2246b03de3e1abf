"""No import cycles inside src/tinykd: a cycle means two modules are one job split in two (or one
module's job leaked into the other), and it only works while every import in it stays lazy.

The graph is read with `ast` from every module's import statements, those inside functions too
(a lazy import that closes a cycle is still a cycle, just one that fails later). Its nodes are
module files; `from pkg import name` is an edge to pkg.name when that is a module, else to pkg
itself. A submodule running its parent packages' __init__.py first is not an edge: the parent is
already being imported when its submodule is. cli.py loads its subcommands' modules by name
(importlib), which no statement shows; no module of the package imports cli.py, so those
imports cannot close a cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

from support.imports import PACKAGE, SRC, module_name


def project_modules(src: Path) -> dict[str, Path]:
    """{dotted name: file} of every module of the package under `src`."""
    return {module_name(p, src): p for p in sorted((src / PACKAGE).rglob("*.py"))}


def imports_of(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The project modules `path` (module `name`) imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    modules = project_modules(src)
    return {name: imports_of(path, name, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a, b, ..., a) per strongly connected component of more than one module (Tarjan)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []

    def visit(v):
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
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, c) for c in components]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself (breadth-first)."""
    start = min(component)
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v] & component):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                todo.append(w)
    raise AssertionError(f"no cycle through {start} in {sorted(component)}")


def test_no_import_cycles_in_tinykd():
    found = cycles(import_graph())
    assert not found, "import cycles in src/tinykd: " + "; ".join(" -> ".join(c) for c in found)


def test_graph_sees_function_level_relative_and_package_imports(tmp_path):
    """The reader itself: a cycle closed by an import inside a function, `from . import module`,
    `from .. import name` (an edge to the package) and `import a.b`; a clean package has none."""
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("VALUE = 1\n")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("import json\n\ndef f():\n    from .sub import c\n    return c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from .. import VALUE\nimport tinykd.a\n")
    graph = import_graph(tmp_path)
    assert graph == {"tinykd": set(), "tinykd.a": {"tinykd.b"}, "tinykd.b": {"tinykd.sub.c"}, "tinykd.sub": set(),
                     "tinykd.sub.c": {"tinykd", "tinykd.a"}}
    assert cycles(graph) == [["tinykd.a", "tinykd.b", "tinykd.sub.c", "tinykd.a"]]
    (pkg / "sub" / "c.py").write_text("from .. import VALUE\n")
    assert cycles(import_graph(tmp_path)) == []
