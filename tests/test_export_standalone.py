"""`tinykd export --standalone`: a self-contained folder that compiles anywhere (host gcc and
arm-none-eabi-gcc for Cortex-M4, -Werror) from a copy in an empty folder, whose host build
matches TFLite Micro byte for byte through the tinykd.h API."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from support import export_harness as H

H.quiet_tf()
keras = pytest.importorskip("keras")

_BLOB: list[bytes] = []

MAIN = r"""
/* Reads TINYKD_INPUT_BYTES-byte inputs from stdin, writes the outputs, through tinykd.h only. */
#include <stdio.h>
#include "tinykd.h"

int main(void)
{
    int8_t probe = 0;
    if (tinykd_invoke() != -1) {
        return 5;                        /* must refuse before init */
    }
    if (tinykd_init() != 0) {
        return 2;
    }
    if (tinykd_arena_bytes() != TINYKD_ARENA_BYTES) {
        return 6;
    }
    probe = tinykd_quantize_input(1.0e30f);
    if (probe != 127 || tinykd_quantize_input(-1.0e30f) != -128) {
        return 7;
    }
    for (;;) {
        size_t got = fread(tinykd_input(), 1, TINYKD_INPUT_BYTES, stdin);
        if (got == 0) {
            return 0;
        }
        if (got != TINYKD_INPUT_BYTES || tinykd_invoke() != 0) {
            return 3;
        }
        fwrite(tinykd_output(), 1, TINYKD_OUTPUT_BYTES, stdout);
        fprintf(stderr, "%d\n", tinykd_argmax());
    }
}
"""


def _small_model():
    """A softmax-ended CNN touching conv 3x3 (RGB), 1x1 conv, depthwise, max pool, mean, FC."""
    keras.utils.set_random_seed(11)
    L = keras.layers
    x = inp = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    x = L.MaxPooling2D()(x)
    x = L.Conv2D(8, 1, activation="relu")(x)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(10)(x)
    return keras.Model(inp, L.Softmax()(x))


def small_blob() -> bytes:
    if not _BLOB:
        calib = np.random.default_rng(11).uniform(0, 1, size=(16, 16, 16, 3)).astype(np.float32)
        _BLOB.append(H.convert(_small_model(), calib))
    return _BLOB[0]


def _export(tmp_path, tool_env, *extra, blob: bytes | None = None) -> tuple:
    model = tmp_path / "m.tflite"
    model.write_bytes(blob or small_blob())
    out = tmp_path / "export"
    tinykd = H.REPO / ".venv/bin/tinykd"
    proc = subprocess.run([str(tinykd) if tinykd.exists() else "tinykd", "export", str(model), str(out),
                           "--standalone", *extra], capture_output=True, text=True, env=tool_env)
    assert proc.returncode == 0, proc.stderr
    assert "standalone:" in proc.stdout
    return out, json.loads((out / "model.json").read_text())


def _self_contained(folder) -> None:
    names = {p.name for p in folder.iterdir()}
    assert "sources.txt" not in names
    assert all(p.is_file() for p in folder.iterdir()), "the folder is flat"
    for p in folder.iterdir():
        if p.suffix in (".c", ".h"):
            text = p.read_text()
            assert str(H.REPO) not in text, p.name
            for inc in re.findall(r'#\s*include\s+"([^"]+)"', text):
                assert inc in names, f"{p.name} includes {inc}, not in the folder"


def test_standalone_copy_builds_and_matches_tflite_micro(tmp_path, tool_env):
    out, info = _export(tmp_path, tool_env)
    # somewhere with no path back to the repository
    copy = tmp_path / "elsewhere" / "tinykd"
    shutil.copytree(out, copy)
    _self_contained(copy)
    names = sorted(p.name for p in copy.iterdir())
    assert names == sorted([*info["files"], ".tinykd-output"])
    # exactly the kernels the layers call
    used = {layer["kernel"] for layer in info["layers"]}
    files = {k[3:].replace("_w8_cm4", "_cm4") for k in used}   # an int8-filter twin shares its file
    assert {s[:-2] for s in info["kernel_sources"]} == files, (used, info["kernel_sources"])
    assert "conv2d_3x3_s8_cm4.c" in names and "add_s8.c" not in names
    readme = (copy / "README.md").read_text()
    for needle in ("STM32CubeIDE", "Include paths", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "tinykd_init"):
        assert needle in readme, needle

    (copy.parent / "main.c").write_text(MAIN)
    exe = copy.parent / "prog"
    srcs = sorted(p.name for p in copy.glob("*.c"))
    build = subprocess.run(["gcc", *H.CFLAGS, "-I.", *srcs, "../main.c", "-o", str(exe)], cwd=copy,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    blob = small_blob()
    inputs = H.random_inputs(blob, 6, seed=4)
    proc = subprocess.run([str(exe)], input=inputs.tobytes(), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    got = np.frombuffer(proc.stdout, dtype=np.int8).reshape(len(inputs), -1)
    ref = H.run_tflm(blob, inputs)
    assert not H.mismatches(got, ref)
    assert [int(v) for v in proc.stderr.decode().split()] == [int(np.argmax(r)) for r in ref]


@pytest.mark.skipif(not H.have_arm_gcc(), reason="arm-none-eabi-gcc not installed (scripts/setup-system.sh)")
@pytest.mark.parametrize("kernels", ["auto", "reference"])
def test_standalone_cross_compiles_for_cortex_m4(tmp_path, tool_env, kernels):
    out, info = _export(tmp_path, tool_env, "--kernels", kernels)
    copy = tmp_path / "empty" / "m"
    shutil.copytree(out, copy)
    if kernels == "reference":
        assert not any("_cm4" in n for n in info["files"]), info["files"]
    for src in sorted(copy.glob("*.c")):
        proc = subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16",
                               "-mfloat-abi=hard", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-I.",
                               "-c", src.name, "-o", str(tmp_path / (src.stem + ".o"))],
                              cwd=copy, capture_output=True, text=True)
        assert proc.returncode == 0, f"{src.name}:\n{proc.stderr}"


def test_standalone_refuses_foreign_folder(tmp_path, tool_env):
    model = tmp_path / "m.tflite"
    model.write_bytes(small_blob())
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.c").write_text("int keep;\n")
    tinykd = H.REPO / ".venv/bin/tinykd"
    proc = subprocess.run([str(tinykd) if tinykd.exists() else "tinykd", "export", str(model), str(foreign),
                           "--standalone"],
                          capture_output=True, text=True, env=tool_env)
    assert proc.returncode != 0
    assert "was not written by tinykd" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert (foreign / "keep.c").read_text() == "int keep;\n"


PIXELS_MAIN = r"""
/* Reads TINYKD_INPUT_BYTES uint8 pixels per image from stdin; writes tinykd_load_pixels' int8
 * input, then the README's float example's, through tinykd.h only. */
