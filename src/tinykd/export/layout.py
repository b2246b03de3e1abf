"""Filter layout per Cortex-M4 convolution: int16 pairs (packed once at export, read by
SMLAD as they are: fastest, 2 bytes a weight in flash) or int8 (1 byte a weight, widened
with SXTB16: by the 3x3 path once per output row into RAM, by the 1x1 and general paths in
the inner loop, 4 more instructions per 2 x 2 block and group of 4).

    layout="int16"  every convolution on int16 pairs (the layout before issue 18)
    layout="int8"   every convolution on int8 (smallest flash)
    layout="auto"   int8 where it costs at most AUTO_INSTRUCTIONS_PER_BYTE extra instructions
                    per flash byte saved (cost.int8_filter_trade): layers whose filter is read
                    few times per inference (small output maps), int16 elsewhere. 12: the
                    8 x 8-output 3x3 layers (~7 a byte) go int8, the 1x1 ones (16) and the
                    16 x 16-output 3x3 ones (~14) stay int16: on ResNet-8 the fastest build
                    under its 133 KiB flash target (bench.cm4_kernels)

The trade per layer (cost.int8_filter_trade) for the 1x1 and general paths is extra =
passes x groups x 4 x C_out / 2 instructions against C_out x K4 bytes, i.e. about passes / 2
instructions per byte, where passes = pixel pairs the filter is read for: 16 for an 8 x 8
output map, 64 for 16 x 16, 256 for 32 x 32; for the 3x3 path about H_out x
WIDEN_PER_WORD / 4 per byte plus the chunk calls: ~7 for an 8 x 8 map, ~14 for 16 x 16.
"""
from __future__ import annotations

from ..errors import ExportError
from .cost import int8_filter_trade

LAYOUTS = ("auto", "int16", "int8")
AUTO_INSTRUCTIONS_PER_BYTE = 12


def choose(code, layout: str) -> list[str]:
    """Swap the chosen Cortex-M4 convolutions to their int8 twins per `layout` (before their
    filters are packed); returns one line per layer moved to int8, for the export's notes."""
    from .kernels_cm4 import INT8_TWIN

    if layout not in LAYOUTS:
        raise ExportError(f"filter layout {layout!r} not allowed; expected one of {', '.join(LAYOUTS)}")
    lines = []
    for pos, layer in enumerate(code):
        twin = INT8_TWIN.get(layer.kernel.function) if layer.kernel is not None else None
        if twin is None or layout == "int16":
            continue
        extra, saved = int8_filter_trade(layer)
        if layout == "auto" and extra > AUTO_INSTRUCTIONS_PER_BYTE * saved:
            continue
        layer.kernel = twin
        lines.append(f"layer {pos} ({layer.op}): int8 filter, {saved} B less flash for ~{extra} more "
                     f"instructions ({extra / saved:.1f} per byte)")
    return lines
