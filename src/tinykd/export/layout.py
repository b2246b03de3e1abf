"""Filter layout per Cortex-M4 convolution: int16 pairs (packed once at export, read by
SMLAD as they are: fastest, 2 bytes a weight in flash) or int8 (1 byte a weight, widened
with SXTB16 in the inner loop: 4 more instructions per 2 x 2 block and group of 4).

    layout="int16"  every convolution on int16 pairs (the layout before issue 18)
    layout="int8"   every convolution on int8 (smallest flash)
    layout="auto"   int8 where it costs at most AUTO_INSTRUCTIONS_PER_BYTE extra instructions
                    per flash byte saved (cost.int8_filter_trade): layers whose filter is read
                    few times per inference (small output maps), int16 elsewhere

The trade per layer is extra = passes x groups x 4 x C_out / 2 instructions against
C_out x K4 bytes, i.e. about passes / 2 instructions per byte, where passes = pixel pairs
the filter is read for: 16 for an 8 x 8 output map, 64 for 16 x 16, 256 for 32 x 32.
"""
from __future__ import annotations

from ..errors import ExportError
from .cost import int8_filter_trade

LAYOUTS = ("auto", "int16", "int8")
AUTO_INSTRUCTIONS_PER_BYTE = 16


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
