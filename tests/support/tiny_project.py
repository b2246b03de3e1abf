"""A throw-away copy of the pipeline (git + DVC repository) on tiny data, for the experiment, sweep,
report and live tests: tiny MNIST-format images, the tiny_cnn architecture, 1 epoch everywhere."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COPY = ["dvc.yaml", ".dvcignore", ".gitignore", "stages", "workflow", "src", "sweeps", "presets", "firmware"]
GIT = ["git", "-c", "user.name=tinykd", "-c", "user.email=tinykd@localhost"]


def have_device_tools() -> bool:
    return bool(shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm"))


def tiny_params(dataset_dir: Path, **sections) -> dict:
    """The shipped params.yaml (same keys) on a tiny MNIST-format dataset, 1 epoch, tiny models."""
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["seed"] = 11
    p["dataset"].update(name="mnist", source=str(dataset_dir), sha256="", val_split=0.1, limit_train=0, limit_test=0)
    # Large learning rates so one short epoch moves the models off chance; the teacher's differs
    # from the student's so that teacher and baseline are different models.
    p["teacher"].update(source="train", arch="tiny_cnn", epochs=1, batch_size=16, learning_rate=0.03, augment=False)
    p["student"].update(arch="tiny_cnn", epochs=1, batch_size=16, learning_rate=0.01, augment=False)
    p["kd"].update(epochs=1, batch_size=16, learning_rate=0.01, alpha=0.4, temperature=3.0, augment=False)
    p["quantize"]["representative_samples"] = 16
    p.setdefault("evaluate", {})["samples"] = 12
    p["sweep"] = {"temperatures": [1, 4], "alphas": [0.5, 0.9], "teacher_epochs": [1, 2]}
    for section, values in sections.items():
        p.setdefault(section, {}).update(values)
    return p


def run(cmd: list[str], cwd: Path, env: dict, timeout: int = 1200, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n" \
                                     f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def make_project(dest: Path, params: dict, env: dict) -> Path:
    """Copy the pipeline into `dest`, write `params`, and make the first git commit (DVC initialised)."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.o", "*.d", "*.elf", "*.map", "*.bin", "build")
    for name in COPY:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.is_file():
            shutil.copy2(src, dest / name)
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["git", "init", "-q"], dest, env)
    run(["dvc", "init", "-q"], dest, env)
    run(["dvc", "config", "core.analytics", "false"], dest, env)
    commit(dest, env, "pipeline")
    return dest


def commit(project: Path, env: dict, message: str) -> str:
    run(["git", "add", "-A"], project, env)
    run([*GIT, "commit", "-qm", message, "--allow-empty"], project, env)
    return run(["git", "rev-parse", "HEAD"], project, env).stdout.strip()
