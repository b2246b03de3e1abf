"""Lower TFLite operators to kernel calls: validate each operator and precompute every
constant its kernel needs (multipliers, shifts, padding, clamps)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ExportError
from .quant import (
    ACTIVATIONS,
    activation_range,
    f32,
    mean_rescale,
    out_size,
    padding_before,
    quantize_multiplier,
    softmax_params,
)
from .reader import Graph, Op, Tensor

SUPPORTED = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "AVERAGE_POOL_2D",
             "MEAN", "ADD", "RESHAPE", "SOFTMAX", "PAD", "PADV2", "QUANTIZE", "DEQUANTIZE")
ALIASES = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")   # change the shape only: no code, shared memory
_PADDING = {0: "SAME", 1: "VALID"}


@dataclass
class Layer:
    """One kernel call (or a shape-only alias) of the generated code."""
    op_index: int                   # position of the operator in the .tflite graph
    op: str                         # TFLite operator name
    kind: str                       # kernel family: conv2d, depthwise_conv2d, ... , alias
    inputs: list[int]               # tensors read (activations and constants)
    outputs: list[int]              # tensors written
    params: dict = field(default_factory=dict)   # scalar fields of the kernel's param struct
    arrays: dict = field(default_factory=dict)   # constant arrays emitted to model_data.c
    dims: dict = field(default_factory=dict)     # name -> (n, h, w, c)
    macs: int = 0
    kernel: object = None           # KernelVariant chosen by kernels.select()
    scratch_bytes: int = 0
    residual: dict | None = None    # conv2d with a fused residual ADD (fuse.py): add, conv_is_input1, rows

    @property
    def weight_bytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays.values()))


def _fail(op: Op, why: str) -> ExportError:
    return ExportError(f"operator {op.index} ({op.name}): {why}")


def _dims4(shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(shape) > 4:
        raise ValueError(shape)
    s = (1,) * (4 - len(shape)) + tuple(int(x) for x in shape)
    return s  # type: ignore[return-value]


def _zp(t: Tensor) -> int:
    return int(t.zero_point[0]) if t.zero_point is not None and len(t.zero_point) else 0


def _scale(t: Tensor) -> float:
    return f32(t.scale[0]) if t.scale is not None and len(t.scale) else 0.0


def _int8_act(graph: Graph, op: Op, idx: int, what: str) -> Tensor:
    t = graph.tensors[idx]
    if t.dtype != "INT8":
        raise _fail(op, f"{what} tensor {t.name!r} is {t.dtype}; only int8 activations are supported")
    if t.scale is None or len(t.scale) != 1:
        raise _fail(op, f"{what} tensor {t.name!r} needs per-tensor quantization")
    if len(t.shape) > 4:
        raise _fail(op, f"{what} tensor {t.name!r} has rank {len(t.shape)}; at most 4 is supported")
    return t


def _activation(op: Op, out: Tensor) -> tuple[int, int]:
    act = int(op.options.get("FusedActivationFunction", 0))
    if ACTIVATIONS.get(act) not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
        raise _fail(op, f"fused activation {ACTIVATIONS.get(act, act)} is not supported "
                        "(NONE, RELU, RELU6, RELU_N1_TO_1)")
    return activation_range(act, _scale(out), _zp(out))


def _padding(op: Op) -> str:
    code = int(op.options.get("Padding", 0))
    if code not in _PADDING:
        raise _fail(op, f"padding type {code} is not supported (SAME, VALID)")
    return _PADDING[code]


def _same_quant(op: Op, a: Tensor, b: Tensor) -> None:
    if _zp(a) != _zp(b) or np.float32(_scale(a)) != np.float32(_scale(b)):
        raise _fail(op, f"input and output quantization differ ({_scale(a)}, {_zp(a)}) vs ({_scale(b)}, {_zp(b)})")


def _weights(graph: Graph, op: Op, idx: int, channels: int, quant_dim: int) -> tuple[Tensor, np.ndarray]:
    f = graph.tensors[idx]
    if f.data is None or f.dtype != "INT8":
        raise _fail(op, f"weights {f.name!r} must be constant int8 "
                        f"(got {f.dtype}{'' if f.is_const else ', not constant'})")
    if f.scale is None:
        raise _fail(op, f"weights {f.name!r} are not quantized")
    if f.per_channel and (len(f.scale) != channels or f.quant_dim != quant_dim):
        raise _fail(op, f"weights {f.name!r}: {len(f.scale)} scales on dimension {f.quant_dim}, "
                        f"expected {channels} on {quant_dim}")
    scales = f.scale if f.per_channel else np.repeat(f.scale[:1], channels)
    return f, scales


def _bias(graph: Graph, op: Op, idx: int, channels: int):
    if idx < 0:
        return None
    b = graph.tensors[idx]
    if b.data is None or b.dtype != "INT32":
        raise _fail(op, f"bias {b.name!r} must be constant int32 (got {b.dtype})")
    if b.size != channels:
        raise _fail(op, f"bias {b.name!r} has {b.size} values, expected {channels}")
    return b.data.reshape(-1).astype(np.int32)


def _channel_quant(in_scale: float, filter_scales: np.ndarray, out_scale: float) -> tuple[np.ndarray, np.ndarray]:
    mult, shift = [], []
    for s in filter_scales:
        m, sh = quantize_multiplier(in_scale * f32(s) / out_scale)
        mult.append(m)
        shift.append(sh)
    return np.asarray(mult, dtype=np.int32), np.asarray(shift, dtype=np.int32)


def _conv_common(graph: Graph, op: Op, depthwise: bool) -> Layer:
    x = _int8_act(graph, op, op.inputs[0], "input")
    y = _int8_act(graph, op, op.outputs[0], "output")
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise _fail(op, "input and output must be 4-D NHWC")
    o = op.options
    padding = _padding(op)
    sh, sw = int(o.get("StrideH", 1)), int(o.get("StrideW", 1))
    dh, dw = int(o.get("DilationHFactor", 1)), int(o.get("DilationWFactor", 1))
    n, ih, iw, ic = x.shape
    _, oh, ow, oc = y.shape
    quant_dim = 3 if depthwise else 0
    f, fscales = _weights(graph, op, op.inputs[1], oc, quant_dim)
    if len(f.shape) != 4:
        raise _fail(op, f"weights must be 4-D, got {f.shape}")
    if depthwise:
        _, kh, kw, fc = f.shape
        if fc != oc or oc % ic:
            raise _fail(op, f"depthwise weights {f.shape} do not match {ic} input / {oc} output channels")
        dm = oc // ic
        opt_dm = int(o.get("DepthMultiplier", dm))
        if opt_dm not in (0, dm):
            raise _fail(op, f"depth_multiplier option {opt_dm} disagrees with the shapes ({dm})")
    else:
        fo, kh, kw, fc = f.shape
        if fo != oc or fc < 1 or ic % fc:
            raise _fail(op, f"weights {f.shape} do not match {ic} input / {oc} output channels")
    exp_h, exp_w = out_size(padding, ih, kh, sh, dh), out_size(padding, iw, kw, sw, dw)
    if (exp_h, exp_w) != (oh, ow):
        raise _fail(op, f"output {oh}x{ow} disagrees with {padding} padding ({exp_h}x{exp_w})")
    mult, shift = _channel_quant(_scale(x), fscales, _scale(y))
    bias = _bias(graph, op, op.inputs[2] if len(op.inputs) > 2 else -1, oc)
    act_min, act_max = _activation(op, y)
    params = dict(input_offset=-_zp(x), output_offset=_zp(y), stride_h=sh, stride_w=sw,
                  pad_h=padding_before(sh, dh, ih, kh, oh), pad_w=padding_before(sw, dw, iw, kw, ow),
                  dilation_h=dh, dilation_w=dw)
    if depthwise:
        params["depth_multiplier"] = dm
    params.update(act_min=act_min, act_max=act_max)
    arrays = {"filter": f.data.astype(np.int8), "multiplier": mult, "shift": shift}
    if bias is not None:
        arrays["bias"] = bias
    macs = n * oh * ow * oc * kh * kw * (1 if depthwise else fc)
    return Layer(op.index, op.name, "depthwise_conv2d" if depthwise else "conv2d", [x.index], [y.index],
                 params, arrays, {"input": _dims4(x.shape), "filter": _dims4(f.shape), "output": _dims4(y.shape)}, macs)


def _fully_connected(graph: Graph, op: Op) -> Layer:
    x = _int8_act(graph, op, op.inputs[0], "input")
    y = _int8_act(graph, op, op.outputs[0], "output")
    if int(op.options.get("WeightsFormat", 0)) != 0:
        raise _fail(op, "shuffled weights format is not supported")
    ft = graph.tensors[op.inputs[1]]
    if len(ft.shape) != 2:
        raise _fail(op, f"weights must be 2-D, got {ft.shape}")
    units, depth = ft.shape
    f, fscales = _weights(graph, op, op.inputs[1], units, 0)
    if x.size % depth or y.size != (x.size // depth) * units:
        raise _fail(op, f"input {x.shape} / output {y.shape} do not match weights {f.shape}")
    rows = x.size // depth
    mult, shift = _channel_quant(_scale(x), fscales, _scale(y))
    bias = _bias(graph, op, op.inputs[2] if len(op.inputs) > 2 else -1, units)
    act_min, act_max = _activation(op, y)
    params = dict(input_offset=-_zp(x), filter_offset=-int(f.zero_point[0]) if not f.per_channel else 0,
                  output_offset=_zp(y), act_min=act_min, act_max=act_max)
    arrays = {"filter": f.data.astype(np.int8), "multiplier": mult, "shift": shift}
    if bias is not None:
        arrays["bias"] = bias
    layer = Layer(op.index, op.name, "fully_connected", [x.index], [y.index], params, arrays, {}, rows * depth * units)
    layer.dims = {"fc": (rows, depth, units, 0)}
    return layer


def _pool(graph: Graph, op: Op, kind: str) -> Layer:
    x = _int8_act(graph, op, op.inputs[0], "input")
    y = _int8_act(graph, op, op.outputs[0], "output")
    if len(x.shape) != 4 or len(y.shape) != 4:
        raise _fail(op, "input and output must be 4-D NHWC")
    _same_quant(op, x, y)
    o = op.options
    padding = _padding(op)
    sh, sw = int(o.get("StrideH", 1)), int(o.get("StrideW", 1))
    fh, fw = int(o.get("FilterHeight", 1)), int(o.get("FilterWidth", 1))
    _, ih, iw, _ = x.shape
    _, oh, ow, oc = y.shape
    if (out_size(padding, ih, fh, sh), out_size(padding, iw, fw, sw)) != (oh, ow):
        raise _fail(op, f"output {oh}x{ow} disagrees with {padding} padding")
    act_min, act_max = _activation(op, y)
    params = dict(filter_h=fh, filter_w=fw, stride_h=sh, stride_w=sw,
                  pad_h=padding_before(sh, 1, ih, fh, oh), pad_w=padding_before(sw, 1, iw, fw, ow),
                  act_min=act_min, act_max=act_max)
    return Layer(op.index, op.name, kind, [x.index], [y.index], params, {},
                 {"input": _dims4(x.shape), "output": _dims4(y.shape)}, y.size * fh * fw)


def _mean(graph: Graph, op: Op) -> Layer:
    x = _int8_act(graph, op, op.inputs[0], "input")
    y = _int8_act(graph, op, op.outputs[0], "output")
    axis_t = graph.tensors[op.inputs[1]]
    if axis_t.data is None:
        raise _fail(op, "axes must be constant")
    rank = len(x.shape)
    mask = 0
    for a in axis_t.data.reshape(-1):
        a = int(a) + (rank if a < 0 else 0)
        if not 0 <= a < rank:
            raise _fail(op, f"axis {a} out of range for rank {rank}")
        mask |= 1 << (a + 4 - rank)
    count = int(np.prod([d for k, d in enumerate(_dims4(x.shape)) if (mask >> k) & 1]))
    same = _zp(x) == _zp(y) and np.float32(_scale(x)) == np.float32(_scale(y))
    mult, shift = quantize_multiplier(_scale(x) / _scale(y))
    mult, shift = mean_rescale(mult, shift, count) if not same else (mult, shift)
    params = dict(axis_mask=mask, mode="TK_MEAN_DIVIDE" if same else "TK_MEAN_RESCALE",
                  input_zero_point=_zp(x), output_zero_point=_zp(y), multiplier=mult, shift=shift)
    return Layer(op.index, op.name, "mean", [x.index], [y.index], params, {},
                 {"input": _dims4(x.shape)}, x.size)


def _add(graph: Graph, op: Op) -> Layer:
    a = _int8_act(graph, op, op.inputs[0], "first input")
    b = _int8_act(graph, op, op.inputs[1], "second input")
    y = _int8_act(graph, op, op.outputs[0], "output")
    if b.size > a.size:
        a, b = b, a   # the arithmetic is symmetric once each input keeps its own multiplier
    sa_shape = tuple(d for d in a.shape)
    sb_shape = tuple(d for d in b.shape)
    while sb_shape and sb_shape[0] == 1 and len(sb_shape) > 1:
        sb_shape = sb_shape[1:]
    trailing = sa_shape[len(sa_shape) - len(sb_shape):] if sb_shape else ()
    if a.size != y.size or (a.shape != b.shape and trailing != sb_shape):
        raise _fail(op, f"broadcasting {graph.tensors[op.inputs[0]].shape} + {graph.tensors[op.inputs[1]].shape} is "
                        "not supported; inputs must have the same shape or the second the trailing "
                        "dimensions of the first")
    left_shift = 20
    sa, sb, so = _scale(a), _scale(b), _scale(y)
    twice_max = 2 * max(sa, sb)
    m1, s1 = quantize_multiplier(sa / twice_max)
    m2, s2 = quantize_multiplier(sb / twice_max)
    mo, so_ = quantize_multiplier(twice_max / ((1 << left_shift) * so))
    act_min, act_max = _activation(op, y)
    params = dict(input1_offset=-_zp(a), input2_offset=-_zp(b), output_offset=_zp(y), left_shift=left_shift,
                  input1_multiplier=m1, input1_shift=s1, input2_multiplier=m2, input2_shift=s2,
                  output_multiplier=mo, output_shift=so_, act_min=act_min, act_max=act_max)
    layer = Layer(op.index, op.name, "add", [a.index, b.index], [y.index], params, {}, {}, 0)
    layer.dims = {"size": (y.size, b.size, 0, 0)}
    return layer


def _softmax(graph: Graph, op: Op) -> Layer:
    x = _int8_act(graph, op, op.inputs[0], "input")
    y = _int8_act(graph, op, op.outputs[0], "output")
    if _zp(y) != -128 or np.float32(_scale(y)) != np.float32(1.0 / 256):
        raise _fail(op, f"int8 softmax output must have scale 1/256 and zero point -128 (got {_scale(y)}, {_zp(y)})")
    beta = f32(op.options.get("Beta", 1.0))
    mult, left_shift, diff_min = softmax_params(beta, _scale(x))
    depth = x.shape[-1] if x.shape else 1
    layer = Layer(op.index, op.name, "softmax", [x.index], [y.index],
                  dict(input_multiplier=mult, input_left_shift=left_shift, diff_min=diff_min), {}, {}, 0)
    layer.dims = {"softmax": (x.size // depth, depth, 0, 0)}
    return layer


def _pad(graph: Graph, op: Op) -> Layer:
    x = _int8_act(graph, op, op.inputs[0], "input")
    y = _int8_act(graph, op, op.outputs[0], "output")
    _same_quant(op, x, y)
    p = graph.tensors[op.inputs[1]]
    if p.data is None:
        raise _fail(op, "paddings must be constant")
    pads = p.data.reshape(-1, 2).astype(np.int64)
    rank = len(x.shape)
    before = [0] * (4 - rank) + [int(v) for v in pads[:, 0]]
    after = [0] * (4 - rank) + [int(v) for v in pads[:, 1]]
    if min(before + after) < 0:
        raise _fail(op, "negative paddings are not supported")
    value = _zp(y)
    if op.name == "PADV2" and len(op.inputs) > 2 and op.inputs[2] >= 0:
        c = graph.tensors[op.inputs[2]]
        if c.data is None:
            raise _fail(op, "the pad value must be constant")
        value = int(c.data.reshape(-1)[0])
    params = {"before": before, "after": after, "value": value}
    return Layer(op.index, op.name, "pad", [x.index], [y.index], params, {}, {"input": _dims4(x.shape)}, 0)


def _quantize(graph: Graph, op: Op) -> Layer:
    x = graph.tensors[op.inputs[0]]
    y = graph.tensors[op.outputs[0]]
    if x.dtype != "INT8" or y.dtype != "INT8":
        raise _fail(op, f"{x.dtype} -> {y.dtype} inside the graph is not supported; only int8 -> int8 "
                        "requantization (float input/output conversions are removed at the boundary)")
    _int8_act(graph, op, x.index, "input")
    _int8_act(graph, op, y.index, "output")
    mult, shift = quantize_multiplier(_scale(x) / _scale(y))
    layer = Layer(op.index, op.name, "requantize", [x.index], [y.index],
                  dict(input_zero_point=_zp(x), output_zero_point=_zp(y), multiplier=mult, shift=shift), {}, {}, 0)
    layer.dims = {"size": (y.size, 0, 0, 0)}
    return layer


def _alias(graph: Graph, op: Op) -> Layer:
    x = _int8_act(graph, op, op.inputs[0], "input")
    y = _int8_act(graph, op, op.outputs[0], "output")
    _same_quant(op, x, y)
    if x.size != y.size:
        raise _fail(op, f"reshape {x.shape} -> {y.shape} changes the element count")
    layer = Layer(op.index, op.name, "alias", [x.index], [y.index], {}, {}, {}, 0)
    layer.dims = {"size": (y.size, 0, 0, 0)}
    return layer


def lower(graph: Graph) -> list[Layer]:
    """Turn every operator into a Layer; any operator or option outside the supported set
    raises ExportError naming the operator and its index in the graph."""
    layers = []
    for op in graph.ops:
        name = op.name
        if name == "CONV_2D":
            layers.append(_conv_common(graph, op, depthwise=False))
        elif name == "DEPTHWISE_CONV_2D":
            layers.append(_conv_common(graph, op, depthwise=True))
        elif name == "FULLY_CONNECTED":
            layers.append(_fully_connected(graph, op))
        elif name == "MAX_POOL_2D":
            layers.append(_pool(graph, op, "max_pool2d"))
        elif name == "AVERAGE_POOL_2D":
            layers.append(_pool(graph, op, "avg_pool2d"))
        elif name == "MEAN":
            layers.append(_mean(graph, op))
        elif name == "ADD":
            layers.append(_add(graph, op))
        elif name == "SOFTMAX":
            layers.append(_softmax(graph, op))
        elif name in ("PAD", "PADV2"):
            layers.append(_pad(graph, op))
        elif name in ("QUANTIZE", "DEQUANTIZE"):
            layers.append(_quantize(graph, op))
        elif name in ALIASES:
            layers.append(_alias(graph, op))
        else:
            raise ExportError(f"unsupported operator {name} at index {op.index}; supported: {', '.join(SUPPORTED)}")
    return layers
