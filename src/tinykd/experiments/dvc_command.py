"""Running the dvc command (`dvc exp run`, `dvc queue ...`, `dvc exp show`) for presets and sweeps."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ..errors import TinykdError

NOT_FOUND = "dvc is not on PATH: activate the venv (.venv/bin) or `pip install dvc`"


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
        proc = subprocess.run([binary(), *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise TinykdError(NOT_FOUND) from None
    if check and proc.returncode != 0:
        last = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or ["(no output)"]
        raise TinykdError(f"`dvc {' '.join(args)}` failed: {last[0]}")
    return proc


def call(args: list[str], **kwargs) -> int:
    """`dvc ARGS` with the caller's streams (subprocess.call's keywords); its exit code."""
    try:
        return subprocess.call([binary(), *args], **kwargs)
    except FileNotFoundError:
        raise TinykdError(NOT_FOUND) from None
