"""Full-integer int8 post-training quantization and int8 accuracy from the real interpreter.

The converter traces the model at batch size 1, so every shape in the .tflite is static (no
SHAPE/PACK arithmetic for Flatten) — what a microcontroller engine wants.
"""
from __future__ import annotations

import numpy as np

from .errors import ExportError


def representative_indices(n_train: int, samples: int, seed: int) -> np.ndarray:
    """Which training images calibrate activation ranges (a seeded sample, fixed order)."""
    rng = np.random.default_rng(seed)
    return rng.permutation(n_train)[: min(samples, n_train)]


def convert_int8(model, calibration: np.ndarray, scaling=None) -> bytes:
    """A full-int8 .tflite (int8 input and output) of a float Keras model; `calibration` is uint8
    NHWC, turned into the model's input by `scaling` (InputScaling; None = pixels / 255), so the
    input quantization covers the range the model really sees."""
    import keras
    import tensorflow as tf

    from .data.scaling import resolve

    scaling = resolve(scaling)
    # Re-wrap with a batch-1 input so the converter sees static shapes throughout.
    inp = keras.Input(tuple(model.inputs[0].shape[1:]), batch_size=1, name="image")
    fixed = keras.Model(inp, model(inp, training=False), name=model.name)

    def representative():
        for img in calibration:
            yield [scaling.numpy(img[None])]

    converter = tf.lite.TFLiteConverter.from_keras_model(fixed)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    try:
        return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError and others with long logs
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExportError(f"{model.name}: int8 conversion failed ({first})") from None


def run_tflite(blob: bytes, x_uint8: np.ndarray, scaling=None) -> tuple[np.ndarray, dict]:
    """Dequantized outputs of an int8 .tflite on uint8 images, one image at a time (as on the
    board); `scaling` (InputScaling, None = pixels / 255) is how the model takes its pixels."""
    from ai_edge_litert.interpreter import Interpreter

    from .data.scaling import quantize_pixels

    interp = Interpreter(model_content=blob, num_threads=1)
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    in_scale, in_zp = inp["quantization"]
    out_scale, out_zp = out["quantization"]
    if inp["dtype"] != np.int8 or out["dtype"] != np.int8:
        raise ExportError(f"tflite input/output types are {inp['dtype']}/{out['dtype']}, expected int8/int8")
    results = np.zeros((len(x_uint8), int(np.prod(out["shape"][1:]))), dtype=np.float32)
    for i, img in enumerate(x_uint8):
        interp.set_tensor(inp["index"], quantize_pixels(img, in_scale, in_zp, scaling)[None])
        interp.invoke()
        raw = interp.get_tensor(out["index"]).reshape(-1).astype(np.float32)
        results[i] = (raw - out_zp) * out_scale
    io = {"input_scale": float(in_scale), "input_zero_point": int(in_zp),
          "output_scale": float(out_scale), "output_zero_point": int(out_zp),
          "input_shape": [int(d) for d in inp["shape"]], "output_shape": [int(d) for d in out["shape"]]}
    return results, io


def check_int8_tflite(blob: bytes, key: str, source: str, input_shape, num_classes: int) -> dict:
    """Validate a supplied .tflite for the board: it loads, has one int8 input of the dataset's
    shape (batch 1) and one int8 output with one value per class. `key` and `source` name it in
    the one-line errors ("student.source course.tflite: ..."). Returns its input/output
    quantization and shapes."""
    from ai_edge_litert.interpreter import Interpreter

    from .errors import DataError
    from .teacher import check_fits, is_tflite

    what = f"{key} {source}"
    if not is_tflite(blob):
        raise DataError(f"{what}: not a TFLite model (no TFL3 identifier)")
    try:
        interp = Interpreter(model_content=blob, num_threads=1)
        interp.allocate_tensors()
    except Exception as exc:  # the interpreter raises ValueError/RuntimeError with long texts
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{what}: cannot load as a TFLite model ({first})") from None
    ins, outs = interp.get_input_details(), interp.get_output_details()
    if len(ins) != 1 or len(outs) != 1:
        raise DataError(f"{what}: has {len(ins)} inputs and {len(outs)} outputs; exactly one of each is supported")
    inp, out = ins[0], outs[0]
    for role, d in (("input", inp), ("output", out)):
        if d["dtype"] != np.int8:
            raise DataError(f"{what}: {role} type is {np.dtype(d['dtype']).name}; a full-int8 model (int8 input "
                            "and output) is needed, or give the float .keras/.h5 model to quantize here")
    shape = [int(v) for v in inp["shape"]]
    if not shape or shape[0] != 1:
        raise DataError(f"{what}: input shape {tuple(shape)} has batch {shape[0] if shape else '?'}; batch 1 is needed")
    check_fits(key, source, shape[1:], int(out["shape"][-1]), input_shape, num_classes)
    (in_scale, in_zp), (out_scale, out_zp) = inp["quantization"], out["quantization"]
    return {"input_scale": float(in_scale), "input_zero_point": int(in_zp),
            "output_scale": float(out_scale), "output_zero_point": int(out_zp),
            "input_shape": shape, "output_shape": [int(d) for d in out["shape"]]}
