"""Every stage's `deps` in dvc.yaml cover the code it runs, so editing any of it reruns the stage.

For each stage (foreach expanded by DVC itself) the script named in its `cmd` is walked with `ast`:
its imports, transitively, inside the tinykd package and stages/ (imports inside functions too,
relative imports resolved; importing a.b.c runs a/__init__.py and a/b/__init__.py, so those count).
Every module file reached, every repository file a reached module reads (READS), and every
git-tracked repository path the command names (e.g. `--firmware-src firmware`) must be covered by
a dep: the file itself or a folder above it.
"""
from __future__ import annotations

import ast
import os
import re
import shlex
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
STAGES_DIR = REPO / "stages"
PACKAGE = "tinykd"

# Non-Python repository files that a module reads at run time, which no import reveals. Each
# entry names a string the module's source must contain, so the table cannot silently go stale.
READS = {
    "src/tinykd/params.py": {"workflow/schemas/params.schema.yaml": "params.schema.yaml"},
}

# params.yaml is tracked by DVC per key (each stage's `params:`); as a dep it would rerun every
# stage on any change.
PARAMS_FILE = "params.yaml"


@lru_cache(maxsize=None)
def dvc_stages() -> dict[str, dict]:
    from dvc.repo import Repo

    out = {}
    with Repo(str(REPO)) as repo:
        for stage in repo.index.stages:
            if not getattr(stage, "cmd", None):
                continue
            cmd = stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd)
            deps = [os.path.normpath(d.def_path) for d in stage.deps if not hasattr(d, "params")]
            outs = [os.path.normpath(o.def_path) for o in stage.outs]
            out[stage.name] = {"cmd": cmd, "deps": deps, "outs": outs}
    return out


def module_file(name: str) -> Path | None:
    """The file `import name` executes last (a package's __init__.py), if it is project code."""
    parts = name.split(".")
    if parts[0] == PACKAGE:
        base = SRC.joinpath(*parts)
    elif len(parts) == 1 and (STAGES_DIR / f"{name}.py").is_file():
        # Stage scripts run with stages/ on sys.path, so `from _common import run` is local.
        return STAGES_DIR / f"{name}.py"
    else:
        return None
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def module_name(path: Path) -> str:
    if path.is_relative_to(SRC):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        return ".".join(parts)
    return path.stem


