"""Course presets: each one is a valid params.yaml overlay with the course's settings; the exercise-6
model has exactly 20,410 parameters; `tinykd preset` shows, applies (keeping comments) and refuses."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tinykd import dotted
from tinykd.errors import ParamError
from tinykd.experiments import dvc_command, presets

REPO = Path(__file__).resolve().parents[1]


def test_every_preset_validates_against_the_schema():
    assert {"ex6", "ex6_fashion", "mnist_kd", "eskd"} <= set(presets.names(REPO))
    for name in presets.names(REPO):
        merged = presets.merged_params(name, REPO / "params.yaml", REPO)
        assert merged["dataset"]["name"] in ("mnist", "fashion_mnist", "cifar10"), name
        assert presets.description(name, REPO), name


def test_course_kd_preset_keeps_the_notebook_setting():
    course = presets.merged_params("course_kd", REPO / "params.yaml", REPO)
    assert (course["kd"]["alpha"], course["kd"]["temperature"], course["kd"]["teacher_outputs"]) == (0.4, 3.0, "probs")
    assert course["kd"]["augment"] is False and course["student"]["augment"] is False


def test_course_settings():
    ex6 = presets.merged_params("ex6", REPO / "params.yaml", REPO)
    assert ex6["student"]["arch"] == "ex6" and ex6["dataset"]["name"] == "mnist"
    assert presets.merged_params("ex6_fashion", REPO / "params.yaml", REPO)["dataset"]["name"] == "fashion_mnist"
    kd = presets.merged_params("mnist_kd", REPO / "params.yaml", REPO)
    assert kd["teacher"]["arch"] == "mnist_cnn_teacher" and kd["student"]["arch"] == "mlp_784"
    assert kd["kd"]["epochs"] == kd["student"]["epochs"] == 12
    assert (kd["kd"]["alpha"], kd["kd"]["temperature"]) == (0.5, 4.0)
    eskd = presets.merged_params("eskd", REPO / "params.yaml", REPO)
    assert eskd["sweep"]["teacher_epochs"] == sorted(eskd["sweep"]["teacher_epochs"]) and \
        len(eskd["sweep"]["teacher_epochs"]) >= 3


def test_exercise6_has_20410_parameters():
    from tinykd import models

    for shape in ((28, 28, 1),):
        assert models.build("ex6", shape, 10).count_params() == 20410


def test_course_mnist_models():
    from tinykd import models

    assert models.build("mlp_784", (28, 28, 1), 10).count_params() == 784 * 784 + 784 + 784 * 10 + 10
    teacher = models.build("mnist_cnn_teacher", (28, 28, 1), 10)
    assert [layer.__class__.__name__ for layer in teacher.layers].count("Dropout") == 2


def test_show_prints_dvc_exp_run(tmp_path):
    cmd = presets.exp_command("mnist_kd", root=REPO)
    assert cmd[:5] == ["dvc", "exp", "run", "-n", "mnist_kd"]
    pairs = dict(cmd[i + 1].split("=", 1) for i, a in enumerate(cmd) if a == "-S")
    assert pairs["student.arch"] == "mlp_784" and pairs["kd.temperature"] == "4.0" and pairs["dataset.source"] == '""'


def _project(tmp_path: Path) -> Path:
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    shutil.copytree(REPO / "presets", tmp_path / "presets")
    (tmp_path / "workflow" / "schemas").mkdir(parents=True)
    shutil.copy(REPO / "workflow" / "schemas" / "params.schema.yaml", tmp_path / "workflow" / "schemas")
    return tmp_path


def test_apply_changes_only_the_preset_keys_and_keeps_comments(tmp_path):
    proj = _project(tmp_path)
    before = yaml.safe_load((proj / "params.yaml").read_text())
    changed = presets.apply("mnist_kd", proj / "params.yaml", proj)
    text = (proj / "params.yaml").read_text()
    after = yaml.safe_load(text)
    assert "# weight of the hard-label loss" in text  # a comment of the shipped params.yaml
    assert after["student"]["arch"] == "mlp_784" and after["kd"]["temperature"] == 4.0
    assert "student.arch" in changed
    for section in after:
        for key in after[section] if isinstance(after[section], dict) else []:
            if f"{section}.{key}" not in dict(dotted.flatten(presets.load("mnist_kd", proj))):
                assert after[section][key] == before[section][key], (section, key)


def test_bad_preset_is_one_clear_line(tmp_path):
    proj = _project(tmp_path)
    (proj / "presets" / "broken.yaml").write_text("kd:\n  alpha: 3\n")
    with pytest.raises(ParamError, match=r"kd\.alpha \(preset broken\)"):
        presets.merged_params("broken", proj / "params.yaml", proj)
    before = (proj / "params.yaml").read_text()
    proc = subprocess.run([sys.executable, "-m", "tinykd.cli", "preset", "--root", str(proj), "apply", "broken",
                           "--params", str(proj / "params.yaml")], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: params: kd.alpha (preset broken) = 3 is not allowed; expected a number >= 0 and <= 1"]
    assert (proj / "params.yaml").read_text() == before
    proc = subprocess.run([sys.executable, "-m", "tinykd.cli", "preset", "--root", str(proj), "show", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "preset = 'nope'" in proc.stderr and "ex6" in proc.stderr


@pytest.mark.parametrize("rc, report", [(0, True), (1, True), (0, False)])
def test_run_says_where_the_report_is_after_a_whole_run(rc, report, tmp_path, monkeypatch, capsys):
    from tinykd.cli import main

    project = _project(tmp_path)
    shutil.copy(REPO / "dvc.yaml", project / "dvc.yaml")
    if report:
        (project / "reports").mkdir()
        (project / "reports" / "report.md").write_text("# report\n")
    calls = []
    monkeypatch.setattr(dvc_command.subprocess, "call", lambda cmd, **kw: calls.append(cmd) or rc)
    monkeypatch.chdir(project)
    assert main(["preset", "run", "quick"]) == rc
    assert calls[0][1:5] == ["exp", "run", "-n", "quick"] and "dataset.limit_train=5000" in calls[0]
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert (last == f"preset quick: report in {project.resolve() / 'reports' / 'report.md'}") == (rc == 0 and report)
