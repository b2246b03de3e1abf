"""The kernel registry: every variant of the tables (kernels_ref.py, kernels_cm4.py) by family,
and the choice of one for a layer.

An optimized variant is listed in its table with a higher priority and an `accepts` predicate on
the layer's shape; the reference variant accepts everything and stays the fallback (what a
variant is: kernel_variant.py).
"""
from __future__ import annotations

from ..errors import ExportError
from . import kernels_cm4, kernels_ref
from .kernel_variant import KernelVariant, ResidualWrapper

TABLES = (kernels_ref, kernels_cm4)

REGISTRY: dict[str, list[KernelVariant]] = {}
for _table in TABLES:
    for _variant in _table.VARIANTS:
        REGISTRY.setdefault(_variant.family, []).append(_variant)

# variant name -> wrapper; the wrapper of a fused layer is the one of its convolution's variant
RESIDUAL: dict[str, ResidualWrapper] = {table.NAME: table.RESIDUAL for table in TABLES}

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
