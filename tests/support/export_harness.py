"""Helpers for the export tests: tiny Keras models -> int8 .tflite -> tinykd C, compiled
for the host, compared byte for byte with the TFLite Micro reference interpreter."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
NN = REPO / "firmware" / "nn"
RUNNER = REPO / "tests" / "c" / "host_runner.c"
CFLAGS = ["-std=c11", "-Wall", "-Wextra", "-Werror", "-O1"]
ARM_FLAGS = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-Os",
             "-std=c11", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections"]


def convert(model, calibration: np.ndarray, per_channel: bool = True, dense_per_channel: bool = False) -> bytes:
    """Full-int8 conversion (int8 input and output) with a representative dataset."""
    import tensorflow as tf

    def representative():
        for x in calibration:
            yield [x[None].astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_disable_per_channel = not per_channel
    conv._experimental_disable_per_channel_quantization_for_dense_layers = not dense_per_channel
    return bytes(conv.convert())


def build_nn_lib(workdir: Path) -> Path:
    """Compile every kernel (reference and src/cm4 variants) once into a static library."""
    workdir.mkdir(parents=True, exist_ok=True)
    objs = []
    for src in sorted((NN / "src").rglob("*.c")):
        obj = workdir / (src.stem + ".o")
        subprocess.run(["gcc", *CFLAGS, f"-I{NN / 'include'}", "-c", str(src), "-o", str(obj)], check=True)
        objs.append(str(obj))
    lib = workdir / "libtknn.a"
    subprocess.run(["ar", "rcs", str(lib), *objs], check=True)
    return lib


def export_and_build(blob: bytes, workdir: Path, lib: Path, variants: str = "auto", **export_kw) -> tuple[Path, dict]:
    """Export into workdir/model (export_kw: more export_model options) and link it with the
    host runner and the kernel library."""
    from tinykd.export import export_model

    outdir = workdir / "model"
    info = export_model(blob, outdir, variants=variants, **export_kw)
    exe = workdir / "runner"
    cmd = ["gcc", *CFLAGS, f"-I{NN / 'include'}", f"-I{outdir}", str(outdir / "model.c"),
           str(outdir / "model_data.c"), str(RUNNER), str(lib), "-o", str(exe)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, f"host build failed:\n{proc.stderr}"
    return exe, info


def run_exe(exe: Path, inputs: np.ndarray, out_shape: tuple) -> np.ndarray:
    proc = subprocess.run([str(exe)], input=np.ascontiguousarray(inputs, dtype=np.int8).tobytes(),
                          capture_output=True)
    assert proc.returncode == 0, f"runner failed ({proc.returncode}): {proc.stderr.decode()}"
    return np.frombuffer(proc.stdout, dtype=np.int8).reshape((len(inputs), *out_shape))


def run_tflm(blob: bytes, inputs: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    interp = runtime.Interpreter.from_bytes(blob)
    outs = []
    for x in inputs:
        interp.set_input(x[None].astype(np.int8), 0)
        interp.invoke()
        outs.append(np.array(interp.get_output(0), dtype=np.int8).reshape(-1))
    return np.stack(outs)


def mismatches(got: np.ndarray, ref: np.ndarray, limit: int | None = None) -> list[str]:
    """One line per differing element: sample, flat index, ours, reference."""
    got = got.reshape(len(got), -1)
    ref = ref.reshape(len(ref), -1)
    lines = []
    for s, i in zip(*np.nonzero(got != ref)):
        lines.append(f"sample {s} element {i}: tinykd {int(got[s, i])} != tflm {int(ref[s, i])}")
        if limit and len(lines) >= limit:
            break
    return lines


def compare_with_tflm(blob: bytes, workdir: Path, lib: Path, inputs: np.ndarray,
                      variants: str = "auto", **export_kw) -> tuple[list[str], dict]:
    exe, info = export_and_build(blob, workdir, lib, variants, **export_kw)
    ref = run_tflm(blob, inputs)
    got = run_exe(exe, inputs, ref.shape[1:])
    return mismatches(got, ref), info


def random_inputs(blob: bytes, count: int, seed: int) -> np.ndarray:
    from tinykd.export.reader import read_tflite

    g = read_tflite(blob)
    shape = g.tensors[g.inputs[0]].shape
    rng = np.random.default_rng(seed)
    return rng.integers(-128, 128, size=(count, *shape[1:]), dtype=np.int8)


def have_arm_gcc() -> bool:
    return shutil.which("arm-none-eabi-gcc") is not None


def quiet_tf() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
