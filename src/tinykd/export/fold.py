"""Graph clean-up before lowering: fold shape arithmetic, strip float I/O conversions.

Keras' Flatten converts to SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE on int32 shape
tensors. At batch 1 every shape is static, so these ops are evaluated here and their
outputs become constants; the RESHAPE then only needs its (static) output shape.
"""
from __future__ import annotations

import numpy as np

from ..errors import ExportError
from .reader import Graph, Op

FOLDABLE = {"SHAPE", "STRIDED_SLICE", "PACK", "CONCATENATION", "CAST", "GATHER", "SLICE", "SQUEEZE", "EXPAND_DIMS",
            "REDUCE_PROD", "MUL", "ADD", "SUB", "FLOOR_DIV"}


def _strided_slice(op: Op, x, begin, end, strides):
    o = op.options
    if o.get("EllipsisMask", 0) or o.get("NewAxisMask", 0):
        raise ExportError(f"operator {op.index} (STRIDED_SLICE): ellipsis/new-axis masks cannot be folded")
    index = []
    for d in range(len(begin)):
        b = None if (o.get("BeginMask", 0) >> d) & 1 else int(begin[d])
        e = None if (o.get("EndMask", 0) >> d) & 1 else int(end[d])
        if (o.get("ShrinkAxisMask", 0) >> d) & 1:
            index.append(int(begin[d]))
        else:
            index.append(slice(b, e, int(strides[d])))
    return np.asarray(x[tuple(index)])


def _evaluate(graph: Graph, op: Op):
    t = graph.tensors
    vals = [t[i].data if i >= 0 else None for i in op.inputs]
    out = t[op.outputs[0]]
    if op.name == "SHAPE":
        src = t[op.inputs[0]]
        return np.asarray(src.shape, dtype=np.int32 if out.dtype == "INT32" else np.int64)
    if any(v is None for v in vals):
        return None
    if op.name == "STRIDED_SLICE":
        return _strided_slice(op, *vals)
    if op.name == "PACK":
        return np.stack(vals, axis=op.options.get("Axis", 0))
    if op.name == "CONCATENATION":
        return np.concatenate(vals, axis=op.options.get("Axis", 0))
    if op.name == "CAST":
        return vals[0]
    if op.name == "GATHER":
        return np.take(vals[0], vals[1], axis=op.options.get("Axis", 0))
    if op.name == "SLICE":
        begin, size = vals[1], vals[2]
        return vals[0][tuple(slice(int(b), None if s < 0 else int(b) + int(s)) for b, s in zip(begin, size))]
    if op.name == "SQUEEZE":
        return vals[0].reshape(out.shape)
    if op.name == "EXPAND_DIMS":
        return vals[0].reshape(out.shape)
    if op.name == "REDUCE_PROD":
        axes = tuple(int(a) for a in np.asarray(vals[1]).reshape(-1))
        return np.prod(vals[0], axis=axes, keepdims=bool(op.options.get("KeepDims", False)))
    if op.name in ("MUL", "ADD", "SUB", "FLOOR_DIV") and not op.options.get("FusedActivationFunction", 0):
        a, b = vals[0], vals[1]
        return {"MUL": np.multiply, "ADD": np.add, "SUB": np.subtract, "FLOOR_DIV": np.floor_divide}[op.name](a, b)
    return None


def _fix_shape(graph: Graph, op: Op) -> None:
    """Recompute output shapes the converter left as placeholders for a dynamic batch
    (RESHAPE from its folded shape input, FULLY_CONNECTED from its input and weights)."""
    t = graph.tensors
    out = t[op.outputs[0]]
    if op.name == "RESHAPE":
        src = t[op.inputs[0]]
        if len(op.inputs) > 1 and op.inputs[1] >= 0 and t[op.inputs[1]].data is not None:
            new = [int(v) for v in t[op.inputs[1]].data.reshape(-1)]
        elif op.options.get("NewShape"):
            new = list(op.options["NewShape"])
        else:
            return
        if new.count(-1) == 1:
            known = int(np.prod([d for d in new if d != -1], dtype=np.int64))
            new[new.index(-1)] = src.size // known if known else 0
        if int(np.prod(new, dtype=np.int64)) == src.size:
            out.shape = tuple(new)
    elif op.name == "FULLY_CONNECTED" and len(op.inputs) > 1:
        src, w = t[op.inputs[0]], t[op.inputs[1]]
        if len(w.shape) != 2 or not w.shape[1] or src.size % w.shape[1]:
            return
        units = w.shape[0]
        if op.options.get("KeepNumDims", False):
            out.shape = tuple(src.shape[:-1]) + (units,)
        else:
            out.shape = (src.size // w.shape[1], units)


def fold_constants(graph: Graph) -> Graph:
    """Evaluate shape-only operators whose inputs are known; drop them from the graph."""
    kept = []
    for op in graph.ops:
        out = graph.tensors[op.outputs[0]] if op.outputs else None
        value = None
        if op.name in FOLDABLE and out is not None and out.dtype in ("INT32", "INT64"):
            value = _evaluate(graph, op)
        if value is None and out is not None:
            _fix_shape(graph, op)
        if value is not None:
            out.data = np.asarray(value).astype(out.data.dtype if out.data is not None else
                                                (np.int32 if out.dtype == "INT32" else np.int64)).reshape(out.shape)
            continue
        kept.append(op)
    graph.ops = kept
    return graph


def strip_float_io(graph: Graph) -> list[str]:
    """Drop a leading QUANTIZE (float -> int8) and trailing DEQUANTIZE (int8 -> float).

    The generated code's contract is int8 in, int8 out; the caller quantizes with the
    scale/zero point recorded in model.h. Returns notes describing what was removed.
    """
    notes = []
    t = graph.tensors
    for pos, idx in enumerate(list(graph.inputs)):
        if t[idx].dtype != "FLOAT32":
            continue
        users = [op for op in graph.ops if idx in op.inputs]
        if len(users) == 1 and users[0].name == "QUANTIZE" and t[users[0].outputs[0]].dtype == "INT8":
            graph.inputs[pos] = users[0].outputs[0]
            graph.ops.remove(users[0])
            notes.append(f"float input {t[idx].name!r}: QUANTIZE removed, model takes int8")
    for pos, idx in enumerate(list(graph.outputs)):
        if t[idx].dtype != "FLOAT32":
            continue
        producers = [op for op in graph.ops if idx in op.outputs]
        if len(producers) == 1 and producers[0].name == "DEQUANTIZE" and t[producers[0].inputs[0]].dtype == "INT8":
            graph.outputs[pos] = producers[0].inputs[0]
            graph.ops.remove(producers[0])
            notes.append(f"float output {t[idx].name!r}: DEQUANTIZE removed, model returns int8")
    return notes
