"""Kernel variants the code generator can call, one list per kernel family.

Every variant of a family has the C signature of the reference kernel (same parameters,
including the caller-supplied `scratch` pointer), so the generator only swaps the
function name and plans `scratch(layer)` bytes for it in the arena. An optimized variant
(e.g. a Cortex-M4 SIMD convolution) registers itself here with a higher priority and an
`accepts` predicate on the layer's shape; the reference variant accepts everything and
stays the fallback. `scratch` must return what the C `*_scratch_size()` companion returns
(the generated `tinykd_model_check()` verifies this at run time). A variant may take its
constants in its own layout (e.g. a pre-packed filter): `prepare(layer)` returns the arrays
to emit in place of the layer's, and the generator passes them where the reference kernel
takes its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..errors import ExportError

NN_DIR = "firmware/nn"
NN_INCLUDE = f"{NN_DIR}/include"


def _zero(layer) -> int:
    return 0


def _always(layer) -> bool:
    return True


@dataclass(frozen=True)
class KernelVariant:
    family: str                              # conv2d, depthwise_conv2d, fully_connected, ...
    function: str                            # C function name
    source: str                              # .c file, relative to the repository root
    header: str                              # header declaring it (in NN_INCLUDE)
    variant: str = "reference"               # reference | cortex-m4 | ... (selection set)
    priority: int = 0                        # highest accepting variant wins
    accepts: Callable = _always              # accepts(layer) -> bool
    scratch: Callable = _zero                # scratch(layer) -> bytes
    scratch_function: str | None = None      # C companion returning the scratch bytes
    prepare: Callable | None = None          # prepare(layer) -> the constant arrays it takes


REGISTRY: dict[str, list[KernelVariant]] = {}


@dataclass(frozen=True)
class ResidualWrapper:
    """The fused CONV_2D + ADD call (fuse.py) around a convolution variant of one selection set."""
    function: str
    source: str
    header: str
    takes_conv: bool = False          # gets the chosen convolution as its first argument
    needs: tuple[str, ...] = ()       # further kernel sources it calls


# variant name -> wrapper; the wrapper of a fused layer is the one of its convolution's variant
RESIDUAL: dict[str, ResidualWrapper] = {
    "reference": ResidualWrapper("tk_conv2d_add_s8", f"{NN_DIR}/src/conv2d_add_s8.c", "conv2d_add_s8.h",
                                 needs=(f"{NN_DIR}/src/conv2d_s8.c", f"{NN_DIR}/src/add_s8.c")),
}


def layer_sources(layer) -> set[str]:
    """Every kernel .c file the layer's call needs."""
    if layer.kernel is None:
        return set()
    srcs = {layer.kernel.source}
    if layer.residual is not None:
        w = RESIDUAL[layer.kernel.variant]
        srcs |= {w.source, *w.needs}
    return srcs


def layer_headers(layer) -> set[str]:
    if layer.kernel is None:
        return set()
    heads = {layer.kernel.header}
    if layer.residual is not None:
        heads.add(RESIDUAL[layer.kernel.variant].header)
    return heads


def register(v: KernelVariant) -> KernelVariant:
    REGISTRY.setdefault(v.family, []).append(v)
    return v


def _ref(family: str, stem: str, scratch_fn: bool = False) -> None:
    register(KernelVariant(family, f"tk_{stem}", f"{NN_DIR}/src/{stem}.c", f"{stem}.h",
                           scratch_function=f"tk_{stem}_scratch_size" if scratch_fn else None))


_ref("conv2d", "conv2d_s8", scratch_fn=True)
_ref("depthwise_conv2d", "depthwise_conv2d_s8", scratch_fn=True)
_ref("fully_connected", "fully_connected_s8", scratch_fn=True)
_ref("max_pool2d", "max_pool2d_s8")
_ref("avg_pool2d", "avg_pool2d_s8")
_ref("mean", "mean_s8")
_ref("add", "add_s8")
_ref("softmax", "softmax_s8")
_ref("pad", "pad_s8")
_ref("requantize", "requantize_s8")

VARIANT_SETS = ("reference", "auto")


def select(layer, variants: str = "auto") -> KernelVariant:
    """Pick the kernel for a layer: the highest-priority variant that accepts it.
    variants="reference" restricts the choice to the reference kernels."""
    if variants not in VARIANT_SETS:
        raise ExportError(f"kernel variants {variants!r} not allowed; expected one of {', '.join(VARIANT_SETS)}")
    candidates = [v for v in REGISTRY.get(layer.kind, [])
                  if (variants == "auto" or v.variant == "reference") and v.accepts(layer)]
    if not candidates:
        raise ExportError(f"operator {layer.op_index} ({layer.op}): no kernel for family {layer.kind!r}")
    return max(candidates, key=lambda v: (v.priority, v.variant == "reference"))


# Optimized variants register themselves on import (they need the definitions above).
from . import kernels_cm4  # noqa: E402,F401
