"""Comparing commits: two commits of a tiny pipeline (the exercise-6 preset on tiny MNIST, fetch ->
baseline -> quantize@baseline), then `dvc metrics diff` and `dvc params diff` between them."""
from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from support import tiny_project as tp

pytestmark = pytest.mark.slow
STAGES = ["quantize@baseline"]


@pytest.fixture(scope="module")
def two_commits(tmp_path_factory, mnist_dir, tool_env):
    proj = tp.make_project(tmp_path_factory.mktemp("commits") / "proj", tp.tiny_params(mnist_dir), tool_env)
    # The exercise-6 preset, then back to the tiny dataset and 1 epoch.
    tp.run(["tinykd", "preset", "apply", "ex6"], proj, tool_env)
    p = yaml.safe_load((proj / "params.yaml").read_text())
    p["dataset"]["source"] = str(mnist_dir)
    p["student"].update(epochs=1, batch_size=32, learning_rate=0.001)
    (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    tp.run(["dvc", "repro", *STAGES], proj, tool_env)
    first = tp.commit(proj, tool_env, "ex6, lr 0.001")
    p["student"]["learning_rate"] = 0.01
    (proj / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
    tp.run(["dvc", "repro", *STAGES], proj, tool_env)
    second = tp.commit(proj, tool_env, "ex6, lr 0.01")
    return proj, first, second


def _at(proj, rev, path):
    return json.loads(subprocess.run(["git", "show", f"{rev}:{path}"], cwd=proj, capture_output=True, text=True,
                                     check=True).stdout)


def test_exercise6_reports_20410_parameters(two_commits):
    proj, first, _ = two_commits
    for path in ("metrics/baseline.json", "metrics/quantize_baseline.json"):
        m = _at(proj, first, path)
        assert m["params"] == 20410, (path, m["params"])
    q = _at(proj, first, "metrics/quantize_baseline.json")
    assert q["input_shape"] == [1, 28, 28, 1] and q["keras_bytes"] > q["tflite_bytes"] > 20410
    assert _at(proj, first, "metrics/baseline.json")["arch"] == "ex6"


def test_metrics_diff_between_commits(two_commits, tool_env):
    proj, first, second = two_commits
    out = tp.run(["dvc", "metrics", "diff", first, second, "--all", "--json"], proj, tool_env).stdout
    diff = json.loads(out)
    base_old, base_new = _at(proj, first, "metrics/baseline.json"), _at(proj, second, "metrics/baseline.json")
    entry = diff["metrics/baseline.json"]["test_loss"]
    assert entry["old"] == base_old["test_loss"] and entry["new"] == base_new["test_loss"]
    assert base_old["test_loss"] != base_new["test_loss"]  # the learning rate changed the model
    assert entry["diff"] == pytest.approx(base_new["test_loss"] - base_old["test_loss"])
    q = diff["metrics/quantize_baseline.json"]["int8_accuracy"]
    assert q["old"] == _at(proj, first, "metrics/quantize_baseline.json")["int8_accuracy"]
    # The table form shown in the README.
    table = tp.run(["dvc", "metrics", "diff", first, second], proj, tool_env).stdout
    assert "metrics/baseline.json" in table and "test_loss" in table


def test_params_diff_between_commits(two_commits, tool_env):
    proj, first, second = two_commits
    diff = json.loads(tp.run(["dvc", "params", "diff", first, second, "--json"], proj, tool_env).stdout)
    assert list(diff) == ["params.yaml"] and list(diff["params.yaml"]) == ["student.learning_rate"]
    change = diff["params.yaml"]["student.learning_rate"]
    assert (change["old"], change["new"]) == (0.001, 0.01) and change["diff"] == pytest.approx(0.009)
    assert diff == json.loads(tp.run(["dvc", "params", "diff", "HEAD~1", "HEAD", "--json"], proj, tool_env).stdout)
