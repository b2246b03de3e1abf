"""Time of a no-op `dvc repro` (everything up to date) over the training stages, and of `dvc status`.

    python -m bench.dvc_noop [--project PATH] [--runs 5]

With --project, times that (already reproduced) project. Without, builds a temporary git + DVC
project holding this repository's pipeline on a tiny CIFAR-10-format archive (1 epoch), runs
`dvc repro` once to bring it up to date (not timed), then times the no-op runs.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ["fetch", "teacher", "baseline", "distill", "quantize@teacher", "quantize@baseline", "quantize@student"]


def _env():
    import os

    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def _run(cmd, cwd) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return time.perf_counter() - start


def make_project(root: Path) -> Path:
    sys.path.insert(0, str(REPO / "tests"))
    from support import tiny_datasets as td

    data = td.write_cifar10_tarball(root / "cifar-10-python.tar.gz")
    proj = root / "proj"
    proj.mkdir()
    for name in ("dvc.yaml", ".dvcignore", "stages", "workflow", "src"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, proj / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, proj / name)
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["dataset"].update(source=str(data), name="cifar10")
    p["teacher"].update(arch="tiny_cnn", epochs=1)
    p["student"]["epochs"] = p["kd"]["epochs"] = 1
    p["quantize"]["representative_samples"] = 16
    (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"],
                ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm", "bench"]):
        _run(cmd, proj)
    setup = _run(["dvc", "repro", *STAGES], proj)
    print(f"set-up: first `dvc repro` of {len(STAGES)} stages on tiny data took {setup:.1f} s (not the figure)")
    return proj


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        proj = args.project or make_project(Path(tmp))
        targets = STAGES if args.project is None else []
        repro = [_run(["dvc", "repro", *targets], proj) for _ in range(args.runs)]
        status = [_run(["dvc", "status", *targets], proj) for _ in range(args.runs)]
    print(f"no-op `dvc repro` ({args.runs} runs): median {statistics.median(repro):.2f} s, "
          f"min {min(repro):.2f} s, max {max(repro):.2f} s")
    print(f"`dvc status`      ({args.runs} runs): median {statistics.median(status):.2f} s")


if __name__ == "__main__":
    main()
