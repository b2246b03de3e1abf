"""The Cortex-M4 DSP kernel variants (firmware/nn/src/cm4/), a table of the registry
(kernels.py): which layers each accepts, the C `*_scratch_size()` companion the planner asks
for its scratch (export/scratch.py) and the constant layout it reads.

Selection, as CMSIS-NN's wrappers do it, from the layer's shape only (highest priority wins,
the reference kernel is the fallback of every family):

- conv2d: 1x1 path (1x1 kernel, no padding, C_in % 4 == 0) and 3x3 path (3x3 kernel,
  dilation 1, C_in % 4 == 0 or C_in == 3) at priority 20; the general path (any kernel, stride, padding,
  dilation, C_in) at priority 10; grouped convolutions stay on the reference kernel. The
  three take their filter packed at export time (`pack_filter`): into int16 pairs
  (tk_conv2d_pack_s8_cm4, twice the int8 filter's flash, no widening in the loop) or, through
  their *_w8_cm4 twins (INT8_TWIN), as int8 widened by SXTB16 in the inner loop; layout.py
  picks the layout per layer.
- depthwise_conv2d: depth multiplier 1.
- fully_connected: symmetric int8 weights (filter_offset 0, always the case for TFLite int8).
- add: every ADD (per-input lookup tables on the stack, 2 KB; no arena scratch).
- max_pool2d: every MAX_POOL_2D (four channels per SSUB8 + SEL; no scratch).
"""
from __future__ import annotations

import numpy as np

from .kernel_variant import NN_DIR, KernelVariant, ResidualWrapper, always

NAME = "cortex-m4"

CM4_DIR = f"{NN_DIR}/src/cm4"


def round4(k: int) -> int:
    return (k + 3) & ~3


def _block(rest: int) -> int:
    """tk_cm4_block(): channels in the next block of the packed filter."""
    return 2 if rest >= 2 else 1


def pack_filter(filter_: np.ndarray, int8: bool = False) -> np.ndarray:
    """tk_conv2d_pack_s8_cm4() (conv2d_pack_s8_cm4.h): the int8 filter [C_out, K_h, K_w, C_in]
    as the int32 words of int16 pairs the Cortex-M4 convolutions read from flash; int8=True:
    tk_conv2d_pack8_s8_cm4(), one word of 4 int8 per group and channel (the *_w8 kernels)."""
    out_c = filter_.shape[0]
    rows = filter_.reshape(out_c, -1).astype(np.int32)
    k = rows.shape[1]
    rows = np.pad(rows, ((0, 0), (0, round4(k) - k)))
    if int8:
        words = rows.astype(np.int8).reshape(out_c, -1, 4).view("<u4").reshape(out_c, -1, 1)   # [C_out, groups, 1]
    else:
        v = rows.reshape(out_c, -1, 4) & 0xFFFF                 # [C_out, groups, 4] as uint16
        even = v[:, :, 0] | (v[:, :, 2] << 16)
        odd = v[:, :, 1] | (v[:, :, 3] << 16)
        words = np.stack([even, odd], axis=-1)                   # [C_out, groups, 2]
    parts, o0 = [], 0
    while o0 < out_c:
        nb = _block(out_c - o0)
        parts.append(words[o0:o0 + nb].transpose(1, 0, 2).reshape(-1))   # per group, per channel
        o0 += nb
    return np.concatenate(parts).astype(np.uint32).view(np.int32)


def _pack_conv(layer, int8: bool = False) -> dict:
    arrays = dict(layer.arrays)
    arrays["filter"] = pack_filter(np.asarray(layer.arrays["filter"]).reshape(layer.dims["filter"]), int8)
    return arrays


def _pack_conv_3x3(layer, int8: bool = False) -> dict:
    """tk_conv2d_3x3_pack_s8_cm4(): the 3x3 path reduces in (kx, ky, c) order, over channels
    padded with zero weights to a multiple of 4."""
    arrays = dict(layer.arrays)
    f = np.asarray(layer.arrays["filter"]).reshape(layer.dims["filter"])
    c = f.shape[3]
    f = np.pad(f, ((0, 0), (0, 0), (0, 0), (0, round4(c) - c)))
    arrays["filter"] = pack_filter(f.transpose(0, 2, 1, 3), int8)
    return arrays


def _pack_conv_w8(layer) -> dict:
    return _pack_conv(layer, True)


def _pack_conv_3x3_w8(layer) -> dict:
    return _pack_conv_3x3(layer, True)


