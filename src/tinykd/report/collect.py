"""Reading the pipeline's outputs for the report. Every reader returns None for a missing file."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path

MODELS = ("teacher", "baseline", "student")
# Which stage wrote each model's float metrics (the distilled student comes from `distill`).
TRAIN_METRICS = {"teacher": "teacher", "baseline": "baseline", "student": "distill"}
LIVE_DIRS = {"teacher": "teacher", "baseline": "baseline", "student": "distill"}


def read_json(path: Path) -> dict | None:
    path = Path(path)
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def read_curves(live_dir: Path) -> dict[str, dict[str, list[tuple[int, float]]]] | None:
    """DVCLive's plots/metrics/<split>/<name>.tsv -> {split: {name: [(step, value)]}}."""
    root = Path(live_dir) / "plots" / "metrics"
    if not root.is_dir():
        return None
    curves: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for tsv in sorted(root.rglob("*.tsv")):
        split = tsv.parent.name if tsv.parent != root else ""
        with open(tsv, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh, delimiter="\t"))
        points = [(int(float(r[0])), float(r[1])) for r in rows[1:] if len(r) >= 2]
        curves.setdefault(split, {})[tsv.stem] = points
    return curves or None


def read_confusion(path: Path, classes: list[str] | None = None) -> tuple[list[str], list[list[int]]] | None:
    """confusion.csv (one row per image: actual, predicted) -> (class names, counts[actual][predicted]).
    With the dataset's `classes`, every class gets a row and column, in the dataset's order."""
    path = Path(path)
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if classes:
        names = [str(c) for c in classes]
        names += sorted({r[k] for r in rows for k in ("actual", "predicted")} - set(names))
    else:
        names = []
    for r in rows:
        for key in ("actual", "predicted"):
            if r[key] not in names:
                names.append(r[key])
    if not classes and all(n.lstrip("-").isdigit() for n in names):
        names.sort(key=int)
    index = {n: i for i, n in enumerate(names)}
    counts = [[0] * len(names) for _ in names]
    for r in rows:
        counts[index[r["actual"]]][index[r["predicted"]]] += 1
    return names, counts


def read_sweep(folder: Path) -> dict | None:
    """A sweep summary folder written by `tinykd sweep collect` (results.csv/.md and figures)."""
    from .sweep import read_csv

    folder = Path(folder)
    table = folder / "results.csv"
    if not table.is_file():
        return None
    figures = sorted(p for p in folder.iterdir() if p.suffix == ".png")
    md = folder / "results.md"
    return {"rows": read_csv(table), "markdown": md.read_text(encoding="utf-8") if md.is_file() else "",
            "figures": figures}


@dataclass
class Inputs:
    """Everything the report reads; None where the file does not exist."""

    dataset: dict | None = None
    train: dict = field(default_factory=dict)      # model -> teacher/baseline/distill.json
    quantize: dict = field(default_factory=dict)   # model -> quantize_<model>.json
    curves: dict = field(default_factory=dict)     # model -> DVCLive curves
    footprint: dict | None = None
    firmware: dict | None = None
    device: dict | None = None
    device_baseline: dict | None = None
    confusion: tuple | None = None
    sweep: dict | None = None
    missing: list[str] = field(default_factory=list)


def collect(metrics_dir: Path, live_dir: Path, device_plots: Path, dataset_json: Path,
            sweep_dir: Path | None) -> Inputs:
    metrics_dir, live_dir = Path(metrics_dir), Path(live_dir)
    inp = Inputs()

    def get(path: Path, reader=read_json):
        value = reader(path)
        if value is None:
            inp.missing.append(str(path))
        return value

    inp.dataset = get(Path(dataset_json))
    for model in MODELS:
        inp.train[model] = get(metrics_dir / f"{TRAIN_METRICS[model]}.json")
        inp.quantize[model] = get(metrics_dir / f"quantize_{model}.json")
        inp.curves[model] = get(live_dir / LIVE_DIRS[model], read_curves)
    inp.footprint = get(metrics_dir / "footprint.json")
    inp.firmware = get(metrics_dir / "firmware.json")
    inp.device = get(metrics_dir / "device.json")
    inp.device_baseline = get(metrics_dir / "baseline" / "device.json")
    classes = (inp.dataset or {}).get("classes")
    inp.confusion = get(Path(device_plots) / "confusion.csv", lambda p: read_confusion(p, classes))
    if sweep_dir is not None:
        inp.sweep = read_sweep(Path(sweep_dir))  # optional by design: no sweep, no section
    return inp
