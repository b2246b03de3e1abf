"""What a compressed model costs and how well it does: sizes as the course measures them (gzip
of the .tflite), sparsity counted in the weights, footprint from the export engine's planner,
host inference speed from LiteRT."""
from __future__ import annotations

import gzip
import time

import numpy as np

WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def gzip_size(blob: bytes) -> int:
    """Bytes of the .tflite after gzip -9 (no name, mtime 0: the same bytes give the same size)."""
    return len(gzip.compress(blob, compresslevel=9, mtime=0))


def convert_float(model) -> bytes:
    """A float32 .tflite of `model` at batch size 1 (the size reference for compression factors)."""
    import keras
    import tensorflow as tf

    from ..errors import ExportError

    inp = keras.Input(tuple(model.inputs[0].shape[1:]), batch_size=1, name="image")
    fixed = keras.Model(inp, model(inp, training=False), name=model.name)
    try:
        return bytes(tf.lite.TFLiteConverter.from_keras_model(fixed).convert())
    except Exception as exc:  # ConverterError and friends carry long logs
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{model.name}: float conversion failed ({first})") from None


def float_kernels(model) -> dict[str, np.ndarray]:
    """The kernels the int8 model will hold, by layer: plain Conv/Dense kernels, or for QAT layers
    the folded (and masked) kernel."""
    from .qat import classes

    _, Folded = classes()
    out = {}
    for layer in model.layers:
        if isinstance(layer, Folded):
            out[layer.name] = np.asarray(layer.folded()[0])
        elif type(layer).__name__ in ("Conv2D", "Dense", "DepthwiseConv2D"):
            out[layer.name] = np.asarray(layer.kernel)
    return out


def sparsity_of(arrays) -> tuple[int, int]:
    """(zeros, total) over arrays."""
    arrays = list(arrays)
    return sum(int((a == 0).sum()) for a in arrays), sum(int(a.size) for a in arrays)


def tflite_weights(blob: bytes) -> list[np.ndarray]:
    """The int8 filter tensors of every conv / fully connected op of an int8 .tflite."""
    from ..export.reader import read_tflite

    g = read_tflite(blob)
    out = []
    for op in g.ops:
        if op.name in WEIGHTED_OPS and len(op.inputs) > 1 and op.inputs[1] >= 0:
            t = g.tensors[op.inputs[1]]
            if t.data is not None:
                out.append(np.asarray(t.data))
    return out


def count_params(model) -> tuple[int, int]:
    """(parameters, non-zero parameters) of a plain Keras model, every weight counted."""
    total = nonzero = 0
    for w in model.weights:
        a = np.asarray(w)
        total += a.size
        nonzero += int(np.count_nonzero(a))
    return total, nonzero


def footprint(blob: bytes) -> dict:
    """Arena (RAM), weight bytes (flash) and MACs as the engine plans them for the board."""
    from ..export import analyze

    prog = analyze(blob)
    return {"arena_bytes": int(prog.arena_bytes), "weight_bytes": int(prog.weight_bytes), "macs": int(prog.macs)}


def host_latency_ms(blob: bytes, images: np.ndarray, repeats: int = 3) -> float:
    """Median per-image latency (ms) of a .tflite on LiteRT, one thread, one image per call."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=blob, num_threads=1)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    # Inputs are prepared outside the timed loop: only set_tensor + invoke are measured.
    from ..data.scaling import quantize_pixels, resolve

    if inp["dtype"] == np.int8:
        scale, zp = inp["quantization"]
        batches = [b[None] for b in quantize_pixels(images, scale, zp)]
    else:
        batches = [b[None] for b in resolve(None).numpy(images)]
    for b in batches[:2]:  # warm-up
        interp.set_tensor(inp["index"], b)
        interp.invoke()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for b in batches:
            interp.set_tensor(inp["index"], b)
            interp.invoke()
        times.append((time.perf_counter() - start) / max(1, len(batches)))
    return float(np.median(times) * 1000.0)


def speed_report(keras_paths: dict, tflite_paths: dict, images: np.ndarray, repeats: int = 3) -> dict:
    """Per-image host latency (ms) of each model as float32 and int8 .tflite, and the teacher /
    student ratios."""
    from pathlib import Path

    from ..errors import DataError
    from ..model_io import load_keras

    out: dict = {"samples": int(len(images)), "repeats": int(repeats), "runtime": "LiteRT, 1 thread, batch 1"}
    for name in ("teacher", "student"):
        tpath = Path(tflite_paths[name])
        if not tpath.is_file():
            raise DataError(f"{tpath}: int8 model does not exist")
        float_blob = convert_float(load_keras(keras_paths[name]))
        out[f"{name}_float_ms"] = round(host_latency_ms(float_blob, images, repeats), 4)
        out[f"{name}_int8_ms"] = round(host_latency_ms(tpath.read_bytes(), images, repeats), 4)
    out["speedup_float"] = round(out["teacher_float_ms"] / max(out["student_float_ms"], 1e-9), 2)
    out["speedup_int8"] = round(out["teacher_int8_ms"] / max(out["student_int8_ms"], 1e-9), 2)
    return out
