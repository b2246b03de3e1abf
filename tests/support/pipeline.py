"""dvc.yaml's stages as DVC itself expands them (foreach/matrix included)."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


@lru_cache(maxsize=None)
def dvc_stages(root: Path = REPO) -> dict[str, dict]:
    """{stage name: {"cmd", "deps", "outs"}}: the command as one string, deps (params excluded)
    and outs as written in dvc.yaml, normalised."""
    from dvc.repo import Repo

    out = {}
    with Repo(str(root)) as repo:
        for stage in repo.index.stages:
            if not getattr(stage, "cmd", None):
                continue
            cmd = stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd)
            deps = [os.path.normpath(d.def_path) for d in stage.deps if not hasattr(d, "params")]
            outs = [os.path.normpath(o.def_path) for o in stage.outs]
            out[stage.name] = {"cmd": cmd, "deps": deps, "outs": outs}
    return out
