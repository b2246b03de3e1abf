"""Sweep results as a table (CSV, Markdown) and figures: accuracy against T, one line per alpha,
and an alpha x T heatmap; for ESKD sweeps, accuracy against the teacher's epochs.

Files are reproducible: fixed float formatting, figures written by tinykd.report.plotting.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ..atomic import write_bytes, write_text
from .plotting import figure_bytes, pyplot

COLUMNS = ("name", "alpha", "temperature", "teacher_epochs", "student_accuracy", "student_int8_accuracy",
           "teacher_accuracy", "baseline_accuracy", "device_accuracy", "rev")
LABELS = {
    "student_accuracy": "student test accuracy (float)",
    "student_int8_accuracy": "student test accuracy (int8)",
    "device_accuracy": "student accuracy on the device",
    "teacher_accuracy": "teacher test accuracy",
}


def _cell(value, column: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4f}" if column.endswith("accuracy") else f"{value:g}"
    return str(value)


def _dicts(rows) -> list[dict]:
    return [r.as_dict() if hasattr(r, "as_dict") else dict(r) for r in rows]


def _columns(dicts: list[dict]) -> list[str]:
    """The fixed columns that hold a value in at least one row (name always)."""
    return [c for c in COLUMNS if c == "name" or any(d.get(c) not in (None, "") for d in dicts)]


def csv_text(rows) -> str:
    dicts = _dicts(rows)
    cols = _columns(dicts)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for d in dicts:
        w.writerow([_cell(d.get(c), c) for c in cols])
    return buf.getvalue()


def markdown_table(rows) -> str:
    dicts = _dicts(rows)
    cols = _columns(dicts)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for d in dicts:
        lines.append("| " + " | ".join(_cell(d.get(c), c) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def read_csv(path: Path) -> list[dict]:
    """Rows written by csv_text, numbers parsed back."""
    out = []
    with open(path, newline="", encoding="utf-8") as fh:
        for rec in csv.DictReader(fh):
            d = {}
            for k, v in rec.items():
                if v == "":
                    d[k] = None
                elif k in ("name", "rev"):
                    d[k] = v
                else:
                    try:
                        d[k] = float(v)
                    except ValueError:
                        d[k] = v
            out.append(d)
    return out


def plot_vs_temperature(dicts: list[dict], metric: str = "student_accuracy"):
    """Figure: `metric` against T (log2 axis), one line per alpha; the baseline as a dashed line."""
    plt = pyplot()
    pts = [d for d in dicts if d.get("temperature") is not None and d.get("alpha") is not None
           and d.get(metric) is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for alpha in sorted({d["alpha"] for d in pts}):
        line = sorted((d["temperature"], d[metric]) for d in pts if d["alpha"] == alpha)
        ax.plot([t for t, _ in line], [v for _, v in line], marker="o", label=f"alpha = {alpha:g}")
    baselines = sorted({d["baseline_accuracy"] for d in dicts if d.get("baseline_accuracy") is not None})
    if baselines and metric.startswith("student"):
        ax.axhline(baselines[0], color="grey", linestyle="--", label="student without KD (baseline)")
    teachers = sorted({d["teacher_accuracy"] for d in dicts if d.get("teacher_accuracy") is not None})
    if len(teachers) == 1 and metric.startswith("student"):
        ax.axhline(teachers[0], color="black", linestyle=":", label="teacher")
    ax.set_xscale("log", base=2)
    temps = sorted({d["temperature"] for d in pts})
    if temps:
        ax.set_xticks(temps)
        ax.set_xticklabels([f"{t:g}" for t in temps])
    ax.set_xlabel("temperature T")
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.set_title(f"{LABELS.get(metric, metric)} vs T")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plot_heatmap(dicts: list[dict], metric: str = "student_accuracy"):
    plt = pyplot()
    pts = [d for d in dicts if d.get("temperature") is not None and d.get("alpha") is not None]
    temps = sorted({d["temperature"] for d in pts})
    alphas = sorted({d["alpha"] for d in pts})
    grid = [[math.nan] * len(temps) for _ in alphas]
    for d in pts:
        if d.get(metric) is not None:
            grid[alphas.index(d["alpha"])][temps.index(d["temperature"])] = d[metric]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(temps), 1.2 + 0.6 * len(alphas)))
    im = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(len(temps)))
    ax.set_xticklabels([f"{t:g}" for t in temps])
    ax.set_yticks(range(len(alphas)))
    ax.set_yticklabels([f"{a:g}" for a in alphas])
    ax.set_xlabel("temperature T")
    ax.set_ylabel("alpha (weight of the label loss)")
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if not math.isnan(v):
                ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7, color="white")
    fig.colorbar(im, ax=ax, label=LABELS.get(metric, metric))
    return fig


def plot_vs_teacher_epochs(dicts: list[dict], metric: str = "student_accuracy"):
    plt = pyplot()
    pts = sorted((d["teacher_epochs"], d.get(metric), d.get("teacher_accuracy")) for d in dicts
                 if d.get("teacher_epochs") is not None and d.get(metric) is not None)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot([k for k, _, _ in pts], [v for _, v, _ in pts], marker="o", label=LABELS.get(metric, metric))
    if all(t is not None for _, _, t in pts):
        ax.plot([k for k, _, _ in pts], [t for _, _, t in pts], marker="s", linestyle=":", label="teacher")
    ax.set_xlabel("teacher epochs k (early-stopped teacher)")
    ax.set_ylabel("test accuracy")
    ax.set_title("ESKD: student accuracy vs teacher training length")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def write_all(rows, out: Path, metric: str = "student_accuracy") -> list[Path]:
    """results.csv, results.md and the figures that fit the rows (T/alpha grid, or ESKD)."""
    plt = pyplot()
    out = Path(out)
    dicts = _dicts(rows)
    written = []
    write_text(out / "results.csv", csv_text(dicts))
    write_text(out / "results.md", markdown_table(dicts))
    written += [out / "results.csv", out / "results.md"]
    figures = []
    eskd = len({d.get("teacher_epochs") for d in dicts if d.get("teacher_epochs") is not None}) > 1
    grid = [d for d in dicts if d.get("temperature") is not None and d.get("alpha") is not None]
    if eskd:
        figures.append(("accuracy_vs_teacher_epochs", plot_vs_teacher_epochs(dicts, metric)))
    elif grid:
        figures += [("accuracy_vs_T", plot_vs_temperature(dicts, metric)), ("heatmap", plot_heatmap(dicts, metric))]
    for name, fig in figures:
        for fmt in ("png", "svg"):
            write_bytes(out / f"{name}.{fmt}", figure_bytes(fig, fmt))
            written.append(out / f"{name}.{fmt}")
        plt.close(fig)
    return written
