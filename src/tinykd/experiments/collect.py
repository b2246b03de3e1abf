"""A sweep's results as rows (one per point: its params and metrics), read from `dvc exp show
--json` (queued DVC experiments) or from the Snakemake sweep's point folders. tinykd.report.sweep
writes the rows as a table and figures."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..dotted import get
from . import dvc_command

# Metrics collected per experiment: (column, metrics file, key).
METRIC_COLUMNS = (
    ("student_accuracy", "metrics/distill.json", "test_accuracy"),
    ("student_int8_accuracy", "metrics/quantize_student.json", "int8_accuracy"),
    ("teacher_accuracy", "metrics/teacher.json", "test_accuracy"),
    ("baseline_accuracy", "metrics/baseline.json", "test_accuracy"),
    ("device_accuracy", "metrics/device.json", "accuracy"),
)
PARAM_COLUMNS = (("alpha", "kd.alpha"), ("temperature", "kd.temperature"), ("teacher_epochs", "teacher.epochs"))


@dataclass
class Row:
    name: str
    rev: str
    params: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"name": self.name, "rev": self.rev, **self.params, **self.metrics}


def _sorted(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r.params.get("alpha") or 0, r.params.get("temperature") or 0,
                                       r.params.get("teacher_epochs") or 0, r.name))


def _row(name: str, entry: dict, device: bool = False) -> Row | None:
    data = entry.get("data") or {}
    params = ((data.get("params") or {}).get("params.yaml") or {}).get("data") or {}
    metrics = data.get("metrics") or {}
    if not params:
        return None
    row = Row(name=name, rev=(entry.get("rev") or "")[:7])
    for col, key in PARAM_COLUMNS:
        row.params[col] = get(params, key, None)
    for col, path, key in METRIC_COLUMNS:
        value = ((metrics.get(path) or {}).get("data") or {}).get(key)
        if col == "device_accuracy" and not device:
            value = None  # inherited from the parent commit, not this experiment's student
        row.metrics[col] = value if isinstance(value, (int, float)) else None
    return row


def rows_from_exp_show(show: list, prefix: str | None = None, include_failed: bool = False,
                       device: bool = False) -> list[Row]:
    """Experiments (not the workspace or commits) from `dvc exp show --json`, optionally only those
    whose name starts with `prefix`. Experiments without results (queued, failed) are skipped.

    metrics/device.json of an experiment that stopped before `evaluate` is its parent commit's:
    the device column is filled only with `device=True` (experiments that ran evaluate)."""
    rows = []
    for commit in show:
        for exp in commit.get("experiments") or []:
            name = exp.get("name") or ""
            if prefix and not name.startswith(prefix):
                continue
            revs = exp.get("revs") or []
            if not revs:
                continue
            entry = revs[0]
            if entry.get("error") and not include_failed:
                continue
            row = _row(name, entry, device)
            if row is not None and (include_failed or row.metrics.get("student_accuracy") is not None
                                    or row.metrics.get("teacher_accuracy") is not None):
                rows.append(row)
    return _sorted(rows)


def exp_show(cwd: Path = Path(".")) -> list:
    return json.loads(dvc_command.run(["exp", "show", "--json"], cwd).stdout)


def rows_from_point_dirs(root: Path, teacher_metrics: Path | None = None,
                         baseline_metrics: Path | None = None) -> list[Row]:
    """Rows from the Snakemake sweep's folders: <root>/<point>/{params.yaml, distill.json, quantize.json,
    teacher.json (ESKD)}; the shared teacher's and baseline's metrics fill the reference columns."""
    from ..params import read_yaml

    def read(path):
        return json.loads(Path(path).read_text()) if path is not None and Path(path).is_file() else {}

    shared = {"metrics/teacher.json": read(teacher_metrics), "metrics/baseline.json": read(baseline_metrics)}
    rows = []
    for folder in sorted(p for p in Path(root).iterdir() if p.is_dir()):
        params_file = folder / "params.yaml"
        if not params_file.is_file():
            continue
        params = read_yaml(params_file)
        row = Row(name=folder.name, rev="")
        for col, key in PARAM_COLUMNS:
            row.params[col] = get(params, key, None)
        files = {"metrics/distill.json": read(folder / "distill.json"),
                 "metrics/quantize_student.json": read(folder / "quantize.json"),
                 "metrics/teacher.json": read(folder / "teacher.json") or shared["metrics/teacher.json"],
                 "metrics/baseline.json": shared["metrics/baseline.json"]}
        for col, path, key in METRIC_COLUMNS:
            value = files.get(path, {}).get(key)
            row.metrics[col] = value if isinstance(value, (int, float)) else None
        rows.append(row)
    return _sorted(rows)
