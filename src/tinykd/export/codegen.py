"""Generate model.h / model.c / model_data.c / sources.txt / model.json."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ExportError
from . import kernels, scratch
from .fuse import fuse_residuals
from .inplace import inputs_allowed
from .kernel_variant import NN_INCLUDE
from .layers import Layer
from .layout import choose as choose_layout
from .planner import Buffer, check, plan
from .reader import Graph

REPO_ROOT = Path(__file__).resolve().parents[3]
PREFIX = "tkm"   # symbols of one exported model's constant data


@dataclass
class Program:
    """A lowered model ready for code generation: layers, storage and arena plan."""
    graph: Graph
    layers: list[Layer]                 # code layers (aliases removed), in call order
    storage: dict[int, tuple[str, int]]  # tensor -> ("input"|"output"|"arena"|"const", offset)
    buffers: list[Buffer]
    arena_bytes: int
    scratch: dict[int, int] = field(default_factory=dict)   # layer -> arena offset of scratch
    notes: list[str] = field(default_factory=list)
    peak_layer: int = -1                # the layer whose live buffers reach arena_bytes
    filter_layouts: list[str] = field(default_factory=list)   # layout.py's choices, one line each

    @property
    def input(self):
        return self.graph.tensors[self.graph.inputs[0]]

    @property
    def output(self):
        return self.graph.tensors[self.graph.outputs[0]]

    @property
    def macs(self) -> int:
        return int(sum(layer.macs for layer in self.layers))

    @property
    def weight_bytes(self) -> int:
        """Constant bytes in flash: weights, biases, requantization tables, constant operands."""
        consts = {i for layer in self.layers for i in layer.inputs if self.storage[i][0] == "const"}
        return int(sum(layer.weight_bytes for layer in self.layers) +
                   sum(self.graph.tensors[i].nbytes for i in consts))


def _share_in_place(graph: Graph, code: list[Layer], root, parent: dict[int, int]) -> None:
    """Give a layer's output the memory of an input that dies at that layer, where the kernel
    allows it (inplace.py): the two tensors become one arena buffer, as large as the larger.
    Never the model's input (the caller's, read-only) or output."""
    io = {root(graph.inputs[0]), root(graph.outputs[0])}
    last: dict[int, int] = {}
    for pos, layer in enumerate(code):
        for i in layer.inputs + layer.outputs:
            last[root(i)] = pos
    for pos, layer in enumerate(code):
        allowed = inputs_allowed(layer)
        y = layer.outputs[0]
        if root(y) in io:
            continue
        for k in allowed:
            x = layer.inputs[k]
            t = graph.tensors[x]
            if (not t.is_const and root(x) not in io and last[root(x)] == pos and root(x) != root(y)
                    and (t.nbytes == graph.tensors[y].nbytes or layer.kind in ("conv2d", "max_pool2d"))):
                last[root(x)] = max(last[root(x)], last[root(y)])
                parent[root(y)] = root(x)
                break


def build_program(graph: Graph, layers: list[Layer], variants: str = "auto", notes=(), fuse: bool = True,
                  layout: str = "auto") -> Program:
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise ExportError(f"model has {len(graph.inputs)} inputs and {len(graph.outputs)} outputs; "
                          "exactly one of each is supported")
    for what, idx in (("input", graph.inputs[0]), ("output", graph.outputs[0])):
        t = graph.tensors[idx]
        if t.dtype != "INT8":
            raise ExportError(f"model {what} {t.name!r} is {t.dtype}; convert with int8 input and output types")
    parent: dict[int, int] = {}

    def root(i: int) -> int:
        while parent.get(i, i) != i:
            i = parent[i]
        return i

    def group_has(i: int, target: int) -> bool:
        return root(i) == root(target)

    code = []
    for layer in layers:
        if layer.kind == "alias":
            src, dst = layer.inputs[0], layer.outputs[0]
            if group_has(src, graph.inputs[0]) and dst == graph.outputs[0]:
                layer.kind = "copy"
                code.append(layer)
            else:
                parent[root(dst)] = root(src)
            continue
        code.append(layer)
    if fuse:
        group_reads: dict[int, int] = {}
        for layer in code:
            for i in layer.inputs:
                group_reads[root(i)] = group_reads.get(root(i), 0) + 1
        code = fuse_residuals(code, lambda t: group_reads.get(root(t), 0),
                              lambda t: root(t) == root(graph.outputs[0]))
    for layer in code:
        if layer.kind != "copy":
            layer.kernel = kernels.select(layer, variants)
    layouts = choose_layout(code, layout)   # may swap in an int8-filter twin: scratch after it
    for layer in code:
        if layer.kind != "copy":
            layer.scratch_bytes = scratch.layer_bytes(layer, repo_root())   # the kernels' own C
    for layer in code:
        if layer.kernel is not None and layer.kernel.prepare:
            layer.arrays = layer.kernel.prepare(layer)
    _share_in_place(graph, code, root, parent)

    storage: dict[int, tuple[str, int]] = {}
    groups: dict[int, list[int]] = {}
    for layer in code:
        for i in layer.inputs + layer.outputs:
            t = graph.tensors[i]
            if t.is_const:
                storage[i] = ("const", 0)
            else:
                groups.setdefault(root(i), []).append(i)
    out_root, in_root = root(graph.outputs[0]), root(graph.inputs[0])
    buffers: list[Buffer] = []
    by_root: dict[int, Buffer] = {}
    spans: dict[int, list[int]] = {}   # tensor -> [first, last] layer
    for pos, layer in enumerate(code):
        for i in layer.inputs + layer.outputs:
            r = root(i)
            if graph.tensors[i].is_const or r in (out_root, in_root):
                continue
            buf = by_root.get(r)
            if buf is None:
                size = max(graph.tensors[m].nbytes for m in groups[r])
                buf = by_root[r] = Buffer(f"t{r}:{graph.tensors[r].name}", size, pos, pos)
                buffers.append(buf)
            buf.first, buf.last = min(buf.first, pos), max(buf.last, pos)
            span = spans.setdefault(i, [pos, pos])
            span[1] = pos
    for r, buf in by_root.items():   # an in-place group: each tensor's bytes only while it lives
        if len({graph.tensors[m].nbytes for m in groups[r]}) > 1:
            buf.parts = tuple((spans[m][0], spans[m][1], graph.tensors[m].nbytes) for m in sorted(set(groups[r])))
    scratch_bufs = {}
    for pos, layer in enumerate(code):
        if layer.scratch_bytes > 0:
            scratch_bufs[pos] = Buffer(f"scratch{pos}:{layer.op}", layer.scratch_bytes, pos, pos)
            buffers.append(scratch_bufs[pos])
    arena = plan(buffers)
    problems = check(buffers)
    if problems:  # the planner is tested; this guards against a regression shipping bad code
        raise ExportError("arena plan overlaps live buffers: " + "; ".join(problems))
    for layer in code:
        for i in layer.inputs + layer.outputs:
            if i in storage:
                continue
            r = root(i)
            if r == in_root:
                storage[i] = ("input", 0)
            elif r == out_root:
                storage[i] = ("output", 0)
            else:
                storage[i] = ("arena", by_root[r].offset)
    return Program(graph, code, storage, buffers, arena, {p: b.offset for p, b in scratch_bufs.items()}, list(notes),
                   peak_layer(buffers, len(code)), layouts)


def peak_layer(buffers: list[Buffer], layers: int) -> int:
    """The first layer at which the arena's high-water mark is reached (-1: no arena)."""
    best, where = 0, -1
    for pos in range(layers):
        top = max((b.offset + b.size_at(pos) for b in buffers if b.size_at(pos)), default=0)
        if top > best:
            best, where = top, pos
    return where


