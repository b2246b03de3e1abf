"""Bytes of constants (weights, biases, requantization tables) each layer's kernel reads from
flash per inference, counted from the kernels' loop structure (not measured): on a real
STM32L475 at 80 MHz every flash read past the ART cache costs wait states, which QEMU's
instruction counts do not show.

- reference conv / depthwise: every output pixel reads the whole filter and, per channel,
  bias, multiplier and shift (12 B);
- reference fully-connected: every row reads the whole filter and the 12 B per unit;
- Cortex-M4 convolutions: the per-channel table is built once per call (12 B a channel), then
  the packed filter is read once per pixel pair (a last odd pixel of a run is a pass of its
  own): the 3x3 path pairs pixels within an output row, the 1x1 and general paths over the
  whole call (in a fused residual call: over each band); the 3x3 path on int8 filters reads
  them once per output row (widened into RAM, conv2d_3x3_s8_cm4.c);
- Cortex-M4 depthwise: the table once, the filter once per output pixel;
- Cortex-M4 fully-connected: the table once, the filter once per row;
- everything else reads no constants, or a few scalars.
"""
from __future__ import annotations

import math

CHANNEL_TABLE_BYTES = 12   # bias, multiplier, shift: int32 each


def _filter_bytes(layer) -> int:
    return int(layer.arrays["filter"].nbytes) if "filter" in layer.arrays else 0


def conv_passes(layer) -> int:
    """Passes over the filter of a Cortex-M4 convolution (see the module docstring)."""
    n, oh, ow, _ = layer.dims["output"]
    if layer.kernel.function == "tk_conv2d_3x3_s8_cm4":
        return n * oh * math.ceil(ow / 2)
    rows = layer.residual["rows"] if layer.residual is not None else oh
    full, rest = divmod(oh, rows)
    return n * (full * math.ceil(rows * ow / 2) + (math.ceil(rest * ow / 2) if rest else 0))


def _w8_3x3(layer) -> bool:
    return layer.kernel.function == "tk_conv2d_3x3_s8_w8_cm4"


def weight_reads(layer) -> int:
    """Constant bytes the layer's kernel reads from flash in one inference."""
    if layer.kernel is None or layer.kind not in ("conv2d", "depthwise_conv2d", "fully_connected"):
        return 0
    f = _filter_bytes(layer)
    cm4 = layer.kernel.variant == "cortex-m4"
    if layer.kind == "fully_connected":
        rows, _, units, _ = layer.dims["fc"]
        return rows * f + (1 if cm4 else rows) * units * CHANNEL_TABLE_BYTES
    n, oh, ow, oc = layer.dims["output"]
    pixels = n * oh * ow
    if not cm4:
        return pixels * (f + oc * CHANNEL_TABLE_BYTES)
    table = oc * CHANNEL_TABLE_BYTES
    if layer.residual is not None:   # the convolution is called, and builds its table, per band
        table *= math.ceil(oh / layer.residual["rows"])
    if layer.kind == "depthwise_conv2d":
        return pixels * f + table
    return (n * oh if _w8_3x3(layer) else conv_passes(layer)) * f + table


def program_weight_reads(prog) -> int:
    return int(sum(weight_reads(layer) for layer in prog.layers))


# The 3x3 path on int8 filters (conv2d_3x3_s8_cm4.c): per output row, widening the filter
# costs WIDEN_PER_WORD instructions a filter word (4 int8: LDM, 8 SXTB16, STM, loop per 4),
# and each chunk of channels after the first CHUNK_CALL more per pixel pair (one more call
# of the int16 blocks). Fitted to bench.cm4_kernels' per-layer counts (2026-12-01) of two
# 8 x 8-output layers, K4 = 288 (5 chunks) and 576 (11 chunks): 3.03 and 96.5.
WIDEN_PER_WORD = 3
CHUNK_CALL = 97


def int8_filter_trade(layer) -> tuple[int, int]:
    """(extra instructions, flash bytes saved) of a Cortex-M4 convolution on the int8 filter
    layout instead of int16 pairs; the filter shrinks from 2 to 1 byte per (K4-padded)
    weight. The 1x1 and general paths widen in the inner loop: per pass over the filter
    (conv_passes) and group of 4 reduction elements, 4 SXTB16 per channel pair (2 for a last
    odd channel). The 3x3 path widens once per output row (WIDEN_PER_WORD, CHUNK_CALL)."""
    from .kernels_cm4 import w8_chunk_channels

    _, kh, kw, kc = layer.dims["filter"]
    n, oh, ow, oc = layer.dims["output"]
    if layer.kernel.function.startswith("tk_conv2d_3x3_s8"):
        k4 = 9 * ((kc + 3) & ~3)
        chunks = math.ceil(oc / w8_chunk_channels(oc, kc))
        extra = n * oh * (WIDEN_PER_WORD * oc * k4 // 4 + CHUNK_CALL * (chunks - 1) * math.ceil(ow / 2))
        return int(extra), int(oc * k4)
    k4 = (kh * kw * kc + 3) & ~3
    groups = k4 // 4
    extra = conv_passes(layer) * groups * (4 * (oc // 2) + 2 * (oc % 2))
    return int(extra), int(oc * k4)
