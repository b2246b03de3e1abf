"""Residual fusion: a CONV_2D whose only consumer is the ADD right after it becomes one
kernel call (tk_conv2d_add_s8 / tk_conv2d_add_s8_cm4) that convolves a band of output rows
at a time into a small buffer and adds the ADD's other operand (the shortcut) band by band
with the ADD's own arithmetic, so the convolution's output never exists whole. When the
shortcut dies at the ADD the planner gives the sum the shortcut's memory (codegen.py): in a
ResNet block the shortcut, the first convolution's output and the second's are then no longer
live together, one feature map fewer at the peak."""
from __future__ import annotations

import dataclasses
from typing import Callable

from .layers import Layer

# Band buffer bound: the rows per band are as many as fit in BAND_BYTES (at least one). A
# band costs the convolution's per-call setup (requantization table; the 3x3 path's window
# refill of its kernel rows), so fewer, taller bands are faster and a bigger buffer costs arena.
BAND_BYTES = 1024


def band_rows(out_h: int, out_w: int, out_c: int) -> int:
    return max(1, min(out_h, BAND_BYTES // max(1, out_w * out_c)))


def fuse_residuals(code: list[Layer], reads: Callable[[int], int], is_output: Callable[[int], bool]) -> list[Layer]:
    """`code` with every fusable CONV_2D -> ADD pair replaced by one conv2d Layer carrying
    `residual`. reads(t): how many code layers read tensor t or a shape alias of it (a fused
    convolution's output must be read by the ADD alone); is_output(t): t is the model's output."""
    out: list[Layer] = []
    for layer in code:
        prev = out[-1] if out else None
        if (layer.kind == "add" and prev is not None and prev.kind == "conv2d" and prev.residual is None
                and layer.dims["size"][0] == layer.dims["size"][1]):
            t = prev.outputs[0]
            a, b = layer.inputs
            if t in (a, b) and a != b and reads(t) == 1 and not is_output(t):
                shortcut = b if a == t else a
                _, oh, ow, oc = prev.dims["output"]
                fused = dataclasses.replace(
                    prev, op="CONV_2D+ADD", inputs=[prev.inputs[0], shortcut], outputs=list(layer.outputs),
                    params=dict(prev.params), arrays=dict(prev.arrays), dims=dict(prev.dims),
                    residual={"add": dict(layer.params), "conv_is_input1": int(a == t),
                              "rows": band_rows(oh, ow, oc), "add_op_index": layer.op_index})
                out[-1] = fused
                continue
        out.append(layer)
    return out
