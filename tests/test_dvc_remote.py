"""docs/sharing.md's workflow on a tiny DVC project: push to a remote, clone, pull, nothing reruns.

The stage's command writes a file (no training); what is checked is DVC's part: a clone that
runs `dvc pull` before `dvc repro` gets the outputs from the remote and `dvc repro` runs no stage,
and the run cache (`dvc push --run-cache`, `dvc repro --pull`) carries a result whose dvc.lock
was never committed.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

# The stage counts its own runs in a file outside the project, so "ran nothing" is observed, not
# inferred from DVC's messages.
STAGE_CMD = (
    "python -c \"import pathlib, sys; "
    "pathlib.Path('out.txt').write_text(pathlib.Path('input.txt').read_text().upper()); "
    "log = pathlib.Path(sys.argv[1]); log.write_text(log.read_text() + 'x' if log.exists() else 'x')\" "
    "${runs_log}"
)


@pytest.fixture
def env(tool_env, tmp_path) -> dict:
    """tool_env with a git identity (a fresh machine has none) and no user-level git/DVC config."""
    home = tmp_path / "home"
    home.mkdir()
    return {**tool_env, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
            "GIT_AUTHOR_NAME": "tinykd test", "GIT_AUTHOR_EMAIL": "test@tinykd.invalid",
            "GIT_COMMITTER_NAME": "tinykd test", "GIT_COMMITTER_EMAIL": "test@tinykd.invalid"}


def _run(cmd: list[str], cwd: Path, env: dict) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} in {cwd}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def _runs(log: Path) -> int:
    return len(log.read_text()) if log.exists() else 0


@pytest.fixture
def shared(tmp_path, env):
    """A git + DVC project whose one stage has run, with its outputs pushed to a local-folder remote."""
    origin, remote, log = tmp_path / "origin", tmp_path / "remote", tmp_path / "runs.log"
    origin.mkdir()
    remote.mkdir()
    _run(["git", "init", "-q"], origin, env)
    _run(["dvc", "init", "-q"], origin, env)
    _run(["dvc", "config", "core.analytics", "false"], origin, env)
    _run(["dvc", "remote", "add", "-d", "shared", str(remote)], origin, env)
    (origin / "input.txt").write_text("teacher weights\n")
    (origin / "params.yaml").write_text(f"runs_log: {log}\n")
    (origin / "dvc.yaml").write_text(
        "stages:\n  make:\n"
        f"    cmd: {json.dumps(STAGE_CMD)}\n"
        "    deps: [input.txt]\n    params: [runs_log]\n    outs: [out.txt]\n")
    _run(["dvc", "repro"], origin, env)
    assert _runs(log) == 1
    _run(["git", "add", "."], origin, env)
    _run(["git", "commit", "-q", "-m", "pipeline and its lock"], origin, env)
    _run(["dvc", "push"], origin, env)
    return {"origin": origin, "remote": remote, "log": log, "root": tmp_path}


def test_clone_pull_then_repro_runs_nothing(shared, env):
    clone = shared["root"] / "clone"
    _run(["git", "clone", "-q", str(shared["origin"]), str(clone)], shared["root"], env)
    assert not (clone / "out.txt").exists()  # outputs are not in git
    pulled = _run(["dvc", "pull"], clone, env)
    assert (clone / "out.txt").read_text() == "TEACHER WEIGHTS\n", pulled
    status = _run(["dvc", "status", "--json"], clone, env)
    assert json.loads(status or "{}") == {}, status
    lock = (clone / "dvc.lock").read_bytes()
    out = _run(["dvc", "repro"], clone, env)
    assert _runs(shared["log"]) == 1, out  # the stage did not run again
    assert "Running stage" not in out, out
    assert (clone / "dvc.lock").read_bytes() == lock


def test_run_cache_carries_an_uncommitted_result(shared, env):
    """A teammate runs a changed input and pushes with --run-cache, committing the input but not
    dvc.lock: a clone's `dvc repro --pull` restores the output from the run cache, no run."""
    origin, root = shared["origin"], shared["root"]
    (origin / "input.txt").write_text("student weights\n")
    _run(["dvc", "repro"], origin, env)
    assert _runs(shared["log"]) == 2
    _run(["git", "add", "input.txt"], origin, env)  # the input, not dvc.lock
    _run(["git", "commit", "-q", "-m", "new input"], origin, env)
    _run(["dvc", "push", "--run-cache"], origin, env)

    clone = root / "clone"
    _run(["git", "clone", "-q", str(origin), str(clone)], root, env)
    # `dvc repro --pull`, not `dvc pull --run-cache && dvc repro`: with DVC 3.67 the latter fetches
    # the run-cache entries but not their outputs, and the stage runs again.
    out = _run(["dvc", "repro", "--pull"], clone, env)
    assert _runs(shared["log"]) == 2, out  # restored from the run cache, not run
    assert "is cached - skipping run" in out, out
    assert (clone / "out.txt").read_text() == "STUDENT WEIGHTS\n"
    assert json.loads(_run(["dvc", "status", "--json"], clone, env) or "{}") == {}
