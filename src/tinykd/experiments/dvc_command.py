"""Running the dvc command (`dvc exp run`, `dvc queue ...`, `dvc exp show`) for presets and sweeps."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import TinykdError

NOT_FOUND = "dvc is not on PATH: activate the venv (.venv/bin) or `pip install dvc`"
# `dvc exp run` commits each experiment (under refs/exps) and stops with "Git user name and email
# must be configured" where git has no identity, as on a fresh Debian (scripts/check-debian.sh met
# it). Those commits get this stand-in; an identity set in git or in GIT_* variables always wins.
STAND_IN = {"name": "tinykd experiment", "email": "tinykd@localhost.invalid"}


def env(cwd: Path | None = None) -> dict[str, str]:
    """os.environ plus GIT_AUTHOR_*/GIT_COMMITTER_* stand-ins for what `git config user.*` lacks."""
    out = dict(os.environ)
    for key, value in STAND_IN.items():
        try:
            unset = subprocess.run(["git", "config", f"user.{key}"], cwd=cwd, capture_output=True).returncode != 0
        except FileNotFoundError:  # no git: dvc will say so itself
            return out
        if unset:
            for who in ("AUTHOR", "COMMITTER"):
                out.setdefault(f"GIT_{who}_{key.upper()}", value)
    return out


def binary() -> str:
    """dvc from PATH, else the one installed beside this Python (the venv's)."""
    found = shutil.which("dvc")
    if found:
        return found
    beside = Path(sys.executable).parent / "dvc"
    return str(beside) if beside.is_file() else "dvc"


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """`dvc ARGS` in `cwd`, output captured; with `check`, a failure raises its last line."""
    try:
        proc = subprocess.run([binary(), *args], cwd=cwd, capture_output=True, text=True, env=env(cwd))
    except FileNotFoundError:
        raise TinykdError(NOT_FOUND) from None
    if check and proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise TinykdError(f"`dvc {' '.join(args)}` failed: {last[0]}")
    return proc


def call(args: list[str], **kwargs) -> int:
    """`dvc ARGS` with the caller's streams (subprocess.call's keywords); its exit code."""
    try:
        return subprocess.call([binary(), *args], **{"env": env(kwargs.get("cwd")), **kwargs})
    except FileNotFoundError:
        raise TinykdError(NOT_FOUND) from None
