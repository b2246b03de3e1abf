"""Write report.md and its figures into one folder (the `report` stage's output)."""
from __future__ import annotations

import shutil
from pathlib import Path

from ..atomic import atomic_dir
from . import figures
from .collect import Inputs, collect
from .compression import figure as compression_figure
from .compression import section as compression_section
from .markdown import render
from .plotting import figure_bytes, pyplot


def build_report(out_dir: Path, *, metrics_dir: Path = Path("metrics"), live_dir: Path = Path("dvclive"),
                 device_plots: Path = Path("plots/device"), dataset_json: Path = Path("data/dataset.json"),
                 sweep_dir: Path | None = Path("sweeps")) -> Inputs:
    """Collect the pipeline's outputs and replace `out_dir` with report.md + figures (atomically)."""
    inp = collect(metrics_dir, live_dir, device_plots, dataset_json, sweep_dir)
    plt = pyplot()
    made = {}
    with atomic_dir(out_dir) as tmp:
        for name, draw in (("accuracy", figures.accuracy_bars), ("footprint", figures.footprint_bars),
                           ("training_curves", figures.training_curves),
                           ("confusion_matrix", figures.confusion_matrix)):
            fig = draw(inp)
            if fig is None:
                continue
            for fmt in ("png", "svg"):
                (tmp / f"{name}.{fmt}").write_bytes(figure_bytes(fig, fmt))
            plt.close(fig)
            made[name] = f"{name}.png"
        if inp.sweep:
            for fig in inp.sweep["figures"]:
                dest = f"sweep_{fig.name}"
                shutil.copyfile(fig, tmp / dest)
                svg = fig.with_suffix(".svg")
                if svg.is_file():
                    shutil.copyfile(svg, tmp / f"sweep_{svg.name}")
                made.setdefault("sweep", []).append(dest)
        # Compression methods (metrics/compress/, optional stages): a section only when they ran.
        compression = compression_section(metrics_dir)
        fig = compression_figure(metrics_dir)
        if fig is not None:
            for fmt in ("png", "svg"):
                (tmp / f"compression.{fmt}").write_bytes(figure_bytes(fig, fmt))
            plt.close(fig)
            compression += ["![compression: accuracy vs size](compression.png)", ""]
        (tmp / "report.md").write_text(render(inp, made, compression), encoding="utf-8")
    return inp
