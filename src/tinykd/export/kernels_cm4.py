"""Cortex-M4 DSP kernel variants (firmware/nn/src/cm4/): which layers each accepts and the
scratch bytes it needs, mirroring the C `*_scratch_size()` companions exactly (the generated
`tinykd_model_check()` compares them at run time).

Selection, as CMSIS-NN's wrappers do it, from the layer's shape only (highest priority wins,
the reference kernel is the fallback of every family):

- conv2d: 1x1 path (1x1 kernel, no padding, C_in % 4 == 0) and 3x3 path (3x3 kernel,
  dilation 1, C_in % 4 == 0) at priority 20; the general path (any kernel, stride, padding,
  dilation, C_in) at priority 10; grouped convolutions stay on the reference kernel.
- depthwise_conv2d: depth multiplier 1.
- fully_connected: symmetric int8 weights (filter_offset 0, always the case for TFLite int8).
- add: every ADD (per-input lookup tables on the stack, 2 KB; no arena scratch).
"""
from __future__ import annotations

from .kernels import NN_DIR, KernelVariant, register

CM4_DIR = f"{NN_DIR}/src/cm4"
WEIGHT_BUDGET = 16384      # TK_CM4_WEIGHT_BUDGET in tk_cm4_conv_core.h
RQ_ENTRY_BYTES = 24        # sizeof(tk_cm4_rq) in tk_cm4_requant.h


def round4(k: int) -> int:
    return (k + 3) & ~3


def chunk_channels(out_c: int, k4: int) -> int:
    """tk_cm4_chunk_channels(): output channels whose int16 weights are expanded at once."""
    per_channel = k4 * 2
    if out_c * per_channel <= WEIGHT_BUDGET:
        return out_c
    mc = max((WEIGHT_BUDGET // per_channel) & ~1, 2)
    chunks = (out_c + mc - 1) // mc
    balanced = (out_c + chunks - 1) // chunks
    return (balanced + 1) & ~1


def conv_scratch(out_c: int, k: int, extra: int = 0) -> int:
    """tk_cm4_conv_scratch(): requant table + weight chunk + two im2col columns (+ extra)."""
    k4 = round4(k)
    return out_c * RQ_ENTRY_BYTES + chunk_channels(out_c, k4) * k4 * 2 + 2 * k4 * 2 + extra


def _conv_k(layer) -> int:
    _, kh, kw, kc = layer.dims["filter"]
    return int(kh * kw * kc)


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
            and kc % 4 == 0)


def _scratch_conv(layer) -> int:
    k = _conv_k(layer)
    return conv_scratch(layer.dims["output"][3], k, round4(k))


def _scratch_conv_direct(layer) -> int:
    return conv_scratch(layer.dims["output"][3], _conv_k(layer))


def _accepts_dw(layer) -> bool:
    return layer.params["depth_multiplier"] == 1


def _scratch_dw(layer) -> int:
    return layer.dims["output"][3] * RQ_ENTRY_BYTES


def _accepts_fc(layer) -> bool:
    return layer.params["filter_offset"] == 0


def _scratch_fc(layer) -> int:
    _, depth, units, _ = layer.dims["fc"]
    return units * RQ_ENTRY_BYTES + round4(depth) * 2


def _always(layer) -> bool:
    return True


def _cm4(family: str, stem: str, priority: int, accepts, scratch=None) -> KernelVariant:
    extra = {"scratch": scratch, "scratch_function": f"tk_{stem}_scratch_size"} if scratch else {}
    return register(KernelVariant(family, f"tk_{stem}", f"{CM4_DIR}/{stem}.c", f"{stem}.h",
                                  variant="cortex-m4", priority=priority, accepts=accepts, **extra))


CONV_1X1 = _cm4("conv2d", "conv2d_1x1_s8_cm4", 20, _accepts_conv_1x1, _scratch_conv_direct)
CONV_3X3 = _cm4("conv2d", "conv2d_3x3_s8_cm4", 20, _accepts_conv_3x3, _scratch_conv_direct)
CONV = _cm4("conv2d", "conv2d_s8_cm4", 10, _accepts_conv, _scratch_conv)
DEPTHWISE = _cm4("depthwise_conv2d", "depthwise_conv2d_s8_cm4", 10, _accepts_dw, _scratch_dw)
FULLY_CONNECTED = _cm4("fully_connected", "fully_connected_s8_cm4", 10, _accepts_fc, _scratch_fc)
ADD = _cm4("add", "add_s8_cm4", 10, _always)
VARIANTS = (CONV_1X1, CONV_3X3, CONV, DEPTHWISE, FULLY_CONNECTED, ADD)
