"""`export`: an int8 .tflite model -> plain C calling tinykd's own kernels (firmware/nn).

Pipeline: read (tflite schema package) -> fold shape arithmetic -> lower operators to
kernel calls with export-time requantization constants -> plan the static arena ->
generate model.h / model.c / model_data.c / sources.txt / model.json.
With standalone=True the folder instead holds the generated model, the kernel sources and
headers it needs, the tinykd.h API and a README.md, and refers to nothing outside itself
(export/standalone.py).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_dir, check_output_dir
from ..errors import ExportError
from .codegen import Program, build_program, render, sources, summary
from .fold import fold_constants, strip_float_io
from .layers import lower
from .reader import read_tflite

__all__ = ["analyze", "export_model", "load_program", "ExportError"]


def load_program(blob: bytes, variants: str = "auto", fuse: bool | str = "auto", layout: str = "auto") -> Program:
    """Parse, fold, lower and plan a model; raises ExportError for anything unsupported.
    fuse: True: residual CONV_2D -> ADD pairs become one call writing over the shortcut
    (fuse.py); False: never; "auto": fused only if that makes the arena smaller (with the 3x3
    convolutions in place, inplace.py, ResNet-8 unfused needs less arena and fewer
    instructions: docs/kernels.md);
    layout: the Cortex-M4 convolutions' filter layout, auto | int16 | int8 (layout.py)."""
    if fuse not in (True, False, "auto"):
        raise ExportError(f"fuse {fuse!r} not allowed; expected True, False or 'auto'")

    def build(fused: bool) -> Program:
        graph = read_tflite(blob)
        fold_constants(graph)
        notes = strip_float_io(graph)
        return build_program(graph, lower(graph), variants, notes, fused, layout)

    prog = build(fuse is not False)
    if fuse == "auto" and any(layer.residual is not None for layer in prog.layers):
        plain = build(False)
        if plain.arena_bytes <= prog.arena_bytes:
            plain.notes.append(f"residual ADDs left unfused: arena {plain.arena_bytes} B, fused "
                               f"{prog.arena_bytes} B")
            return plain
    return prog


def export_model(model: str | Path | bytes, outdir: str | Path, variants: str = "auto",
                 force: bool = False, standalone: bool = False, fuse: bool | str = "auto", layout: str = "auto",
                 scaling=None) -> dict:
    """Write the generated C for `model` (a .tflite path or its bytes) into `outdir`
    atomically; returns the model.json summary. An existing `outdir` not written by tinykd
    is refused (OutputError) unless `force` (see tinykd.atomic.check_output_dir).
    standalone: a self-contained folder (kernels copied in, tinykd.h API, README.md, no
    sources.txt and no path into the repository) for another project, e.g. STM32CubeIDE;
    `scaling` (tinykd.data.scaling.InputScaling, None = pixels / 255) is how the model takes its
    pixels, for the folder's tinykd_load_pixels and example code."""
    check_output_dir(outdir, force)  # before the work, so a refusal is immediate
    if isinstance(model, (bytes, bytearray)):
        blob = bytes(model)
    else:
        path = Path(model)
        if not path.is_file():
            raise ExportError(f"model file {str(path)!r} does not exist")
        blob = path.read_bytes()
    prog = load_program(blob, variants, fuse, layout)
    if scaling is not None and not standalone:
        raise ExportError("an input scaling is used only by a standalone export (--standalone)")
    outdir = Path(outdir)
    files = render(prog, blob)
    if standalone:
        return _write_standalone(prog, blob, files, outdir, variants, force, scaling)
    srcs = sources(prog, outdir)
    info = summary(prog, blob, srcs)
    with atomic_dir(outdir, force) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
        (tmp / "sources.txt").write_text("\n".join(srcs) + "\n")
        (tmp / "model.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def _write_standalone(prog: Program, blob: bytes, files: dict[str, str], outdir: Path, variants: str,
                      force: bool, scaling=None) -> dict:
    from . import standalone as S

    scaling = S.check_scaling(prog, scaling)

    copied = S.kernel_files(prog, files["model.c"])
    files[S.API_H] = S.api_header(prog, scaling)
    files[S.API_C] = S.api_source(prog, scaling)
    clash = sorted(set(copied) & set(files))
    if clash:
        raise ExportError(f"kernel file {clash[0]!r} has the name of a generated file; rename the kernel")
    info = summary(prog, blob, [])
    info["standalone"] = True
    info["input_scaling"] = scaling.as_dict()
    info["kernel_sources"] = sorted(n for n in copied if n.endswith(".c"))
    info["files"] = sorted([*files, *copied, "model.json", "README.md"])
    files["README.md"] = S.readme(prog, info, info["files"], variants, scaling)
    with atomic_dir(outdir, force) as tmp:
        for name, text in files.items():
            (tmp / name).write_text(text)
        for name, path in copied.items():
            (tmp / name).write_bytes(path.read_bytes())
        (tmp / "model.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    return info


def analyze(blob: bytes) -> Program:
    """Alias of load_program for reports (footprint)."""
    return load_program(blob)
