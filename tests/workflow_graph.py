"""Both pipeline descriptions as plain data, for comparing dvc.yaml with the Snakefile.

Each stage/job becomes {"cmd", "deps", "outs", "params", "log"}. Folder dependencies are expanded
to the files under them (byte-code caches excluded) so a folder in one file and its files in the
other compare equal. Run as a script it prints the Snakemake side as JSON (Snakemake sets up
global logging, so the tests call it in a subprocess).
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path


def _expand(root: Path, paths) -> list[str]:
    out = set()
    for p in paths:
        p = os.path.normpath(str(p))
        full = root / p
        if full.is_dir():
            for f in full.rglob("*"):
                if f.is_file() and "__pycache__" not in f.parts and f.suffix != ".pyc":
                    out.add(f.relative_to(root).as_posix())
        else:
            out.add(Path(p).as_posix())
    return sorted(out)


def _norm_cmd(cmd: str) -> str:
    return " ".join(cmd.split())


def dvc_stages(root: Path) -> dict[str, dict]:
    from dvc.repo import Repo

    stages = {}
    with Repo(str(root)) as repo:
        for stage in repo.index.stages:
            if not getattr(stage, "cmd", None):
                continue
            params, deps = [], []
            for dep in stage.deps:
                if hasattr(dep, "params"):
                    params += list(dep.params)
                else:
                    deps.append(os.path.relpath(dep.fs_path, root))
            stages[stage.addressing] = {
                "cmd": _norm_cmd(stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd)),
                "deps": _expand(root, deps),
                "outs": sorted(os.path.normpath(os.path.relpath(o.fs_path, root)) for o in stage.outs),
                "params": sorted(params),
            }
    return stages


_LOG_REDIRECT = re.compile(r"\s*(?:&>|>|2>|>>)\s*(?P<log>\S+)(?:\s+2>&1)?\s*$")


def snakemake_jobs(root: Path) -> list[dict]:
    """All jobs of the default target with every output forced (one per rule and wildcard set)."""
    import snakemake.api as api
    from snakemake.settings.types import (ConfigSettings, DAGSettings, OutputSettings, ResourceSettings,
                                          StorageSettings)

    cwd = os.getcwd()
    try:
        with api.SnakemakeApi(OutputSettings()) as sm:
            wf = sm.workflow(resource_settings=ResourceSettings(), config_settings=ConfigSettings(),
                             storage_settings=StorageSettings(), snakefile=root / "workflow" / "Snakefile",
                             workdir=root)
            dag_api = wf.dag(DAGSettings(forceall=True))
            workflow = dag_api.workflow_api._workflow
            workflow._prepare_dag(forceall=True, ignore_incomplete=True, lock_warn_only=True, nolock=True)
            workflow._build_dag()
            jobs = []
            for job in workflow.dag.jobs:
                cmd = job.shellcmd
                logs = [str(p) for p in job.log]
                if cmd:
                    m = _LOG_REDIRECT.search(cmd)
                    if m and m.group("log") in logs:
                        cmd = cmd[: m.start()]
                jobs.append({
                    "rule": job.rule.name,
                    "cmd": _norm_cmd(cmd) if cmd else None,
                    "deps": _expand(root, [str(p) for p in job.input]),
                    "outs": sorted(os.path.normpath(str(p)) for p in job.output),
                    "params": sorted(k.replace("__", ".") for k in job.params.keys()),
                    "log": logs,
                })
            return jobs
    finally:
        os.chdir(cwd)


if __name__ == "__main__":
    print(json.dumps(snakemake_jobs(Path(sys.argv[1]).resolve())))
