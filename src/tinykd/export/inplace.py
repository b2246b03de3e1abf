"""Which input a layer's output may be written over (the two tensors then share one arena
buffer; codegen._share_in_place applies it when that input dies at the layer).

A kernel may write in place when every input byte it overwrites has already been read for
the last time, in the order the kernel actually runs:
- ADD, requantize: element i of the output is written after element i of the input is read;
- MAX_POOL_2D without padding (reference and Cortex-M4): output pixel p is written after its
  window is read, and every later window starts past input pixel p (stride >= 1, output no
  wider than the input);
- the Cortex-M4 3x3 convolution (conv2d_3x3_s8_cm4.c, both filter layouts): output row oy is
  written after the window holds input rows oy*S_h - pad_h .. +2 expanded, and later rows
  only read raw input rows from oy*S_h - pad_h + 3 on; so it may overwrite its input when
  output rows 0..oy end before that row starts, for every oy (rows_fit_in_place). With equal
  row bytes and stride 1 (a VGG or ResNet body layer) that always holds.
- a fused residual convolution writes the sum over its shortcut (fuse.py).
The reference convolutions read the whole input for every output pixel: never in place.
"""
from __future__ import annotations

from .layers import Layer

IN_PLACE = {"add": (0, 1), "requantize": (0,)}
WINDOW_CONV = ("tk_conv2d_3x3_s8_cm4", "tk_conv2d_3x3_s8_w8_cm4")


def rows_fit_in_place(layer: Layer) -> bool:
    """A 3x3 window convolution's output rows never overtake the raw input rows still to read."""
    n, ih, iw, ic = layer.dims["input"]
    _, oh, ow, oc = layer.dims["output"]
    if n != 1:
        return False
    s, pad = layer.params["stride_h"], layer.params["pad_h"]
    for oy in range(oh):
        first_raw = oy * s - pad + 3   # first input row not yet in the window after row oy
        if first_raw < ih and (oy + 1) * ow * oc > first_raw * iw * ic:
            return False
    return True


def inputs_allowed(layer: Layer) -> tuple[int, ...]:
    """Positions of the inputs layer's output may overwrite."""
    if layer.residual is not None:
        return (1,)
    if layer.kind == "max_pool2d":
        p = layer.params
        return (0,) if p["pad_h"] == 0 and p["pad_w"] == 0 and layer.dims["input"][0] == 1 else ()
    if layer.kind == "conv2d" and layer.kernel is not None and layer.kernel.function in WINDOW_CONV:
        return (0,) if rows_fit_in_place(layer) else ()
    return IN_PLACE.get(layer.kind, ())