def imported_names(path: Path) -> set[str]:
    """Every dotted name an import statement anywhere in `path` may load (`from a import b` may
    load module a.b, so both are returned; names that are not modules resolve to nothing)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
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
def reached_modules(script: Path) -> frozenset[Path]:
    """Project files executed by running `script`: itself and its transitive imports."""
    todo, seen = [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for name in imported_names(path):
            parts = name.split(".")
            # Importing a.b.c first runs a/__init__.py and a/b/__init__.py.
            for i in range(1, len(parts) + 1):
                found = module_file(".".join(parts[:i]))
                if found is not None and found not in seen:
                    todo.append(found)
    return frozenset(seen)


def stage_script(cmd: str) -> Path:
    m = re.search(r"\bpython3?\s+(?:-m\s+(?P<mod>[\w.]+)|(?P<file>\S+\.py))", cmd)
    assert m, f"no `python script.py` or `python -m module` in {cmd!r}"
    if m.group("file"):
        return REPO / m.group("file")
    found = module_file(m.group("mod"))
    assert found, f"module {m.group('mod')} of {cmd!r} is not project code"
    return found


@lru_cache(maxsize=None)
def tracked_files() -> tuple[str, ...]:
    try:
        out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
        return tuple(sorted(out.splitlines()))
    except (OSError, subprocess.CalledProcessError):
        return tuple(sorted(p.relative_to(REPO).as_posix() for p in REPO.rglob("*") if p.is_file()))


def named_repo_files(cmd: str, outs: set[str]) -> set[str]:
    """Tracked files the command names (a folder names every tracked file under it), besides
    stage outputs, folders holding them and params.yaml."""
    files = tracked_files()
    found = set()
    for token in shlex.split(cmd):
        if token.startswith("-"):
            token = token.split("=", 1)[1] if "=" in token else ""
        token = os.path.normpath(token) if token else ""
        if not token or token.startswith("..") or os.path.isabs(token) or token == PARAMS_FILE:
            continue
        # An output, or a folder outputs are written to (`--data data`): not a repository input.
        if any(covered(token, [o]) or covered(o, [token]) for o in outs):
            continue
        found |= {f for f in files if f == token or f.startswith(token + "/")}
    return found


def covered(path: str, deps) -> bool:
    return any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps)


def required_inputs(stage: dict, all_outs: set[str]) -> set[str]:
    script = stage_script(stage["cmd"])
    need = {p.relative_to(REPO).as_posix() for p in reached_modules(script)}
    for module in sorted(need):
        need |= set(READS.get(module, {}))
    return need | named_repo_files(stage["cmd"], all_outs)


def _ids():
    return sorted(dvc_stages())


@pytest.fixture(scope="module")
def stages():
    return dvc_stages()


@pytest.mark.parametrize("name", _ids())
def test_deps_cover_the_code_the_stage_runs(stages, name):
    all_outs = {o for s in stages.values() for o in s["outs"]}
    stage = stages[name]
    missing = sorted(p for p in required_inputs(stage, all_outs) if not covered(p, stage["deps"]))
    assert not missing, f"dvc.yaml stage {name} runs or reads these but does not list them in deps: {missing}"


@pytest.mark.parametrize("name", _ids())
def test_deps_exist_or_are_produced(stages, name):
    """A dep that is neither in the repository nor an output of a stage is a typo or a stale path
    (e.g. a moved script): DVC would refuse to run the stage."""
    all_outs = {o for s in stages.values() for o in s["outs"]}
    stale = [d for d in stages[name]["deps"]
             if not (REPO / d).exists() and not any(covered(d, [o]) for o in all_outs)]
    assert not stale, f"dvc.yaml stage {name} depends on paths that do not exist: {stale}"


def test_no_stage_depends_on_the_whole_params_file(stages):
    whole = sorted(n for n, s in stages.items() if PARAMS_FILE in s["deps"])
    assert not whole, f"stages list {PARAMS_FILE} in deps (use `params:` keys instead): {whole}"


def test_reads_table_is_current():
    for module, reads in READS.items():
        source = (REPO / module).read_text(encoding="utf-8")
        for path, marker in reads.items():
            assert (REPO / path).is_file(), f"{module} is listed as reading {path}, which does not exist"
            assert marker in source, f"{module} no longer mentions {marker!r}: update READS"


def test_walker_follows_function_level_relative_and_package_imports(tmp_path, monkeypatch):
    """The walker itself: a lazy import in a function, a relative import, a package's __init__."""
    pkg = tmp_path / "src" / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from .inner import thing\n")
    (pkg / "sub" / "inner.py").write_text("thing = 1\n")
    (pkg / "lazy.py").write_text("def f():\n    from .sub import thing\n    return thing\n")
    (pkg / "unused.py").write_text("")
    stages_dir = tmp_path / "stages"
    stages_dir.mkdir()
    (stages_dir / "_common.py").write_text("")
    (stages_dir / "s.py").write_text("from _common import x\n\ndef main():\n    import tinykd.lazy\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path / "src")
    monkeypatch.setattr(sys.modules[__name__], "STAGES_DIR", stages_dir)
    reached_modules.cache_clear()
    try:
        got = {p.relative_to(tmp_path).as_posix() for p in reached_modules(stages_dir / "s.py")}
    finally:
        reached_modules.cache_clear()
    assert got == {"stages/s.py", "stages/_common.py", "src/tinykd/__init__.py", "src/tinykd/lazy.py",
                   "src/tinykd/sub/__init__.py", "src/tinykd/sub/inner.py"}
