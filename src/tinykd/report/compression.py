"""The compression comparison for the report: a Markdown section and an accuracy-vs-size figure,
read from metrics/compress/<method>.json (+ metrics/device.json if present).

On-device latency is shown for the method whose .tflite is the one the firmware ran (same sha256
as metrics/device.json's model); the other rows show the engine's planned RAM and flash, which
are exact for the board, and "not deployed" for latency rather than a guess.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..compress import load_metrics
from ..device import latency
from .plotting import pyplot

LABELS = {
    "ptq": "PTQ (int8)",
    "qat": "QAT",
    "prune_unstructured": "unstructured pruning + PTQ",
    "prune_structured": "structured pruning + PTQ",
    "ppqat": "pruning-preserving QAT",
}


def _read(path: Path) -> dict | None:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _pct(v) -> str:
    return "n/a" if v is None else f"{100 * v:.2f} %"


def _kib(v) -> str:
    return "n/a" if v is None else f"{v / 1024:.1f} KiB"


def _latency(m: dict, devices: list[dict]) -> str:
    for device in devices:
        if device.get("model_sha256") == m.get("tflite_sha256"):
            return latency.describe(device)
    return "not deployed"


def table(rows: dict[str, dict], device: dict | list[dict] | None = None) -> list[str]:
    """Markdown table, one row per method; `device`: evaluate-stage metrics (one or several),
    matched to a row by the sha256 of the model the board ran."""
    devices = [d for d in (device if isinstance(device, list) else [device]) if d]
    out = ["| method | float acc. | int8 acc. | int8 loss | params | non-zero params | int8 weight sparsity "
           "| gzip size | compression | flash (weights) | RAM (arena) | MACs | on-device latency |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for method, m in rows.items():
        out.append(
            f"| {LABELS.get(method, method)} | {_pct(m.get('float_accuracy'))} | {_pct(m.get('int8_accuracy'))} "
            f"| {m.get('int8_loss', float('nan')):.4f} | {m.get('params', 0):,} | {m.get('nonzero_params', 0):,} "
            f"| {_pct(m.get('int8_weight_sparsity'))} | {_kib(m.get('gzip_bytes'))} "
            f"| {m.get('compression_factor', float('nan')):.2f}x | {_kib(m.get('weight_bytes'))} "
            f"| {_kib(m.get('arena_bytes'))} | {m.get('macs', 0):,} | {_latency(m, devices)} |")
    return out


def section(metrics_dir: Path = Path("metrics")) -> list[str]:
    """Markdown lines of the "Compression beyond PTQ" section; [] when no method has run."""
    metrics_dir = Path(metrics_dir)
    rows = load_metrics(metrics_dir / "compress")
    if not rows:
        return []
    out = ["## Compression beyond PTQ", ""]
    first = next(iter(rows.values()))
    out += [f"The distilled student ({first.get('base_params', 0):,} parameters, float accuracy "
            f"{_pct(first.get('base_float_accuracy'))}) compressed by each method, then converted to int8 by "
            f"the same converter; {first.get('test_samples')} test images. Compression = gzip size of the "
            f"float32 .tflite ({_kib(first.get('float_tflite_gzip_bytes'))}) / gzip size of the method's int8 "
            ".tflite. Flash and RAM are what the export engine plans for the board.", ""]
    out += table(rows, _read(metrics_dir / "device.json")) + [""]
    pruned = {k: v for k, v in rows.items() if v.get("schedule")}
    for method, m in pruned.items():
        extra = ""
        if m.get("channels"):
            extra = "; channels kept: " + ", ".join(f"{n} {a}->{b}" for n, (a, b) in m["channels"].items())
        out.append(f"- {LABELS.get(method, method)}: {m.get('prune_method')} pruning, {m.get('schedule')} "
                   f"schedule to {m.get('target_sparsity')} (steps {m.get('begin_step')}..{m.get('end_step')}, "
                   f"every {m.get('frequency')}, {m.get('mask_updates')} mask updates){extra}.")
    if pruned:
        out.append("")
    return out


def figure(metrics_dir: Path = Path("metrics")):
    """int8 accuracy vs compressed size and vs RAM, one point per method; None without metrics."""
    rows = load_metrics(Path(metrics_dir) / "compress")
    if not rows:
        return None
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, xlabel in ((axes[0], "gzip_bytes", "gzip size of the int8 .tflite (KiB)"),
                            (axes[1], "arena_bytes", "RAM: activation arena (KiB)")):
        for method, m in rows.items():
            x, y = m[key] / 1024, 100 * m["int8_accuracy"]
            ax.scatter([x], [y], s=40)
            ax.annotate(LABELS.get(method, method), (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("int8 test accuracy (%)")
        ax.grid(alpha=0.3)
    fig.suptitle("Compression methods: accuracy vs size")
    fig.tight_layout()
    return fig
