"""The report stage: generated from a tiny run it holds the numbers that run produced (and no device
numbers when there are none), its bytes are reproducible, and `dvc plots show` renders the plots."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from support import tiny_project as tp
from tinykd.report import build_report
from tinykd.report.collect import read_confusion
from tinykd.report.markdown import nbytes, pct


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.slow
def test_report_holds_the_runs_metrics(trained_project):
    proj = trained_project
    out = proj / "reports"
    report = (out / "report.md").read_text()
    for name in ("accuracy", "training_curves"):
        for fmt in ("png", "svg"):
            assert (out / f"{name}.{fmt}").stat().st_size > 1000, f"{name}.{fmt}"
        assert f"![{name.replace('_', ' ')}]({name}.png)" in report
    m = proj / "metrics"
    info = _json(proj / "data" / "dataset.json")
    assert f"{info['counts']['train']} training, {info['counts']['val']} validation and {info['counts']['test']} test" \
        in report
    for model in ("teacher", "baseline", "student"):
        q = _json(m / f"quantize_{model}.json")
        assert pct(q["float_accuracy"]) in report and pct(q["int8_accuracy"]) in report
        assert nbytes(q["tflite_bytes"]) in report and nbytes(q["keras_bytes"]) in report
        assert f"{q['keras_bytes'] / q['tflite_bytes']:.2f}x" in report
    distill = _json(m / "distill.json")
    assert f"alpha = {distill['alpha']}" in report and f"T = {distill['temperature']}" in report
    if not tp.have_device_tools():
        pytest.skip("no arm-none-eabi-gcc/qemu-system-arm: the device half of the report is not produced here")
    fp = _json(m / "footprint.json")
    assert nbytes(fp["models"]["student"]["arena_bytes"]) in report
    assert "Students that fit the board: student without KD (baseline), distilled student." in report
    dev, base = _json(m / "device.json"), _json(m / "baseline" / "device.json")
    assert f"| accuracy on the device | {pct(dev['accuracy'])} | {pct(base['accuracy'])} |" in report
    assert f"| outputs bit-exact with the host | {pct(dev['bit_exact'])} | {pct(base['bit_exact'])} |" in report
    unit = dev["latency_unit"]
    assert (f"| latency, median ({unit}) | {dev[f'latency_{unit}_median']:,} | "
            f"{base[f'latency_{unit}_median']:,} |") in report
    gain = 100 * (dev["accuracy"] - base["accuracy"])
    assert f"knowledge distillation changes int8 top-1 accuracy by **{gain:+.2f} points**" in report
    assert f"{dev['samples']} test images" in report
    assert "Not available" not in report
    # The confusion figure counts every evaluated image.
    names, counts = read_confusion(proj / "plots" / "device" / "confusion.csv")
    assert sum(map(sum, counts)) == dev["samples"]
    assert (out / "confusion_matrix.png").stat().st_size > 1000 and (out / "footprint.svg").is_file()


@pytest.mark.slow
def test_report_without_device_results_says_so(trained_project, tmp_path):
    metrics = tmp_path / "metrics"
    shutil.copytree(trained_project / "metrics", metrics)
    for name in ("device.json", "firmware.json"):
        (metrics / name).unlink(missing_ok=True)
    inp = build_report(tmp_path / "out", metrics_dir=metrics, live_dir=trained_project / "dvclive",
                       device_plots=tmp_path / "no_plots", dataset_json=trained_project / "data" / "dataset.json",
                       sweep_dir=tmp_path / "no_sweep")
    report = (tmp_path / "out" / "report.md").read_text()
    assert "_Not available: metrics/device.json does not exist (run `dvc repro evaluate@student`)" in report
    assert "| accuracy on the device" not in report and "| latency" not in report
    assert str(metrics / "device.json") in inp.missing
    assert not (tmp_path / "out" / "confusion_matrix.png").exists()
    q = _json(metrics / "quantize_student.json")
    assert pct(q["int8_accuracy"]) in report


@pytest.mark.slow
def test_report_stage_is_reproducible(trained_project, tool_env, tmp_path):
    proj = trained_project
    tp.run(["python", "stages/report.py", "--sweep", "none", "--out", str(tmp_path / "again")], proj, tool_env)
    tp.run(["python", "stages/report.py", "--sweep", "none", "--out", str(tmp_path / "again2")], proj, tool_env)
    files = sorted(p.name for p in (tmp_path / "again").iterdir())
    assert "report.md" in files and "accuracy.svg" in files
    for name in files:
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "again2" / name).read_bytes(), name


@pytest.mark.slow
def test_dvc_plots_show_renders_declared_plots(trained_project, tool_env, tmp_path):
    proj = trained_project
    shown = json.loads(tp.run(["dvc", "plots", "show", "--json"], proj, tool_env).stdout)
    data = shown["data"]
    assert data["dvclive/distill/plots/metrics/train/accuracy.tsv"][0]["type"] == "vega"
    for fig in ("accuracy", "training_curves"):
        assert data[f"reports/{fig}.png"][0]["type"] == "image"
    # Only the optional sweep figures may be missing (no sweep has run in this project yet).
    assert {e["name"] for e in shown.get("errors") or []} <= {"sweeps/accuracy_vs_T.png", "sweeps/heatmap.png"}
    if tp.have_device_tools():
        confusion = data["plots/device/confusion.csv"][0]["content"]
        assert len(confusion["data"]["values"]) == _json(proj / "metrics" / "device.json")["samples"]
        assert data["reports/confusion_matrix.png"][0]["type"] == "image"
    tp.run(["dvc", "plots", "show", "-o", str(tmp_path / "html")], proj, tool_env)
    html = (tmp_path / "html" / "index.html").read_text()
    assert "reports_accuracy_png" in html and "dvclive/distill/plots/metrics" in html


def test_report_warns_beside_the_kd_gain_when_the_teacher_is_weak():
    from tinykd.report.collect import Inputs
    from tinykd.report.markdown import section_models

    def text(teacher_val):
        inp = Inputs(train={"teacher": {"test_accuracy": 0.725, "arch": "resnet8"},
                            "baseline": {"test_accuracy": 0.747, "val_accuracy": 0.75, "arch": "cnn_small"},
                            "student": {"test_accuracy": 0.726, "teacher_val_accuracy": teacher_val,
                                        "arch": "cnn_small"}})
        return "\n".join(section_models(inp))

    weak = text(0.73)
    assert "not clearly stronger" in weak and "73.00 %" in weak and "75.00 %" in weak
    assert "not clearly stronger" not in text(0.88)


def test_report_says_what_the_distilled_student_was_shown():
    from tinykd.report.collect import Inputs
    from tinykd.report.markdown import section_overview

    def text(**student):
        inp = Inputs(train={"student": {"alpha": 0.1, "temperature": 4.0, "teacher_outputs": "logits", **student}})
        return "\n".join(section_overview(inp))

    assert "teacher outputs: logits, on the plain training images." in text(augment=False, views=0)
    assert "on 8 cached crop + flip views per image." in text(augment=True, views=8)
    assert "on crop + flip with the teacher run on every batch." in text(augment=True, views=0)
    assert "teacher outputs: logits." in text()  # a distill.json from before augment was recorded
