"""Scratch bytes of each kernel call, asked of the kernels themselves: every variant's C
`*_scratch_size()` companion (and the fused residual call's band buffer,
`tk_conv2d_add_s8_chunk_size()`), compiled for the host once per process and called through
ctypes, as TFLite Micro asks CMSIS-NN's `..._get_buffer_size()`. The planner so never holds a
second copy of a formula, and a kernel that changes its scratch changes the plan with it; the
generated `tinykd_model_check()` still compares the two on the board at boot.

scratch_host.c (beside this file) fills the kernels' structs from plain int32 arrays, so no
struct layout is repeated here either. Needs a host C compiler (cc or gcc).
"""
from __future__ import annotations

import atexit
import ctypes
import functools
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import ExportError

SHIM = Path(__file__).with_name("scratch_host.c")
NN = Path("firmware") / "nn"
_CONV_FAMILIES = ("conv2d",)
_DW_FAMILIES = ("depthwise_conv2d",)
_FC_FAMILIES = ("fully_connected",)
_GEOMETRY = ("stride_h", "stride_w", "pad_h", "pad_w", "dilation_h", "dilation_w")


def _int32s(values) -> ctypes.Array:
    values = [int(v) for v in values]
    return (ctypes.c_int32 * len(values))(*values)


def _sources(root: Path) -> list[Path]:
    return sorted((root / NN / "src").rglob("*.c"))


@functools.lru_cache(maxsize=None)
def _library(root: Path, digest: str) -> ctypes.CDLL:
    """The kernels of `root`'s firmware/nn and the shim as one host shared library (`digest`:
    of their text, so an edited kernel is compiled again)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise ExportError("planning the arena asks the kernels their scratch sizes (their C *_scratch_size(), "
                          "compiled for this machine): install a host C compiler, cc or gcc "
                          "(scripts/setup-system.sh)")
    work = Path(tempfile.mkdtemp(prefix="tinykd-scratch-"))
    atexit.register(shutil.rmtree, work, True)
    so = work / "libtkscratch.so"
    cmd = [cc, "-std=c11", "-O0", "-shared", "-fPIC", "-Wall", "-Wextra", "-Werror", f"-I{root / NN / 'include'}",
           str(SHIM), *map(str, _sources(root)), "-o", str(so)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((line for line in proc.stderr.splitlines() if "error" in line), proc.stderr.strip()[-300:])
        raise ExportError(f"the kernels in {root / NN} do not compile for the host, so their scratch sizes "
                          f"are unknown: {first}")
    lib = ctypes.CDLL(str(so))
    for name in ("tkh_conv_scratch", "tkh_dw_scratch"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32)]
        getattr(lib, name).restype = ctypes.c_int32
    lib.tkh_chunk_bytes.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_int32)]
    lib.tkh_chunk_bytes.restype = ctypes.c_int32
    return lib


def library(root: Path) -> ctypes.CDLL:
    root = Path(root).resolve()
    h = hashlib.sha256(SHIM.read_bytes())
    for src in [*_sources(root), *sorted((root / NN).rglob("*.h"))]:
        h.update(str(src.relative_to(root)).encode() + b"\0" + src.read_bytes())
    return _library(root, h.hexdigest())


def _function(lib: ctypes.CDLL, name: str):
    try:
        return getattr(lib, name)
    except AttributeError:
        raise ExportError(f"kernel scratch function {name}() is not defined in firmware/nn/src") from None


def kernel_bytes(layer, root: Path) -> int:
    """What the layer's kernel asks for its `scratch` argument (0 without a *_scratch_size())."""
    name = layer.kernel.scratch_function if layer.kernel else None
    if not name:
        return 0
    lib = library(root)
    fn = _function(lib, name)
    d = layer.dims
    if layer.kind in _FC_FAMILIES:
        fn.argtypes, fn.restype = [ctypes.c_int32] * 3, ctypes.c_int32
        rows, depth, units, _ = d["fc"]
        size = fn(int(rows), int(depth), int(units))
    elif layer.kind in _CONV_FAMILIES + _DW_FAMILIES:
        v = [*d["input"], *d["filter"], *d["output"]]
        if layer.kind in _CONV_FAMILIES:
            size = lib.tkh_conv_scratch(ctypes.cast(fn, ctypes.c_void_p),
                                        _int32s(v + [layer.params[k] for k in _GEOMETRY]))
        else:
            size = lib.tkh_dw_scratch(ctypes.cast(fn, ctypes.c_void_p), _int32s(v))
    else:
        raise ExportError(f"operator {layer.op_index} ({layer.op}): {name}() belongs to family {layer.kind!r}, "
                          "which has no scratch-size signature in export/scratch_host.c")
    if size < 0:
        raise ExportError(f"operator {layer.op_index} ({layer.op}): {name}() returned {size}")
    return int(size)


def band_bytes(rows: int, output_dims, root: Path) -> int:
    """tk_conv2d_add_s8_chunk_size(): the fused residual call's band of `rows` output rows."""
    return int(library(root).tkh_chunk_bytes(int(rows), _int32s(output_dims)))


def layer_bytes(layer, root: Path) -> int:
    """All the scratch the layer's call takes: the band buffer of a fused residual call, then
    its convolution's own."""
    n = kernel_bytes(layer, root)
    if layer.residual is not None:
        n += band_bytes(layer.residual["rows"], layer.dims["output"], root)
    return n
