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
                    deps.append(os.path.normpath(os.path.relpath(dep.fs_path, root)))
            stages[stage.name] = {
                "cmd": _norm_cmd(stage.cmd if isinstance(stage.cmd, str) else " && ".join(stage.cmd)),
                "deps": deps,
                "outs": sorted(os.path.normpath(os.path.relpath(o.fs_path, root)) for o in stage.outs),
                "params": sorted(params),
            }
    # A folder dep also covers the outputs of other stages inside it, which need not exist yet.
    produced = {o for s in stages.values() for o in s["outs"]}
    for stage in stages.values():
        holders = {d: {o for o in produced if o.startswith(d + "/")} for d in stage["deps"]}
        kept = [d for d, inner in holders.items() if not inner or (root / d).exists()]
        stage["deps"] = _expand(root, kept + sorted(set().union(*holders.values())))
    return stages


_LOG_REDIRECT = re.compile(r"\s*(?:&>|>|2>|>>)\s*(?P<log>\S+)(?:\s+2>&1)?\s*$")


def snakemake_jobs(root: Path) -> list[dict]:
    """All jobs of the default target with every output forced (one per rule and wildcard set)."""
    import snakemake.api as api
    from snakemake.io import is_flagged
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, ResourceSettings, StorageSettings

    cwd = os.getcwd()
    try:
        with api.SnakemakeApi(OutputSettings()) as sm:
            # Two cores, as on the project's machine: training rules take both.
            wf = sm.workflow(resource_settings=ResourceSettings(cores=2), config_settings=ConfigSettings(),
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
                        cmd = cmd[: m.start()].strip()
                        # A multi-command stage runs in a subshell so one redirect covers all.
                        if cmd.startswith("( ") and cmd.endswith(" )"):
                            cmd = cmd[2:-2]
                jobs.append({
                    "rule": job.rule.name,
                    "cmd": _norm_cmd(cmd) if cmd else None,
                    "deps": _expand(root, [str(p) for p in job.input]),
                    "outs": sorted(os.path.normpath(str(p)) for p in job.output),
                    "dir_outs": sorted(os.path.normpath(str(p)) for p in job.output if is_flagged(p, "directory")),
                    "params": sorted(k.replace("__", ".") for k in job.params.keys()),
                    "log": logs,
                    "threads": job.threads,
                })
            return jobs
    finally:
        os.chdir(cwd)


if __name__ == "__main__":
    print(json.dumps(snakemake_jobs(Path(sys.argv[1]).resolve())))
