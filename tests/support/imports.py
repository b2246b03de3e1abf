"""Which project files running a Python file executes, read with `ast` (nothing is imported).

Project code is the tinykd package under src/ and the stage scripts' own modules in stages/
(they run with stages/ on sys.path, so `from _common import stage` is local). Used by
test_dvc_deps.py (every module a stage runs is one of its deps) and test_stages.py (no stage
imports TensorFlow before it has validated its params).
"""
from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path
from typing import Iterator

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
STAGES_DIR = REPO / "stages"
PACKAGE = "tinykd"


def module_file(name: str, src: Path = SRC, stages: Path = STAGES_DIR) -> Path | None:
    """The file `import name` executes last (a package's __init__.py), if it is project code."""
    parts = name.split(".")
    if parts[0] == PACKAGE:
        base = src.joinpath(*parts)
    elif len(parts) == 1 and (stages / f"{name}.py").is_file():
        return stages / f"{name}.py"
    else:
        return None
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def module_name(path: Path, src: Path = SRC) -> str:
    if path.is_relative_to(src):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)
    return path.stem


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(tree: ast.Module, module_level: bool) -> Iterator[ast.AST]:
    """Every node, or (module_level) those that run when the module is imported: not the bodies
    of functions and lambdas, nor `if TYPE_CHECKING:` blocks (class bodies do run)."""
    if not module_level:
        yield from ast.walk(tree)
        return
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        yield node
        todo.extend(ast.iter_child_nodes(node))


def imported_names(path: Path, src: Path = SRC, module_level: bool = False) -> set[str]:
    """Every dotted name an import statement in `path` may load (anywhere, or only at module
    level); `from a import b` may load module a.b, so both are returned (names that are not
    modules resolve to nothing)."""
    name = module_name(path, src)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in _nodes(ast.parse(path.read_text(encoding="utf-8"), str(path)), module_level):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".") if package else []
                if node.level - 1 > len(parts):
                    raise AssertionError(f"{path}: relative import beyond the top-level package")
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in node.names if alias.name != "*"}
    return names


@lru_cache(maxsize=None)
def reached_modules(script: Path, src: Path = SRC, stages: Path = STAGES_DIR,
                    module_level: bool = False) -> frozenset[Path]:
    """Project files executed by running `script`: itself and its transitive imports (with
    module_level, only those imported when the modules are loaded, not inside functions)."""
    todo, seen = [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(path, src, module_level):
            parts = name.split(".")
            # Importing a.b.c first runs a/__init__.py and a/b/__init__.py.
            for i in range(1, len(parts) + 1):
                found = module_file(".".join(parts[:i]), src, stages)
                if found is not None and found not in seen:
                    todo.append(found)
    return frozenset(seen)
