"""Every stage's `deps` in dvc.yaml cover the code it runs, so editing any of it reruns the stage.

For each stage (foreach expanded by DVC itself) the script named in its `cmd` is walked with `ast`:
its imports, transitively, inside the tinykd package and stages/ (imports inside functions too,
relative imports resolved; importing a.b.c runs a/__init__.py and a/b/__init__.py, so those count).
Every module file reached, every repository file a reached module reads (READS), and every
git-tracked repository path the command names (e.g. `--firmware-src firmware`) must be covered by
a dep: the file itself or a folder above it.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from functools import lru_cache
from pathlib import Path

import pytest

from support.imports import REPO, module_file, reached_modules
from support.pipeline import dvc_stages

# Non-Python repository files that a module reads at run time, which no import reveals. Each
# entry names a string the module's source must contain, so the table cannot silently go stale.
READS = {
    "src/tinykd/params.py": {"workflow/schemas/params.schema.yaml": "params.schema.yaml"},
}

# params.yaml is tracked by DVC per key (each stage's `params:`); as a dep it would rerun every
# stage on any change.
PARAMS_FILE = "params.yaml"


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


def test_walker_follows_function_level_relative_and_package_imports(tmp_path):
    """The walker itself: a lazy import in a function, a relative import, a package's __init__;
    and, asked for module level only, not the lazy one."""
    pkg = tmp_path / "src" / "tinykd"
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

    def reached(**kw):
        got = reached_modules(stages_dir / "s.py", src=tmp_path / "src", stages=stages_dir, **kw)
        return {p.relative_to(tmp_path).as_posix() for p in got}

    assert reached() == {"stages/s.py", "stages/_common.py", "src/tinykd/__init__.py", "src/tinykd/lazy.py",
                         "src/tinykd/sub/__init__.py", "src/tinykd/sub/inner.py"}
    assert reached(module_level=True) == {"stages/s.py", "stages/_common.py"}