# ---------------------------------------------------------------------------- C text

def _c_float(x: float) -> str:
    s = f"{float(np.float32(x)):.9g}"
    if "." not in s and "e" not in s and "inf" not in s and "nan" not in s:
        s += ".0"
    return s + "f"


def _c_array(ctype: str, name: str, values: np.ndarray, align: int = 4) -> str:
    flat = [int(v) for v in np.asarray(values).reshape(-1)]
    lines = []
    for k in range(0, len(flat), 16):
        lines.append("    " + ", ".join(str(v) for v in flat[k:k + 16]) + ",")
    body = "\n".join(lines) if flat else "    0,"
    return f"_Alignas({align}) const {ctype} {name}[{max(len(flat), 1)}] = {{\n{body}\n}};\n"


_CTYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.int32): "int32_t"}


def _dims(d) -> str:
    return "{.n = %d, .h = %d, .w = %d, .c = %d}" % tuple(int(v) for v in d)


def _struct(fields: dict) -> str:
    parts = []
    for k, v in fields.items():
        if isinstance(v, (list, tuple)):
            parts.append(f".{k} = {{{', '.join(str(int(x)) for x in v)}}}")
        else:
            parts.append(f".{k} = {v}")
    return "{" + ", ".join(parts) + "}"


class _Emitter:
    def __init__(self, prog: Program):
        self.prog = prog
        self.data: list[str] = []       # model_data.c definitions
        self.externs: list[str] = []    # model.c declarations
        self.statics: list[str] = []    # model.c per-layer parameter structs
        self.const_syms: dict[int, str] = {}

    def array(self, name: str, values: np.ndarray) -> str:
        arr = np.asarray(values)
        ctype = _CTYPES[arr.dtype]
        self.data.append(_c_array(ctype, name, arr))
        self.externs.append(f"extern const {ctype} {name}[{max(arr.size, 1)}];")
        return name

    def ptr(self, tensor: int, write: bool = False) -> str:
        kind, off = self.prog.storage[tensor]
        if kind == "input":
            return "input"
        if kind == "output":
            return "output"
        if kind == "arena":
            return f"(tinykd_arena + {off})"
        if tensor not in self.const_syms:
            t = self.prog.graph.tensors[tensor]
            self.const_syms[tensor] = self.array(f"{PREFIX}_t{tensor}", t.data.astype(np.int8))
        return self.const_syms[tensor]

    def scratch(self, pos: int) -> str:
        off = self.prog.scratch.get(pos)
        return "NULL" if off is None else f"(void *)(tinykd_arena + {off})"

    def layer(self, pos: int, layer: Layer) -> tuple[str, str | None]:
        """C statement for the layer, and its scratch-size check expression (or None)."""
        L = f"L{pos}"
        fn = layer.kernel.function if layer.kernel else None
        arrays = {k: self.array(f"{PREFIX}_l{pos}_{k}", v) for k, v in layer.arrays.items()}
        x = self.ptr(layer.inputs[0])
        y = self.ptr(layer.outputs[0], write=True)
        check = None
        k = layer.kind
        if k in ("conv2d", "depthwise_conv2d"):
            ptype = "tk_conv_params" if k == "conv2d" else "tk_dw_conv_params"
            self.statics += [
                f"static const {ptype} {L}_p = {_struct(layer.params)};",
                f"static const tk_channel_quant {L}_q = {{{arrays['multiplier']}, {arrays['shift']}}};",
                f"static const tk_dims {L}_in = {_dims(layer.dims['input'])};",
                f"static const tk_dims {L}_f = {_dims(layer.dims['filter'])};",
                f"static const tk_dims {L}_out = {_dims(layer.dims['output'])};",
            ]
            bias = arrays.get("bias", "NULL")
            args = (f"&{L}_p, &{L}_q, &{L}_in, {x}, &{L}_f, {arrays['filter']}, {bias}, "
                    f"&{L}_out, {y}, {self.scratch(pos)}")
            call = f"{fn}({args})"
            band = ""
            if layer.residual is not None:   # fused CONV_2D + ADD (fuse.py)
                res = layer.residual
                wrap = kernels.RESIDUAL[layer.kernel.variant]
                self.statics.append(f"static const tk_residual {L}_r = {{.add = {_struct(res['add'])}, "
                                    f".conv_is_input1 = {res['conv_is_input1']}, .rows = {res['rows']}}};")
                shortcut = self.ptr(layer.inputs[1])
                call = f"{wrap.function}({fn + ', ' if wrap.takes_conv else ''}{args}, &{L}_r, {shortcut})"
                band = f"tk_conv2d_add_s8_chunk_size(&{L}_r, &{L}_out) + "
            if layer.kernel.scratch_function:
                sargs = f"&{L}_in, &{L}_f, &{L}_out"
                if k == "conv2d":
                    sargs = f"&{L}_p, " + sargs
                check = f"{band}{layer.kernel.scratch_function}({sargs}) > {layer.scratch_bytes}"
        elif k == "fully_connected":
            rows, depth, units, _ = layer.dims["fc"]
            self.statics += [
                f"static const tk_fc_params {L}_p = {_struct(layer.params)};",
                f"static const tk_channel_quant {L}_q = {{{arrays['multiplier']}, {arrays['shift']}}};",
            ]
            bias = arrays.get("bias", "NULL")
            call = (f"{fn}(&{L}_p, &{L}_q, {rows}, {depth}, {units}, {x}, {arrays['filter']}, {bias}, {y}, "
                    f"{self.scratch(pos)})")
            if layer.kernel.scratch_function:
                check = f"{layer.kernel.scratch_function}({rows}, {depth}, {units}) > {layer.scratch_bytes}"
        elif k in ("max_pool2d", "avg_pool2d"):
            self.statics += [
                f"static const tk_pool_params {L}_p = {_struct(layer.params)};",
                f"static const tk_dims {L}_in = {_dims(layer.dims['input'])};",
                f"static const tk_dims {L}_out = {_dims(layer.dims['output'])};",
            ]
            call = f"{fn}(&{L}_p, &{L}_in, {x}, &{L}_out, {y})"
        elif k == "mean":
            self.statics += [
                f"static const tk_mean_params {L}_p = {_struct(layer.params)};",
                f"static const tk_dims {L}_in = {_dims(layer.dims['input'])};",
            ]
            call = f"{fn}(&{L}_p, &{L}_in, {x}, {y})"
        elif k == "add":
            x2 = self.ptr(layer.inputs[1])
            self.statics.append(f"static const tk_add_params {L}_p = {_struct(layer.params)};")
            call = f"{fn}(&{L}_p, {layer.dims['size'][0]}, {x}, {layer.dims['size'][1]}, {x2}, {y})"
        elif k == "softmax":
            rows, depth, _, _ = layer.dims["softmax"]
            self.statics.append(f"static const tk_softmax_params {L}_p = {_struct(layer.params)};")
            call = f"{fn}(&{L}_p, {rows}, {depth}, {x}, {y})"
        elif k == "pad":
            self.statics += [
                f"static const tk_pad_params {L}_p = {_struct(layer.params)};",
                f"static const tk_dims {L}_in = {_dims(layer.dims['input'])};",
            ]
            call = f"{fn}(&{L}_p, &{L}_in, {x}, {y})"
        elif k == "requantize":
            self.statics.append(f"static const tk_requantize_params {L}_p = {_struct(layer.params)};")
            call = f"{fn}(&{L}_p, {layer.dims['size'][0]}, {x}, {y})"
        elif k == "copy":
            return f"memcpy({y}, {x}, {layer.dims['size'][0]});\n    st = TK_OK;", None
        else:  # pragma: no cover - lower() only produces the kinds above
            raise ExportError(f"no code generator for kernel family {k!r}")
        return f"st = {call};", check


