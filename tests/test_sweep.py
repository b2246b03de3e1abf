"""Sweeps: the grid/course/ESKD point lists, reading `dvc exp show --json`, the table and figures;
then a real 2x2 sweep on tiny data through `dvc exp run --queue` + `dvc queue start`, and the same
grid under Snakemake (`snakemake sweep`), each in the tiny trained project."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from support import tiny_project as tp
from tinykd.errors import ParamError
from tinykd.experiments import collect, derive, queue
from tinykd.experiments import points as sweep_points
from tinykd.report import sweep as sweep_report


def test_grid_is_the_course_grid():
    grid = sweep_points.grid_points(sweep_points.GRID_TEMPERATURES, sweep_points.GRID_ALPHAS)
    assert len(grid) == 30
    pairs = {(dict(p.sets)["kd.temperature"], dict(p.sets)["kd.alpha"]) for p in grid}
    assert pairs == {(t, a) for t in (1, 2, 4, 16, 32, 64) for a in (0.1, 0.3, 0.5, 0.7, 0.9)}
    assert len({p.name for p in grid}) == 30
    assert "grid-T16-a0.3" in {p.name for p in grid}


def test_course_cases_include_alpha_one_zero_and_the_final_choice():
    pairs = {(dict(p.sets)["kd.alpha"], dict(p.sets)["kd.temperature"]) for p in sweep_points.course_points()}
    assert any(a == 1.0 for a, _ in pairs) and any(a == 0.0 for a, _ in pairs)
    assert (0.4, 3.0) in pairs and (0.5, 4.0) in pairs
    assert all(p.note for p in sweep_points.course_points())


def test_queue_command_and_preset_keys_do_not_override_the_point():
    point = sweep_points.grid_points([4], [0.5])[0]
    cmd = queue.queue_command(point, ["quantize@student"], ["-S", "kd.alpha=0.9", "-S", "student.epochs=3"])
    assert cmd == ["exp", "run", "--queue", "-n", "grid-T4-a0.5", "-S", "student.epochs=3",
                   "-S", "kd.alpha=0.5", "-S", "kd.temperature=4.0", "quantize@student"]
    eskd = sweep_points.eskd_points([1, 5])
    assert [p.name for p in eskd] == ["eskd-k1", "eskd-k5"] and dict(eskd[1].sets) == {"teacher.epochs": 5}


@pytest.mark.parametrize("temps, alphas, key", [([0], [0.5], "kd.temperature"), ([2], [1.5], "kd.alpha"),
                                                ([2], [-0.1], "kd.alpha")])
def test_bad_grid_values_name_the_key(temps, alphas, key):
    with pytest.raises(ParamError, match=key):
        sweep_points.grid_points(temps, alphas)


def test_parse_numbers_names_the_option():
    assert sweep_points.parse_numbers("1, 2,4", "--temperatures") == [1.0, 2.0, 4.0]
    with pytest.raises(ParamError, match="--alphas"):
        sweep_points.parse_numbers("0.1,x", "--alphas")


def _exp(name, alpha, temp, acc, int8, error=None):
    return {"name": name, "revs": [{"rev": "0123456789abcdef", "name": name, "error": error, "data": {
        "params": {"params.yaml": {"data": {"kd": {"alpha": alpha, "temperature": temp}, "teacher": {"epochs": 3}}}},
        "metrics": {"metrics/distill.json": {"data": {"test_accuracy": acc}},
                    "metrics/device.json": {"data": {"accuracy": 0.33}},
                    "metrics/quantize_student.json": {"data": {"int8_accuracy": int8}},
                    "metrics/baseline.json": {"error": {"type": "FileNotFoundError"}}}}}]}


def test_rows_from_exp_show_filters_and_sorts():
    show = [{"rev": "workspace", "experiments": None},
            {"rev": "abc", "experiments": [_exp("grid-T4-a0.9", 0.9, 4.0, 0.7, 0.69),
                                           _exp("grid-T1-a0.9", 0.9, 1.0, 0.6, 0.61),
                                           _exp("other", 0.5, 1.0, 0.1, 0.1),
                                           _exp("grid-bad", 0.1, 1.0, None, None, error={"msg": "failed"})]}]
    rows = collect.rows_from_exp_show(show, prefix="grid")
    assert [r.name for r in rows] == ["grid-T1-a0.9", "grid-T4-a0.9"]
    assert rows[1].params == {"alpha": 0.9, "temperature": 4.0, "teacher_epochs": 3}
    assert rows[1].metrics["student_accuracy"] == 0.7 and rows[1].metrics["student_int8_accuracy"] == 0.69
    assert rows[1].metrics["baseline_accuracy"] is None and rows[1].rev == "0123456"
    # device.json is the parent commit's unless the experiments ran evaluate.
    assert rows[1].metrics["device_accuracy"] is None
    assert collect.rows_from_exp_show(show, prefix="grid", device=True)[1].metrics["device_accuracy"] == 0.33


def test_table_and_figures_are_reproducible(tmp_path):
    rows = [{"name": f"grid-T{t:g}-a{a:g}", "alpha": a, "temperature": t, "student_accuracy": 0.5 + a / 10 + t / 100,
             "baseline_accuracy": 0.55} for a in (0.1, 0.5) for t in (1.0, 4.0, 16.0)]
    first = sweep_report.write_all(rows, tmp_path / "a")
    second = sweep_report.write_all(rows, tmp_path / "b")
    names = sorted(p.name for p in first)
    assert names == ["accuracy_vs_T.png", "accuracy_vs_T.svg", "heatmap.png", "heatmap.svg", "results.csv",
                     "results.md"]
    for p, q in zip(first, second):
        assert p.read_bytes() == q.read_bytes(), p.name
    table = list(csv.DictReader(open(tmp_path / "a" / "results.csv")))
    assert len(table) == 6 and table[0]["student_accuracy"] == "0.5200"
    assert "| grid-T16-a0.5 | 0.5 | 16 |" in (tmp_path / "a" / "results.md").read_text()
    eskd = [{"name": f"eskd-k{k}", "teacher_epochs": k, "alpha": 0.5, "temperature": 4.0,
             "student_accuracy": 0.5 + k / 100, "teacher_accuracy": 0.6 + k / 50} for k in (1, 2, 5)]
    written = {p.name for p in sweep_report.write_all(eskd, tmp_path / "eskd")}
    assert "accuracy_vs_teacher_epochs.png" in written and "heatmap.png" not in written


# -- real sweeps on tiny data ------------------------------------------------------------------

def _json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.slow
def test_dvc_queue_sweep_2x2(trained_project, tool_env):
    proj = trained_project
    teacher_before = (proj / "models" / "teacher.keras").read_bytes()
    out = tp.run(["tinykd", "sweep", "queue", "grid", "--temperatures", "1,4", "--alphas", "0.5,0.9", "-j", "2",
                  "--wait", "--out", "sweeps"], proj, tool_env, timeout=1800).stdout
    assert "queued 4 experiment(s)" in out and "4/4 finished" in out, out

    show = json.loads(tp.run(["dvc", "exp", "show", "--json"], proj, tool_env).stdout)
    exps = {e["name"]: e["revs"][0]["data"] for c in show for e in (c.get("experiments") or [])}
    assert {f"grid-T{t}-a{a}" for t in (1, 4) for a in (0.5, 0.9)} <= set(exps)
    table = {r["name"]: r for r in csv.DictReader(open(proj / "sweeps" / "results.csv"))}
    assert len(table) == 4
    for t in (1, 4):
        for a in (0.5, 0.9):
            name = f"grid-T{t}-a{a}"
            distill = exps[name]["metrics"]["metrics/distill.json"]["data"]
            # The override reached the stage: the distill metrics record the point's alpha and T.
            assert (distill["alpha"], distill["temperature"]) == (a, float(t))
            quant = exps[name]["metrics"]["metrics/quantize_student.json"]["data"]
            row = table[name]
            assert float(row["alpha"]) == a and float(row["temperature"]) == t
            assert row["student_accuracy"] == f"{distill['test_accuracy']:.4f}"
            assert row["student_int8_accuracy"] == f"{quant['int8_accuracy']:.4f}"
            # Teacher and data came from the cache: the experiment ran distill and quantize only.
            log = tp.run(["dvc", "queue", "logs", name], proj, tool_env).stdout
            assert "Running stage 'teacher'" not in log and "Running stage 'distill'" in log, log[-2000:]
    for fig in ("accuracy_vs_T.png", "accuracy_vs_T.svg", "heatmap.png", "heatmap.svg"):
        assert (proj / "sweeps" / fig).stat().st_size > 1000, fig
    assert (proj / "models" / "teacher.keras").read_bytes() == teacher_before

    # The report picks the sweep up when sweeps/results.csv exists.
    tp.run(["python", "stages/report.py", "--out", "reports_sweep"], proj, tool_env)
    report = (proj / "reports_sweep" / "report.md").read_text()
    assert "## KD sweep" in report and "grid-T4-a0.9" in report
    assert (proj / "reports_sweep" / "sweep_accuracy_vs_T.png").is_file()


@pytest.mark.slow
def test_snakemake_sweep_2x2(snakemake_grid):
    proj, grid = snakemake_grid["project"], snakemake_grid["grid"]
    teacher = proj / "models" / "teacher.keras"
    points = sorted(p.name for p in grid.iterdir() if p.is_dir())
    assert points == ["T1-a0.5", "T1-a0.9", "T4-a0.5", "T4-a0.9"]
    table = {r["name"]: r for r in csv.DictReader(open(grid / "results.csv"))}
    for name in points:
        d = _json(grid / name / "distill.json")
        q = _json(grid / name / "quantize.json")
        t, a = name[1:].split("-a")
        assert (d["alpha"], d["temperature"]) == (float(a), float(t))
        assert (grid / name / "student_int8.tflite").stat().st_size == q["tflite_bytes"]
        assert table[name]["student_accuracy"] == f"{d['test_accuracy']:.4f}"
        assert table[name]["baseline_accuracy"] == f"{_json(proj / 'metrics' / 'baseline.json')['test_accuracy']:.4f}"
    for fig in ("accuracy_vs_T.png", "heatmap.svg"):
        assert (grid / fig).stat().st_size > 1000
    # The grid reused the pipeline's teacher instead of training its own.
    assert teacher.read_bytes() == snakemake_grid["teacher_bytes"]
    assert teacher.stat().st_mtime_ns == snakemake_grid["teacher_mtime"]
    assert not os.path.exists(proj / "logs" / "teacher.log")


def test_derive_params_and_point_folders(tmp_path):
    import yaml

    repo = Path(__file__).resolve().parents[1]
    point = tmp_path / "grid" / "T4-a0.5"
    derive.derive_params(repo / "params.yaml", ["kd.temperature=4", "kd.alpha=0.5"], point / "params.yaml")
    derived = yaml.safe_load((point / "params.yaml").read_text())
    shipped = yaml.safe_load((repo / "params.yaml").read_text())
    assert derived["kd"]["temperature"] == 4 and derived["kd"]["alpha"] == 0.5
    assert {k: v for k, v in derived.items() if k != "kd"} == {k: v for k, v in shipped.items() if k != "kd"}
    with pytest.raises(ParamError, match="kd.alpha"):
        derive.derive_params(repo / "params.yaml", ["kd.alpha=7"], tmp_path / "bad.yaml")
    with pytest.raises(ParamError, match="key=value"):
        derive.derive_params(repo / "params.yaml", ["kd.alpha"], tmp_path / "bad.yaml")
    assert not (tmp_path / "bad.yaml").exists()
    (point / "distill.json").write_text(json.dumps({"test_accuracy": 0.75}))
    (point / "quantize.json").write_text(json.dumps({"int8_accuracy": 0.74}))
    (tmp_path / "baseline.json").write_text(json.dumps({"test_accuracy": 0.7}))
    rows = collect.rows_from_point_dirs(tmp_path / "grid", baseline_metrics=tmp_path / "baseline.json")
    assert [r.as_dict()["student_accuracy"] for r in rows] == [0.75]
    assert rows[0].as_dict()["baseline_accuracy"] == 0.7 and rows[0].params["temperature"] == 4