def _ungrouped(layer) -> bool:
    return layer.dims["filter"][3] == layer.dims["input"][3]


def _accepts_conv(layer) -> bool:
    return _ungrouped(layer)


def _accepts_conv_1x1(layer) -> bool:
    _, kh, kw, kc = layer.dims["filter"]
    p = layer.params
    return (_ungrouped(layer) and kh == 1 and kw == 1 and p["pad_h"] == 0 and p["pad_w"] == 0
            and kc % 4 == 0)


def _accepts_conv_3x3(layer) -> bool:
    _, kh, kw, kc = layer.dims["filter"]
    p = layer.params
    return (_ungrouped(layer) and kh == 3 and kw == 3 and p["dilation_h"] == 1 and p["dilation_w"] == 1
            and (kc % 4 == 0 or kc == 3))


W8_ROW_BYTES = 8192   # conv2d_3x3_s8_cm4.c TK_W8_ROW_BYTES: the widened filter chunk's bound


def w8_chunk_channels(out_c: int, in_c: int) -> int:
    """conv2d_3x3_s8_cm4.c w8_chunk_channels(): output channels widened per row at a time."""
    return min(out_c, max(2, (W8_ROW_BYTES // (9 * round4(in_c) * 2)) & ~1))


def _accepts_dw(layer) -> bool:
    return layer.params["depth_multiplier"] == 1


def _accepts_fc(layer) -> bool:
    return layer.params["filter_offset"] == 0


def _cm4(family: str, stem: str, priority: int, accepts, scratch: bool = False, prepare=None) -> KernelVariant:
    """scratch: it takes arena scratch, sized by its C companion tk_<stem>_scratch_size()."""
    return KernelVariant(family, f"tk_{stem}", f"{CM4_DIR}/{stem}.c", f"{stem}.h", variant=NAME,
                         priority=priority, accepts=accepts, prepare=prepare,
                         scratch_function=f"tk_{stem}_scratch_size" if scratch else None)


CONV_1X1 = _cm4("conv2d", "conv2d_1x1_s8_cm4", 20, _accepts_conv_1x1, True, _pack_conv)
CONV_3X3 = _cm4("conv2d", "conv2d_3x3_s8_cm4", 20, _accepts_conv_3x3, True, _pack_conv_3x3)
CONV = _cm4("conv2d", "conv2d_s8_cm4", 10, _accepts_conv, True, _pack_conv)
DEPTHWISE = _cm4("depthwise_conv2d", "depthwise_conv2d_s8_cm4", 10, _accepts_dw, True)
FULLY_CONNECTED = _cm4("fully_connected", "fully_connected_s8_cm4", 10, _accepts_fc, True)
ADD = _cm4("add", "add_s8_cm4", 10, always)
MAX_POOL = _cm4("max_pool2d", "max_pool2d_s8_cm4", 10, always)
VARIANTS = (CONV_1X1, CONV_3X3, CONV, DEPTHWISE, FULLY_CONNECTED, ADD, MAX_POOL)

# The same three convolutions on int8 filters (conv2d_pack_s8_cm4.h, tk_conv2d_pack8_s8_cm4),
# tk_<name>_w8_cm4:
# not selected by shape but swapped in per layer by the filter layout choice (layout.py).
INT8_TWIN = {
    v.function: KernelVariant(v.family, v.function.replace("_cm4", "_w8_cm4"), v.source, v.header, variant=NAME,
                              priority=v.priority, accepts=v.accepts,
                              scratch_function=v.scratch_function.replace("_cm4", "_w8_cm4") if own_scratch
                              else v.scratch_function, prepare=prep)
    # own_scratch: the twin has its own tk_<name>_w8_cm4_scratch_size() (the 3x3 path widens
    # the filter into scratch), else it takes what its int16 twin takes
    for v, prep, own_scratch in ((CONV_1X1, _pack_conv_w8, False), (CONV_3X3, _pack_conv_3x3_w8, True),
                                 (CONV, _pack_conv_w8, False))
}
# The fused CONV_2D + ADD of a Cortex-M4 convolution: one call that gets the chosen convolution.
# (conv2d_add_s8.c: tk_conv2d_add_s8_chunk_size(), which tinykd_model_check() calls)
RESIDUAL = ResidualWrapper("tk_conv2d_add_s8_cm4", f"{CM4_DIR}/conv2d_add_s8_cm4.c", "conv2d_add_s8_cm4.h",
                           takes_conv=True, needs=(f"{NN_DIR}/src/conv2d_add_s8.c",))
