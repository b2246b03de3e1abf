"""`tinykd export MODEL.tflite OUTDIR [--standalone]`: generate the C engine for an int8 model."""
from __future__ import annotations

import argparse


def _numbers(flag: str, text: str) -> list[float]:
    from ..errors import ParamError

    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise ParamError(flag, text, "comma-separated numbers, e.g. 125.3,123.0,113.9") from None


def _scaling(args: argparse.Namespace):
    """--input-mean / --input-std as an InputScaling (None: neither given, pixels / 255)."""
    if args.input_mean is None and args.input_std is None:
        return None
    from ..data.scaling import DEFAULT_MEAN, DEFAULT_STD, InputScaling
    from ..errors import ParamError

    if not args.standalone:
        flag, value = (("--input-mean", args.input_mean) if args.input_mean is not None
                       else ("--input-std", args.input_std))
        raise ParamError(flag, value, "no value without --standalone (the pipeline's firmware gets student.input)")
    mean = _numbers("--input-mean", args.input_mean) if args.input_mean is not None else DEFAULT_MEAN
    std = _numbers("--input-std", args.input_std) if args.input_std is not None else DEFAULT_STD
    return InputScaling(tuple(mean), tuple(std), key="--input")


def _flag_names(exc):
    """A scaling error names the flag (--input-mean), not the InputScaling key (--input.mean)."""
    from ..errors import ParamError

    if isinstance(exc, ParamError) and exc.key.startswith("--input."):
        return ParamError(exc.key.replace("--input.", "--input-"), exc.value, exc.allowed)
    return exc


def _run(args: argparse.Namespace) -> int:
    from ..atomic import check_output_dir
    from . import export_model

    check_output_dir(args.outdir, args.force)

    if args.board != "none":
        from pathlib import Path

        from ..errors import ExportError
        from .footprint import board, model_footprint, require_fit

        brd = board(args.board, param="--board")
        if not Path(args.model).is_file():
            raise ExportError(f"model file {args.model!r} does not exist")
        require_fit(Path(args.model).name, model_footprint(Path(args.model).read_bytes(), brd), brd)
    from ..errors import ParamError

    try:
        info = export_model(args.model, args.outdir, variants=args.kernels, force=args.force,
                            standalone=args.standalone, fuse=False if args.no_fuse else "auto", layout=args.filters,
                            scaling=_scaling(args))
    except ParamError as exc:
        raise _flag_names(exc) from None
    print(f"exported {args.model} -> {args.outdir}: {info['num_layers']} layers, {info['macs']} MACs, "
          f"{info['weight_bytes']} weight bytes, {info['arena_bytes']} arena bytes")
    peak = info["arena_peak_layer"]
    if peak >= 0:
        print(f"arena peak at layer {peak} ({info['layers'][peak]['op']})")
    for line in info["filter_layouts"]:
        print(f"filters: {line}")
    if args.standalone:
        print(f"standalone: {len(info['files'])} files, {len(info['kernel_sources'])} kernel sources; "
              f"add the folder as a source folder and include path ({args.outdir}/README.md)")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="generate C (model.h/model.c/...) from an int8 .tflite model",
                       description=__doc__)
    p.add_argument("model", help="int8 .tflite file")
    p.add_argument("outdir", help="output folder (replaced atomically); an existing folder not "
                                  "written by tinykd is refused unless --force")
    p.add_argument("--force", action="store_true",
                   help="replace OUTDIR even if it exists and was not written by tinykd (its "
                        "contents are lost); never the current or home folder or a file")
    p.add_argument("--kernels", default="auto", choices=("auto", "reference"),
                   help="kernel variants: best available per layer (auto) or reference only")
    p.add_argument("--filters", default="auto", choices=("auto", "int16", "int8"),
                   help="Cortex-M4 convolution filters: int8 where it costs <= 12 instructions per flash "
                        "byte saved (auto), all int16 pairs (fastest), all int8 (smallest flash)")
    p.add_argument("--no-fuse", action="store_true",
                   help="never fuse a residual ADD into the convolution before it (by default fused "
                        "only where that makes the arena smaller, see docs/kernels.md)")
    p.add_argument("--standalone", action="store_true",
                   help="a self-contained folder for your own project (STM32CubeIDE, make): the model, "
                        "the kernel sources and headers it needs, the tinykd.h API and a README.md; "
                        "no path into this repository")
    p.add_argument("--input-mean", default=None, metavar="M[,M...]",
                   help="--standalone: the model's pixel scaling x = (pixel - mean) / std, 1 value or one per "
                        "channel in 0..255 units, as params student.input [0]")
    p.add_argument("--input-std", default=None, metavar="S[,S...]",
                   help="--standalone: see --input-mean [255, i.e. pixels / 255]")
    p.add_argument("--board", default="none",
                   help="also require the model to fit this board (e.g. b_l475e_iot01a), as the export stage does")
    p.set_defaults(func=_run)