#include <stdio.h>
#include "tinykd.h"

static uint8_t image[TINYKD_INPUT_BYTES];

static void readme_example(void)
{
#include "readme_example.inc"
}

int main(void)
{
    while (fread(image, 1, TINYKD_INPUT_BYTES, stdin) == TINYKD_INPUT_BYTES) {
        tinykd_load_pixels(image);
        fwrite(tinykd_input(), 1, TINYKD_INPUT_BYTES, stdout);
        readme_example();
        fwrite(tinykd_input(), 1, TINYKD_INPUT_BYTES, stdout);
    }
    return 0;
}
"""


@pytest.mark.parametrize("mean,std", [
    ("125.307,122.961,113.8575", "62.9932,62.0887,66.7049"),   # per-channel mean/std (CIFAR-10's)
    ("127.5", "127.5"),                                          # [-1, 1]
    (None, None),                                                # the default, pixels / 255
])
def test_standalone_pixels_are_quantized_as_on_the_host(tmp_path, tool_env, mean, std):
    """tinykd_load_pixels and the README's float example, compiled from a copy of the folder,
    give the int8 input the host's quantize_pixels gives for the model's own scaling."""
    from tinykd.data.scaling import DEFAULT, InputScaling, quantize_pixels
    scaling = DEFAULT if mean is None else InputScaling(tuple(map(float, mean.split(","))),
                                                       tuple(map(float, std.split(","))))
    rng = np.random.default_rng(21)
    calib = scaling.numpy(rng.integers(0, 256, (16, 16, 16, 3), dtype=np.uint8))
    blob = H.convert(_small_model(), calib)
    extra = [] if mean is None else ["--input-mean", mean, "--input-std", std]
    out, info = _export(tmp_path, tool_env, *extra, blob=blob)
    assert info["input_scaling"] == scaling.as_dict()
    copy = tmp_path / "elsewhere" / "tinykd"
    shutil.copytree(out, copy)
    _self_contained(copy)
    readme = (copy / "README.md").read_text()
    if mean is None:
        assert "(float)image[i] / 255.0f" in readme
    else:
        assert "/ 255" not in readme
    assert scaling.describe() in readme and scaling.describe() in (copy / "tinykd.h").read_text()
    example = readme.split("```c\n")[2].split("```")[0]       # the float example, as generated
    (copy.parent / "readme_example.inc").write_text(example)
    (copy.parent / "main.c").write_text(PIXELS_MAIN)
    exe = copy.parent / "prog"
    srcs = sorted(p.name for p in copy.glob("*.c"))
    build = subprocess.run(["gcc", *H.CFLAGS, "-I.", "-I..", *srcs, "../main.c", "-o", str(exe)], cwd=copy,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr

    images = rng.integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    images[0, 0, 0] = [0, 128, 255]
    proc = subprocess.run([str(exe)], input=images.tobytes(), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    got = np.frombuffer(proc.stdout, dtype=np.int8).reshape(len(images), 2, 16, 16, 3)
    host = np.stack([quantize_pixels(img, info["input"]["scale"], info["input"]["zero_point"], scaling)
                     for img in images])
    assert (got[:, 0] == host).all()
    assert (got[:, 1] == host).all()
    assert len(np.unique(host)) > 64, "the calibration should spread the inputs over the int8 range"


@pytest.mark.parametrize("args,expect", [
    (["--standalone", "--input-mean", "1,2"], "--input-mean = [1.0, 2.0] is not allowed; expected 1 value"),
    (["--standalone", "--input-std", "x"], "--input-std = 'x' is not allowed; expected comma-separated numbers"),
    (["--standalone", "--input-std", "0"], "--input-std = [0.0] is not allowed"),
    (["--input-mean", "127.5"], "--input-mean = '127.5' is not allowed; expected no value without --standalone"),
])
def test_bad_input_scaling_is_one_line_and_writes_nothing(tmp_path, capsys, args, expect):
    from tinykd.cli import main

    model = tmp_path / "m.tflite"
    model.write_bytes(small_blob())
    assert main(["export", str(model), str(tmp_path / "out"), *args]) == 1
    err = capsys.readouterr().err.strip()
    assert expect in err and err.count("\n") == 0, err
    assert not (tmp_path / "out").exists()

