"""scripts/record_run.py: per-stage times of `repro`, and the README's Results table read from
recorded runs."""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "record_run.py"


def _module():
    spec = importlib.util.spec_from_file_location("record_run", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _record(root: Path, name: str, arch: str, teacher_source: str, teacher_sec: float, acc: float) -> Path:
    run = root / "results" / name
    m = run / "metrics"
    _write(m / "teacher.json", {"arch": "resnet9", "source": teacher_source, "params": 10, "test_accuracy": 0.9})
    _write(m / "quantize_teacher.json", {"params": 10, "float_accuracy": 0.9, "int8_accuracy": 0.89})
    for model, stage, a in (("baseline", "baseline", acc), ("student", "distill", acc + 0.02)):
        _write(m / f"{stage}.json", {"arch": arch, "params": 5, "test_accuracy": a})
        _write(m / f"quantize_{model}.json", {"params": 5, "float_accuracy": a, "int8_accuracy": a - 0.001})
    lat = {"latency_ms": 1.5, "core_hz": 80_000_000}
    _write(m / "device.json", {"accuracy": acc + 0.019, "samples": 100, **lat})
    _write(m / "baseline" / "device.json", {"accuracy": acc - 0.001, "samples": 100, **lat})
    _write(m / "firmware.json", {"flash_used": 1000})
    _write(run / "stage_times.json", {"teacher": teacher_sec, "baseline": 600, "distill": 900})
    return run


def test_table_rows_per_record_and_a_supplied_teachers_origin(tmp_path, monkeypatch):
    mod = _module()
    monkeypatch.chdir(tmp_path)
    origin = _record(tmp_path, "first", "cnn_small", "train", 3540, 0.75)
    small = _record(tmp_path, "small", "cnn_small", "results/first/models/teacher.keras", 12, 0.78)
    r8 = _record(tmp_path, "r8", "resnet8", "results/first/models/teacher.keras", 12, 0.82)
    rows = mod.table([small, r8]).splitlines()
    assert len(rows) == 2 + 5  # header, rule, teacher once, two students per record
    assert rows[2].startswith("| teacher (resnet9)") and rows[2].endswith("| 59 min (in first) |")
    assert "(resnet8)" in rows[5] and "82.00 %" in rows[5] and "83.90 % (100 images)" in rows[6]
    assert rows[3].endswith("| 10 min |") and rows[4].endswith("| 15 min |")
    assert mod.table([origin]).splitlines()[2].endswith("| 59 min |")


def _lock(run: Path, **stages) -> None:
    import yaml

    (run / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {
        name: {"cmd": name, "outs": [{"path": f"models/{name}.keras", "md5": md5}]} for name, md5 in stages.items()}}))


def test_a_cached_stage_takes_its_time_from_the_record_it_ran_in(tmp_path, monkeypatch):
    """A record whose baseline DVC took from the cache shows the time of the record that trained
    that same baseline (same output md5 in both dvc.locks), and says which; no match, no time."""
    mod = _module()
    monkeypatch.chdir(tmp_path)
    first = _record(tmp_path, "first", "resnet8", "train", 3540, 0.75)
    again = _record(tmp_path, "again", "resnet8", "results/first/models/teacher.keras", 12, 0.75)
    other = _record(tmp_path, "other", "resnet8", "results/first/models/teacher.keras", 12, 0.75)
    for run in (again, other):
        (run / "stage_times.json").write_text(json.dumps({"teacher": 12, "distill": 1380}))
    _lock(first, baseline="aa", distill="bb")
    _lock(again, baseline="aa", distill="cc")
    _lock(other, baseline="dd", distill="ee")
    rows = mod.table([again]).splitlines()
    assert rows[3].endswith("| 10 min (in first) |") and rows[4].endswith("| 23 min |")
    assert mod.table([other]).splitlines()[3].endswith("| – |")