def _shape_init(shape) -> str:
    return "{" + ", ".join(str(int(s)) for s in shape) + "}"


def render(prog: Program, blob: bytes) -> dict[str, str]:
    """All generated files as {name: text} (sources.txt is added by write())."""
    em = _Emitter(prog)
    body, checks = [], []
    for pos, layer in enumerate(prog.layers):
        stmt, check = em.layer(pos, layer)
        body.append(f"    TINYKD_LAYER_BEGIN({pos});\n    {stmt}\n    TINYKD_LAYER_END({pos});\n"
                    f"    if (st != TK_OK) {{\n        return {pos + 1};\n    }}")
        if check:
            checks.append(f"    if ({check}) {{\n        return {pos + 1};\n    }}")
    x, y = prog.input, prog.output
    sha = hashlib.sha256(blob).hexdigest()
    n = len(prog.layers)
    arena_decl = prog.arena_bytes
    header = f"""/* Generated by `tinykd export` from a model with sha256 {sha}. Do not edit.
 *
 * int tinykd_model_invoke(const int8_t *input, int8_t *output) runs one inference:
 * input is TINYKD_INPUT_BYTES int8 values (NHWC, quantized with TINYKD_INPUT_SCALE and
 * TINYKD_INPUT_ZERO_POINT), output receives TINYKD_OUTPUT_BYTES int8 values. Returns 0
 * on success, else 1 + the index of the failing layer. Not reentrant: the activations
 * live in one static arena of TINYKD_ARENA_BYTES bytes.
 *
 * Define TINYKD_LAYER_BEGIN(i) / TINYKD_LAYER_END(i) when compiling model.c to profile
 * layer i (0 .. TINYKD_NUM_LAYERS - 1); they default to nothing.
 */
#ifndef TINYKD_MODEL_H
#define TINYKD_MODEL_H

#include <stdint.h>

#define TINYKD_INPUT_BYTES   {x.size}
#define TINYKD_OUTPUT_BYTES  {y.size}
#define TINYKD_ARENA_BYTES   {arena_decl}
#define TINYKD_INPUT_RANK {len(x.shape)}
#define TINYKD_INPUT_SHAPE  {_shape_init(x.shape)}
#define TINYKD_OUTPUT_RANK {len(y.shape)}
#define TINYKD_OUTPUT_SHAPE {_shape_init(y.shape)}
#define TINYKD_INPUT_SCALE       {_c_float(x.scale[0])}
#define TINYKD_INPUT_ZERO_POINT  ({int(x.zero_point[0])})
#define TINYKD_OUTPUT_SCALE      {_c_float(y.scale[0])}
#define TINYKD_OUTPUT_ZERO_POINT ({int(y.zero_point[0])})
#define TINYKD_MODEL_SHA256 "{sha}"
#define TINYKD_MACS {prog.macs}
#define TINYKD_NUM_LAYERS {n}
#define TINYKD_WEIGHT_BYTES {prog.weight_bytes}

#ifdef __cplusplus
extern "C" {{
#endif

int tinykd_model_invoke(const int8_t *input, int8_t *output);

/* Operator name and multiply-accumulates of each layer, for profiling reports. */
extern const char *const tinykd_layer_ops[TINYKD_NUM_LAYERS];
extern const uint32_t tinykd_layer_macs[TINYKD_NUM_LAYERS];

/* 0 if every kernel's scratch need (its *_scratch_size()) fits what the export planned,
 * else 1 + the first offending layer. The firmware calls it at boot (app/inference.c) and
 * refuses to run a model that fails it. */
int tinykd_model_check(void);

#ifdef __cplusplus
}}
#endif

#endif /* TINYKD_MODEL_H */
"""
    headers = sorted({h for layer in prog.layers for h in kernels.layer_headers(layer)})
    kernel_includes = "\n".join(f'#include "{h}"' for h in headers)
    arena_def = ("/* Activations and scratch, planned at export time. */\n"
                 "static _Alignas(16) int8_t tinykd_arena[TINYKD_ARENA_BYTES];"
                 if prog.arena_bytes else "/* Every tensor lives in the caller's input/output buffers: no arena. */")
    ops = ", ".join(f'"{layer.op}"' for layer in prog.layers) or '""'
    macs = ", ".join(str(layer.macs) for layer in prog.layers) or "0"
    model_c = f"""/* Generated by `tinykd export`. Do not edit. The graph as straight-line kernel calls. */
#include <stddef.h>
#include <string.h>

#include "model.h"
#include "tk_types.h"
{kernel_includes}

#ifndef TINYKD_LAYER_BEGIN
#define TINYKD_LAYER_BEGIN(i) ((void)0)
#endif
#ifndef TINYKD_LAYER_END
#define TINYKD_LAYER_END(i) ((void)0)
#endif

{chr(10).join(em.externs)}

{arena_def}

{chr(10).join(em.statics)}

const char *const tinykd_layer_ops[TINYKD_NUM_LAYERS] = {{{ops}}};
const uint32_t tinykd_layer_macs[TINYKD_NUM_LAYERS] = {{{macs}}};

int tinykd_model_invoke(const int8_t *input, int8_t *output)
{{
    tk_status st = TK_OK;
    (void)input;
    (void)output;
    (void)st;
{chr(10).join(body)}
    return 0;
}}

int tinykd_model_check(void)
{{
{chr(10).join(checks)}
    return 0;
}}
"""
    model_data = ("/* Generated by `tinykd export`. Do not edit. Weights, biases and requantization\n"
                  " * tables (computed at export); const, so they stay in flash. */\n"
                  "#include <stdint.h>\n\n" + "\n".join(em.data))
    return {"model.h": header, "model.c": model_c, "model_data.c": model_data}


