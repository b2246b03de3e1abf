"""`tinykd export MODEL.tflite OUTDIR`: generate the C engine for an int8 model."""
from __future__ import annotations

import argparse


def _run(args: argparse.Namespace) -> int:
    from . import export_model

    info = export_model(args.model, args.outdir, variants=args.kernels)
    print(f"exported {args.model} -> {args.outdir}: {info['num_layers']} layers, {info['macs']} MACs, "
          f"{info['weight_bytes']} weight bytes, {info['arena_bytes']} arena bytes")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="generate C (model.h/model.c/...) from an int8 .tflite model",
                       description=__doc__)
    p.add_argument("model", help="int8 .tflite file")
    p.add_argument("outdir", help="output folder (replaced atomically)")
    p.add_argument("--kernels", default="auto", choices=("auto", "reference"),
                   help="kernel variants: best available per layer (auto) or reference only")
    p.set_defaults(func=_run)
