"""The project's architectures as int8 .tflite test models: seeded random weights, batch-norm
statistics moved off their defaults (so folding them gives varied scales) and seeded random
calibration; bit-exactness needs no trained weights. Shared by the export, kernel and in-place
tests, which compare such models byte for byte with TFLite Micro."""
from __future__ import annotations

import numpy as np

from . import export_harness as H

_BLOBS: dict[str, bytes] = {}


def _randomize_batchnorm(model, rng) -> None:
    """Give BatchNormalization non-trivial statistics so folding produces varied scales."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = (w.numpy() for w in layer.weights)
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 2.0, var.shape)])


def model_blob(arch: str, shape, softmax: bool = False) -> bytes:
    """`arch` (tinykd.models) for inputs of `shape` and 10 classes, as int8 .tflite bytes;
    converted once per session per (arch, softmax)."""
    key = f"{arch}-{softmax}"
    if key not in _BLOBS:
        import keras

        from tinykd.models import build

        keras.utils.set_random_seed(7)
        model = build(arch, shape, 10)
        if softmax:
            model = keras.Model(model.input, keras.layers.Softmax()(model.output))
        rng = np.random.default_rng(7)
        _randomize_batchnorm(model, rng)
        calib = rng.uniform(0, 1, size=(32, *shape)).astype(np.float32)
        _BLOBS[key] = H.convert(model, calib)
    return _BLOBS[key]