def repo_root() -> Path:
    """The repository the generated sources.txt is relative to: the working directory when
    it is a tinykd checkout (DVC and Snakemake run stages from the project root, which may be
    a copy), else the checkout this package was installed from."""
    cwd = Path.cwd()
    return cwd if (cwd / NN_INCLUDE).is_dir() else REPO_ROOT


def sources(prog: Program, outdir: Path) -> list[str]:
    """Lines of sources.txt: include dirs, then every .c file, relative to the repository root."""
    rel = os.path.relpath(Path(outdir).resolve(), repo_root())
    kernel_srcs = sorted({src for layer in prog.layers for src in kernels.layer_sources(layer)})
    return [f"-I{NN_INCLUDE}", f"-I{rel}", f"{rel}/model.c", f"{rel}/model_data.c", *kernel_srcs]


def summary(prog: Program, blob: bytes, srcs: list[str]) -> dict:
    x, y = prog.input, prog.output
    layers = []
    for pos, layer in enumerate(prog.layers):
        t = prog.graph.tensors
        layers.append({
            "index": pos, "op": layer.op, "op_index": layer.op_index,
            "kernel": layer.kernel.function if layer.kernel else "memcpy",
            "fused": (kernels.RESIDUAL[layer.kernel.variant].function if layer.residual is not None else None),
            "filter_layout": ("int8" if layer.kernel and layer.kernel.function.endswith("_w8_cm4")
                              else "int16" if layer.kernel and layer.kernel.prepare else None),
            "input_shapes": [list(t[i].shape) for i in layer.inputs],
            "output_shape": list(t[layer.outputs[0]].shape),
            "macs": int(layer.macs), "weight_bytes": int(layer.weight_bytes),
            "scratch_bytes": int(layer.scratch_bytes),
            "storage": {"inputs": [list(prog.storage[i]) for i in layer.inputs],
                        "output": list(prog.storage[layer.outputs[0]])},
        })
    return {
        "sha256": hashlib.sha256(blob).hexdigest(),
        "tflite_bytes": len(blob),
        "input": {"shape": list(x.shape), "bytes": x.size, "scale": float(np.float32(x.scale[0])),
                  "zero_point": int(x.zero_point[0])},
        "output": {"shape": list(y.shape), "bytes": y.size, "scale": float(np.float32(y.scale[0])),
                   "zero_point": int(y.zero_point[0])},
        "arena_bytes": int(prog.arena_bytes),
        "arena_peak_layer": int(prog.peak_layer),
        "macs": prog.macs,
        "weight_bytes": prog.weight_bytes,
        "num_layers": len(prog.layers),
        "layers": layers,
        "arena": [{"name": b.name, "offset": b.offset, "size": b.size, "first_layer": b.first, "last_layer": b.last,
                   "parts": [list(p) for p in b.parts]}
                  for b in sorted(prog.buffers, key=lambda b: (b.offset, b.first))],
        "notes": prog.notes,
        "filter_layouts": prog.filter_layouts,
        "kernel_sources": sorted({src for layer in prog.layers for src in kernels.layer_sources(layer)}),
    }
