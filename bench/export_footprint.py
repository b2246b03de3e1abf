"""Footprint of the default student and the MLPerf Tiny ResNet-8 as tinykd exports them,
beside TFLite Micro's arena for the same .tflite.

    python -m bench.export_footprint [--student models/student_int8.tflite]

Without a trained student (.tflite from the pipeline) both models are built from the
architecture registry with seeded random weights and calibration: footprint and MACs do
not depend on the weight values. tinykd's arena holds activations and kernel scratch only
(the caller owns the input and output buffers); TFLite Micro's "head" is its activation
plan including input and output, its "tail" the interpreter's persistent data. A second
table gives, per build (reference kernels; the Cortex-M4 ones before issue 18; the new
defaults and their --filters options), the arena, the layer where it peaks, the constants'
flash and the weight bytes read per inference (tinykd.export.cost).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def _build(arch: str) -> bytes:
    import keras
    import numpy as np
    import tensorflow as tf

    from tinykd.models import build

    keras.utils.set_random_seed(0)
    model = build(arch, (32, 32, 3), 10)
    calib = np.random.default_rng(0).uniform(0, 1, (32, 32, 32, 3)).astype(np.float32)

    def rep():
        for x in calib:
            yield [x[None]]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = rep
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return bytes(conv.convert())


# The builds bench.cm4_kernels compares, from its table (export_model / load_program keyword arguments).
from bench.cm4_kernels import CONFIGS as BUILDS  # noqa: E402

_TFLM = """
import sys
from tflite_micro.python.tflite_micro import runtime
interp = runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read())
sys.stdout.flush()
interp.print_allocations()
"""


def tflm_arena(path: Path) -> dict:
    """TFLite Micro's RecordingMicroAllocator figures (printed by C++ to stdout)."""
    proc = subprocess.run([sys.executable, "-c", _TFLM, str(path)], capture_output=True, text=True)
    out = {}
    for key in ("total", "head", "tail"):
        m = re.search(rf"Arena allocation {key} (\d+) bytes", proc.stdout + proc.stderr)
        out[key] = int(m.group(1)) if m else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", default="models/student_int8.tflite", help="trained student, if present")
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--workdir", default="build/bench")
    args = ap.parse_args()

    import yaml

    from tinykd.export import load_program
    from tinykd.export.cost import program_weight_reads
    from tinykd.export.footprint import board, model_footprint

    arch = yaml.safe_load(open(args.params))["student"]["arch"] if Path(args.params).is_file() else "cnn_small"
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    models = {}
    if Path(args.student).is_file():
        models[f"student ({args.student})"] = Path(args.student).read_bytes()
    else:
        models[f"student {arch} (random weights)"] = _build(arch)
    models["resnet8 (random weights)"] = _build("resnet8")

    brd = board("b_l475e_iot01a")
    rows, builds = [], []
    for name, blob in models.items():
        path = work / (re.sub(r"\W+", "_", name).strip("_") + ".tflite")
        path.write_bytes(blob)
        prog = load_program(blob)
        fp = model_footprint(blob, brd)
        tf = tflm_arena(path)
        rows.append((name, prog.macs, prog.weight_bytes, prog.arena_bytes, prog.input.size + prog.output.size,
                     tf["head"], tf["tail"], tf["total"], fp["fits"]))
        for build, kw in BUILDS.items():
            p = load_program(blob, **kw)
            peak = f"{p.peak_layer} {p.layers[p.peak_layer].op}" if p.peak_layer >= 0 else "-"
            builds.append((name, build, p.arena_bytes, peak, p.weight_bytes, program_weight_reads(p)))

    head = ("model", "MACs", "weight B", "tinykd arena B", "I/O B", "TFLM head B", "TFLM tail B", "TFLM total B",
            "fits board")
    print(" | ".join(head))
    for r in rows:
        print(" | ".join(_cell(v) for v in r))
    print("\nper build (export only; instructions and whole-image flash: python -m bench.cm4_kernels)")
    print(" | ".join(("model", "build", "arena B", "arena peak at layer", "constants B (flash)",
                      "weight B read per inference")))
    for r in builds:
        print(" | ".join(_cell(v) for v in r))


def _cell(v) -> str:
    return f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


if __name__ == "__main__":
    main()
