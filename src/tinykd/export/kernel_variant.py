"""What a kernel variant is: one C function the code generator can call for a layer, the files
that define and declare it, when it applies and what scratch it needs.

Every variant of a family takes the reference kernel's parameters (the caller-supplied `scratch`
pointer included), so the generator only swaps the function name and plans, in the arena, the
scratch its C `*_scratch_size()` companion (`scratch_function`) returns for the layer: the planner
asks the C itself (export/scratch.py), and the generated `tinykd_model_check()` calls the same
companions on the board at boot. A variant may take its constants in its own layout (e.g. a
pre-packed filter): `prepare(layer)` returns the arrays to emit in place of the layer's, and the
generator passes them where the reference kernel takes its own.

The variants themselves are listed by kernels_ref.py and kernels_cm4.py; kernels.py chooses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

NN_DIR = "firmware/nn"
NN_INCLUDE = f"{NN_DIR}/include"


def always(layer) -> bool:
    """`accepts` of a variant that takes every layer of its family."""
    return True


@dataclass(frozen=True)
class KernelVariant:
    family: str                              # conv2d, depthwise_conv2d, fully_connected, ...
    function: str                            # C function name
    source: str                              # .c file, relative to the repository root
    header: str                              # header declaring it (in NN_INCLUDE)
    variant: str = "reference"               # reference | cortex-m4 | ... (selection set)
    priority: int = 0                        # highest accepting variant wins
    accepts: Callable = always               # accepts(layer) -> bool
    scratch_function: str | None = None      # C companion returning the scratch bytes
    prepare: Callable | None = None          # prepare(layer) -> the constant arrays it takes


@dataclass(frozen=True)
class ResidualWrapper:
    """The fused CONV_2D + ADD call (fuse.py) around a convolution variant of one selection set."""
    function: str
    source: str
    header: str
    takes_conv: bool = False          # gets the chosen convolution as its first argument
    needs: tuple[str, ...] = ()       # further kernel sources it calls