def test_latency_at_the_recorded_clock_and_in_records_made_before_it(tmp_path, monkeypatch):
    """latency_ms with core_hz beside it; records made before (the committed ones) named it
    latency_ms_at_80mhz and render the same; records at two clocks are refused."""
    mod = _module()
    monkeypatch.chdir(tmp_path)
    new = _record(tmp_path, "new", "cnn_small", "train", 60, 0.75)
    old = _record(tmp_path, "old", "cnn_small", "train", 60, 0.75)
    for f in (old / "metrics" / "device.json", old / "metrics" / "baseline" / "device.json"):
        d = json.loads(f.read_text())
        d["latency_ms_at_80mhz"] = d.pop("latency_ms")
        del d["core_hz"]
        f.write_text(json.dumps(d))
    rows = mod.table([new]).splitlines()
    assert mod.table([old]).splitlines() == rows
    assert "| latency at 80 MHz |" in rows[0] and "| 1.5 ms |" in rows[4]
    slow = _record(tmp_path, "slow", "cnn_small", "train", 60, 0.75)
    d = json.loads((slow / "metrics" / "device.json").read_text())
    (slow / "metrics" / "device.json").write_text(json.dumps({**d, "core_hz": 48_000_000}))
    with pytest.raises(SystemExit, match="different core clocks"):
        mod.table([new, slow])


def test_a_stopped_repro_keeps_the_times_of_its_finished_stages(tmp_path):
    """`repro` writes each stage's time when the next stage starts: a run killed during stage b (a
    session's end, say) still has stage a's time in its log, and never a time for b."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "logs" / "times.json"
    # A stand-in for dvc: two stages, then, once a's time is on disk, record_run itself is killed.
    (bin_dir / "dvc").write_text(
        "#!/bin/sh\n"
        "echo \"Running stage 'a':\"\n"
        "echo \"Running stage 'b':\"\n"
        f"for i in $(seq 200); do grep -q '\"a\"' '{log}' 2>/dev/null && break; sleep 0.05; done\n"
        "kill -9 $PPID\n")
    (bin_dir / "dvc").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin"}
    r = subprocess.run([sys.executable, str(SCRIPT), "repro", "--log", str(log)], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == -9, r.stderr
    assert list(json.loads(log.read_text())) == ["a"]
    assert not list(log.parent.glob(".times.json*"))  # no temporary file left


@pytest.mark.slow
def test_kd_search_reports_validation_accuracy_reproducibly(trained_project, tool_env, tmp_path):
    """scripts/kd_search.py: one JSON line per variant, the same line for the same variant (seeded,
    teacher views cached once), and no test accuracy in what it prints."""
    script = SCRIPT.parent / "kd_search.py"
    out = tmp_path / "search.jsonl"
    variant = {"alpha": 0.3, "temperature": 2.0, "epochs": 1, "views": 2}
    r = subprocess.run([sys.executable, str(script), "--variants", json.dumps([variant, variant]), "--out", str(out)],
                       cwd=trained_project, env=tool_env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(s) for s in out.read_text().splitlines()]
    assert len(lines) == 2 and 0.0 <= lines[0]["val_accuracy"] <= 1.0
    assert lines[0]["val_accuracy"] == lines[1]["val_accuracy"]
    assert "test" not in r.stdout
    bad = subprocess.run([sys.executable, str(script), "--variants", '[{"alpah": 0.1}]', "--out", str(out)],
                         cwd=trained_project, env=tool_env, capture_output=True, text=True)
    assert bad.returncode != 0 and "variant key 'alpah' is not allowed" in bad.stderr
    assert len(out.read_text().splitlines()) == 2


@pytest.mark.slow
def test_kd_search_variants_are_the_stages(trained_project, tool_env, tmp_path):
    """A `labels_only` variant trains exactly as the baseline stage does and an empty variant as the
    distill stage does, so what the search compares is what the pipeline would get: the same
    validation accuracy on both sides."""
    script = SCRIPT.parent / "kd_search.py"
    out = tmp_path / "search.jsonl"
    r = subprocess.run([sys.executable, str(script), "--variants", '[{"labels_only": true}, {}]', "--out", str(out)],
                       cwd=trained_project, env=tool_env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    got = [json.loads(s)["val_accuracy"] for s in out.read_text().splitlines()]
    want = [json.loads((trained_project / "metrics" / f).read_text())["val_accuracy"]
            for f in ("baseline.json", "distill.json")]
    assert got == pytest.approx(want, abs=1e-6)


def test_readme_results_table_is_the_records_table():
    """The README's Results table is rendered from the committed records, not typed by hand: the
    command the README names must print exactly the table it shows."""
    import re

    root = SCRIPT.parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    cmd = re.search(r"`python scripts/record_run\.py table ([^`]+)`", readme)
    assert cmd, "the README names the command that renders its Results table"
    runs = [root / r for r in cmd.group(1).split()]
    table = _module().table(runs)
    assert table in readme, "README's Results table differs from " + cmd.group(0)
