"""Compression beyond PTQ: quantization-aware training, magnitude pruning (unstructured and
structured) and pruning-preserving QAT, each ending in the quantize stage's int8 converter.

`compress(method, model, data, params)` runs one method and returns the .tflite bytes and the
metrics the `compress` stage writes (see docs/compression.md).
"""
from __future__ import annotations

from .methods import METHODS

__all__ = ["METHODS", "compress"]


def compress(method: str, model, data: dict, params: dict, verbose: int = 2, scaling=None) -> tuple[bytes, dict]:
    """(int8 .tflite, metrics) of `method` applied to the trained float `model`, which takes its
    pixels as `scaling` says (tinykd.data.scaling.InputScaling, None = pixels / 255)."""
    import hashlib

    from .. import train
    from ..model_io import ends_in_softmax
    from ..quantize import representative_indices, run_tflite
    from . import metrics as M
    from .methods import run

    x_train = data["train"][0]
    calib = x_train[representative_indices(len(x_train), params["quantize"]["representative_samples"],
                                           params["seed"])]
    probabilities = ends_in_softmax(model)
    xt, yt = data["test"]
    base_scores = train.evaluate(model, xt, yt, probabilities=probabilities, scaling=scaling)
    base_params, _ = M.count_params(model)
    float_gzip = M.gzip_size(M.convert_float(model))

    result = run(method, model, data, params, calib, probabilities=probabilities, verbose=verbose, scaling=scaling)
    blob, float_model, deployed = result["blob"], result["float_model"], result["deployed"]
    float_scores = train.evaluate(float_model, xt, yt, probabilities=probabilities, scaling=scaling)
    outputs, _ = run_tflite(blob, xt, scaling=scaling)
    int8_scores = train.score(outputs, yt, probabilities=probabilities)

    n_params, _ = M.count_params(deployed)
    kz, kn = M.sparsity_of(M.float_kernels(float_model).values())
    wz, wn = M.sparsity_of(M.tflite_weights(blob))
    gz = M.gzip_size(blob)
    metrics = {
        "method": method,
        "base_float_accuracy": base_scores["accuracy"], "base_float_loss": base_scores["loss"],
        "base_params": int(base_params),
        "float_accuracy": float_scores["accuracy"], "float_loss": float_scores["loss"],
        "int8_accuracy": int8_scores["accuracy"], "int8_loss": int8_scores["loss"],
        "accuracy_drop": base_scores["accuracy"] - int8_scores["accuracy"],
        "params": int(n_params),
        # Non-zero parameters: every weight of the deployed float model minus the zero kernel
        # entries the int8 model really holds (pruned and rounded-to-zero weights).
        "nonzero_params": int(n_params - wz),
        "kernel_sparsity": kz / kn if kn else 0.0,
        "int8_weight_sparsity": wz / wn if wn else 0.0,
        "int8_weights": int(wn), "int8_zero_weights": int(wz),
        "tflite_bytes": len(blob), "tflite_sha256": hashlib.sha256(blob).hexdigest(), "gzip_bytes": int(gz),
        "float_tflite_gzip_bytes": int(float_gzip),
        "compression_factor": float_gzip / gz,
        "test_samples": int(len(yt)), "representative_samples": int(len(calib)),
        **M.footprint(blob),
        **result["info"],
    }
    return blob, train.round_metrics(metrics)


def load_metrics(folder) -> dict[str, dict]:
    """{method: metrics} from metrics/compress/<method>.json files that exist, in METHODS order."""
    import json
    from pathlib import Path

    out = {}
    for method in METHODS:
        path = Path(folder) / f"{method}.json"
        if path.is_file():
            out[method] = json.loads(path.read_text())
    return out
