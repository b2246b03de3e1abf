"""TFLite's quantization arithmetic, done at export time with the same double-precision
steps as TFLite Micro's Prepare functions, so the generated constants are identical."""
from __future__ import annotations

import math

import numpy as np

ACTIVATIONS = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT"}


def round_half_away(x: float) -> int:
    """std::round: halves away from zero."""
    return int(math.copysign(math.floor(abs(x) + 0.5), x))


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real = q * 2^(shift - 31), q in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return int(q_fixed), int(shift)


def f32(x) -> float:
    """A value as TFLite holds it (float32), widened to double as its Prepare code does."""
    return float(np.float32(x))


def activation_range(act: int, scale: float, zero_point: int) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for int8 outputs."""
    qmin, qmax = -128, 127

    def q(f: float) -> int:
        return int(zero_point) + round_half_away(float(np.float32(f) / np.float32(scale)))

    name = ACTIVATIONS.get(act, str(act))
    if name == "NONE":
        return qmin, qmax
    if name == "RELU":
        return max(qmin, q(0.0)), qmax
    if name == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if name == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise ValueError(name)


def out_size(padding: str, image: int, filt: int, stride: int, dilation: int = 1) -> int:
    eff = (filt - 1) * dilation + 1
    if padding == "SAME":
        return (image + stride - 1) // stride
    return (image + stride - eff) // stride


def padding_before(stride: int, dilation: int, in_size: int, filt: int, out: int) -> int:
    """TFLite ComputePaddingWithOffset: the padding before (top/left)."""
    eff = (filt - 1) * dilation + 1
    total = max((out - 1) * stride + eff - in_size, 0)
    return total // 2


def mean_rescale(multiplier: int, shift: int, count: int) -> tuple[int, int]:
    """Fold 1/count into a MEAN's multiplier as TFLite's QuantizedMeanOrSum does."""
    s = count.bit_length() - 1
    s = min(s, 32)
    s = min(s, 31 + shift)
    return int((multiplier << s) // count), shift - s


def softmax_params(beta: float, input_scale: float) -> tuple[int, int, int]:
    """PreprocessSoftmaxScaling + CalculateInputRadius for int8 (5 integer bits)."""
    int_bits = 5
    real = min(beta * input_scale * (1 << (31 - int_bits)), (1 << 31) - 1.0)
    mult, left_shift = quantize_multiplier(real)
    max_input_rescaled = 1.0 * ((1 << int_bits) - 1) * (1 << (31 - int_bits)) / (1 << left_shift)
    diff_min = -int(math.floor(max_input_rescaled))
    return mult, left_shift, diff_min
