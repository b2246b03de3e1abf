"""Read a .tflite flatbuffer into plain Python objects, through the `tflite` schema package."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tflite

from ..errors import ExportError

_TYPES = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}
_NUMPY = {"FLOAT32": np.float32, "INT32": np.int32, "INT8": np.int8, "UINT8": np.uint8,
          "INT64": np.int64, "INT16": np.int16, "BOOL": np.bool_, "FLOAT16": np.float16}
_OPS = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
_OPTIONS = {v: k for k, v in vars(tflite.BuiltinOptions).items() if not k.startswith("_")}
_SKIP = ("GetRootAs", "Init")


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str                      # schema name: INT8, INT32, FLOAT32, ...
    scale: np.ndarray | None = None     # float32 [1] or [channels]
    zero_point: np.ndarray | None = None
    quant_dim: int = 0
    data: np.ndarray | None = None  # constant contents, shaped

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(_NUMPY.get(self.dtype, np.int8)).itemsize

    @property
    def per_channel(self) -> bool:
        return self.scale is not None and len(self.scale) > 1


@dataclass
class Op:
    index: int
    name: str                       # builtin operator name, e.g. CONV_2D
    inputs: list[int]               # tensor indices, -1 = optional input absent
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class Graph:
    tensors: list[Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]


def _options(op) -> dict:
    kind = _OPTIONS.get(op.BuiltinOptionsType(), "NONE")
    table = op.BuiltinOptions()
    if kind == "NONE" or table is None:
        return {}
    obj = getattr(tflite, kind)()
    obj.Init(table.Bytes, table.Pos)
    out = {}
    for name in dir(obj):
        if name.startswith(("_", *_SKIP)) or name.endswith(("IsNone", "Length", "AsNumpy", "HasIdentifier")):
            continue
        if hasattr(obj, name + "AsNumpy"):
            value = getattr(obj, name + "AsNumpy")()
            out[name] = [] if isinstance(value, int) else [int(v) for v in value]
        else:
            value = getattr(obj, name)()
            if isinstance(value, (int, float, bool)):
                out[name] = value
    return out


def read_tflite(blob: bytes) -> Graph:
    """Parse a TFLite flatbuffer (first subgraph) into a Graph."""
    try:
        model = tflite.Model.GetRootAs(blob, 0)
        if model.SubgraphsLength() < 1:
            raise ExportError("the .tflite file holds no subgraph")
        sub = model.Subgraphs(0)
    except ExportError:
        raise
    except Exception as exc:  # a corrupt flatbuffer raises anything from struct/IndexError
        raise ExportError(f"not a readable .tflite flatbuffer: {exc}") from None
    if model.SubgraphsLength() > 1:
        raise ExportError(f"model has {model.SubgraphsLength()} subgraphs; only single-subgraph models are supported")

    tensors = []
    for i in range(sub.TensorsLength()):
        t = sub.Tensors(i)
        dtype = _TYPES.get(t.Type(), f"TYPE{t.Type()}")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        tensor = Tensor(i, (t.Name() or b"").decode("utf-8", "replace"), shape, dtype)
        q = t.Quantization()
        if q is not None and q.ScaleLength() > 0:
            tensor.scale = np.asarray(q.ScaleAsNumpy(), dtype=np.float32)
            tensor.zero_point = np.asarray(q.ZeroPointAsNumpy(), dtype=np.int64)
            tensor.quant_dim = int(q.QuantizedDimension())
        buf = model.Buffers(t.Buffer())
        if buf is not None and buf.DataLength() > 0:
            raw = buf.DataAsNumpy().tobytes()
            np_type = _NUMPY.get(dtype)
            if np_type is None:
                raise ExportError(f"tensor {tensor.name!r} has unsupported type {dtype}")
            tensor.data = np.frombuffer(raw, dtype=np_type).reshape(shape).copy()
        tensors.append(tensor)

    ops = []
    for i in range(sub.OperatorsLength()):
        op = sub.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
        name = _OPS.get(builtin, f"BUILTIN_{builtin}")
        if name == "CUSTOM":
            name = f"CUSTOM({(code.CustomCode() or b'').decode()})"
        ops.append(Op(i, name, [int(x) for x in op.InputsAsNumpy()] if op.InputsLength() else [],
                      [int(x) for x in op.OutputsAsNumpy()] if op.OutputsLength() else [], _options(op)))
    return Graph(tensors, ops, [int(x) for x in sub.InputsAsNumpy()], [int(x) for x in sub.OutputsAsNumpy()])
