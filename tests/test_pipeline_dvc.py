"""End to end: `dvc repro` of fetch -> teacher -> baseline -> distill -> quantize on tiny data in a
temporary git repository; minimal reruns after a kd.alpha change; byte-identical forced reruns."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from support import tiny_datasets as td

REPO = Path(__file__).resolve().parents[1]
STAGES = ["fetch", "teacher", "baseline", "distill", "quantize@teacher", "quantize@baseline", "quantize@student"]
COPY = ["dvc.yaml", ".dvcignore", "stages", "workflow", "src"]

pytestmark = pytest.mark.slow


def tiny_params(dataset: Path) -> dict:
    """The shipped params.yaml with a small dataset, 1 epoch and a tiny teacher (same keys)."""
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["seed"] = 7
    p["dataset"].update(name="cifar10", source=str(dataset), sha256="", val_split=0.1, limit_train=0, limit_test=0)
    p["teacher"].update(source="train", arch="tiny_cnn", epochs=1, batch_size=32, augment=True)
    p["student"].update(epochs=1, batch_size=32)
    p["kd"].update(epochs=1, batch_size=32, alpha=0.4)
    p["quantize"]["representative_samples"] = 16
    return p


def run(cmd: list[str], cwd: Path, env: dict, timeout: int = 900) -> str:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


def dvc_status(project: Path, env: dict) -> dict:
    return json.loads(run(["dvc", "status", "--json", *STAGES], project, env))


@pytest.fixture(scope="module")
def project(tmp_path_factory, tool_env):
    """A temporary git + DVC repository holding the pipeline, after one full `dvc repro`."""
    root = tmp_path_factory.mktemp("pipeline")
    data = td.write_cifar10_tarball(root / "cifar-10-python.tar.gz", n_train=300, n_test=100)
    proj = root / "proj"
    proj.mkdir()
    for name in COPY:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, proj / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(src, proj / name)
    (proj / "params.yaml").write_text(yaml.safe_dump(tiny_params(data), sort_keys=False))
    (proj / ".gitignore").write_text("/data/\n/models/\n/metrics/\n/dvclive/\n/logs/\n")
    run(["git", "init", "-q"], proj, tool_env)
    run(["dvc", "init", "-q"], proj, tool_env)
    run(["dvc", "config", "core.analytics", "false"], proj, tool_env)
    run(["git", "add", "-A"], proj, tool_env)
    run(["git", "-c", "user.name=tinykd", "-c", "user.email=tinykd@localhost", "commit", "-qm", "pipeline"],
        proj, tool_env)
    run(["dvc", "repro", *STAGES], proj, tool_env)
    return proj


def test_repro_produces_every_output(project):
    for path in ["data/train.npz", "data/val.npz", "data/test.npz", "data/dataset.json",
                 "models/teacher.keras", "models/baseline.keras", "models/student.keras",
                 "models/teacher_int8.tflite", "models/baseline_int8.tflite", "models/student_int8.tflite"]:
        assert (project / path).stat().st_size > 0, path
    info = json.loads((project / "data/dataset.json").read_text())
    assert info["counts"] == {"train": 270, "val": 30, "test": 100}
    distill = json.loads((project / "metrics/distill.json").read_text())
    for key in ("test_accuracy", "test_hard_loss", "test_soft_loss", "test_kd_loss"):
        assert isinstance(distill[key], float), key
    assert distill["test_kd_loss"] == pytest.approx(
        0.4 * distill["test_hard_loss"] + 0.6 * distill["test_soft_loss"], abs=2e-6)
    # The shipped kd.augment: auto distills cnn_small on the plain images (models.DISTILL_AUGMENT).
    assert distill["augment"] is False and distill["views"] == 0
    q = json.loads((project / "metrics/quantize_student.json").read_text())
    assert q["tflite_bytes"] == (project / "models/student_int8.tflite").stat().st_size
    assert q["params"] == distill["params"] and q["input_zero_point"] == -128
    assert 0.0 <= q["int8_accuracy"] <= 1.0 and q["test_samples"] == 100
    assert abs(q["float_accuracy"] - q["int8_accuracy"]) <= 0.1
    teacher = json.loads((project / "metrics/teacher.json").read_text())
    assert teacher["arch"] == "tiny_cnn" and teacher["ends_in_softmax"] is False
    # DVCLive curves: one row per epoch, no timestamps (they would break byte-identical reruns).
    loss = (project / "dvclive/distill/plots/metrics/train/soft_loss.tsv").read_text().splitlines()
    assert loss[0].split("\t") == ["step", "soft_loss"] and len(loss) == 2


def test_pipeline_is_up_to_date_after_repro(project, tool_env):
    assert dvc_status(project, tool_env) == {}


def test_forced_rerun_is_byte_identical(project, tool_env):
    lock_before = (project / "dvc.lock").read_bytes()
    outputs = sorted(p for d in ("models", "data", "metrics") for p in (project / d).iterdir())
    before = {p: p.read_bytes() for p in outputs}
    run(["dvc", "repro", "-f", *STAGES], project, tool_env)
    assert (project / "dvc.lock").read_bytes() == lock_before
    changed = [str(p.relative_to(project)) for p in outputs if p.read_bytes() != before[p]]
    assert not changed, changed


SMK_TARGETS = ["metrics/teacher.json", "metrics/baseline.json", "metrics/distill.json",
               "metrics/quantize_teacher.json", "metrics/quantize_baseline.json", "metrics/quantize_student.json"]


def _snakemake_plan(project: Path, env: dict) -> set[str]:
    """Outputs Snakemake would (re)make for the training targets (dry run)."""
    out = run(["snakemake", "--cores", "1", "-n", *SMK_TARGETS], project, env)
    return {p.strip() for line in out.splitlines() if line.strip().startswith("output:")
            for p in line.split("output:", 1)[1].split(",")}


def test_snakemake_reruns_only_distill_rules_after_alpha_change(project, tool_env):
    """Snakemake's params trigger: the outputs dvc made are adopted (--touch records the params
    in Snakemake's metadata without running anything), then a kd.alpha change plans distill and
    the student's quantization only. (--forceall: without it an up-to-date run records nothing.)"""
    # A copy: Snakemake marks directory outputs with a .snakemake_timestamp file, which would
    # change dvclive/* for the DVC tests sharing `project`.
    copy = project.parent / "proj_snakemake"
    shutil.copytree(project, copy, symlinks=True)
    try:
        run(["snakemake", "--cores", "1", "--touch", "--forceall", *SMK_TARGETS], copy, tool_env)
        assert _snakemake_plan(copy, tool_env) == set()
        params = copy / "params.yaml"
        p = yaml.safe_load(params.read_text())
        p["kd"]["alpha"] = 0.55 if p["kd"]["alpha"] != 0.55 else 0.45
        params.write_text(yaml.safe_dump(p, sort_keys=False))
        assert _snakemake_plan(copy, tool_env) == {
            "models/student.keras", "dvclive/distill", "metrics/distill.json",
            "models/student_int8.tflite", "metrics/quantize_student.json"}
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def test_changing_kd_alpha_reruns_only_distill_and_its_quantization(project, tool_env):
    """Runs last: it leaves the project at kd.alpha = 0.3."""
    params = project / "params.yaml"
    p = yaml.safe_load(params.read_text())
    p["kd"]["alpha"] = 0.3
    params.write_text(yaml.safe_dump(p, sort_keys=False))
    changed = dvc_status(project, tool_env)
    # quantize@student is stale only through distill's outputs, which status cannot know yet.
    assert set(changed) == {"distill"}, changed
    assert "kd.alpha" in json.dumps(changed["distill"])
    out = run(["dvc", "repro", *STAGES], project, tool_env)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"distill", "quantize@student"}, out
    assert json.loads((project / "metrics/distill.json").read_text())["alpha"] == 0.3
    assert dvc_status(project, tool_env) == {}
