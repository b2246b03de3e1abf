"""Finding the dvc command (for presets and sweeps, which run `dvc exp ...`)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path


def dvc_binary() -> str:
    """dvc from PATH, else the one installed beside this Python (the venv's)."""
    found = shutil.which("dvc")
    if found:
        return found
    beside = Path(sys.executable).parent / "dvc"
    return str(beside) if beside.is_file() else "dvc"
