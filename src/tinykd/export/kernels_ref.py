"""The reference kernels (firmware/nn/src/): one portable C variant per family, which accepts
every layer and is the fallback of every optimized variant (kernels.select)."""
from __future__ import annotations

from .kernel_variant import NN_DIR, KernelVariant, ResidualWrapper

NAME = "reference"


def _ref(family: str, stem: str, scratch_fn: bool = False) -> KernelVariant:
    return KernelVariant(family, f"tk_{stem}", f"{NN_DIR}/src/{stem}.c", f"{stem}.h",
                         scratch_function=f"tk_{stem}_scratch_size" if scratch_fn else None)


VARIANTS = (
    _ref("conv2d", "conv2d_s8", scratch_fn=True),
    _ref("depthwise_conv2d", "depthwise_conv2d_s8", scratch_fn=True),
    _ref("fully_connected", "fully_connected_s8", scratch_fn=True),
    _ref("max_pool2d", "max_pool2d_s8"),
    _ref("avg_pool2d", "avg_pool2d_s8"),
    _ref("mean", "mean_s8"),
    _ref("add", "add_s8"),
    _ref("softmax", "softmax_s8"),
    _ref("pad", "pad_s8"),
    _ref("requantize", "requantize_s8"),
)

# The fused CONV_2D + ADD of a reference convolution: the convolution, then the ADD.
RESIDUAL = ResidualWrapper("tk_conv2d_add_s8", f"{NN_DIR}/src/conv2d_add_s8.c", "conv2d_add_s8.h",
                           needs=(f"{NN_DIR}/src/conv2d_s8.c", f"{NN_DIR}/src/add_s8.c"))
