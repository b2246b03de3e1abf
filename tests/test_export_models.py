"""Whole models through `tinykd export`: the project's student architectures and the MLPerf
Tiny ResNet-8 with seeded random weights and calibration (bit-exactness does not need
trained weights), compared byte for byte with TFLite Micro; plus the sources.txt contract
and a Cortex-M4 cross-compile of the generated code."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from support import export_harness as H
from support.models import model_blob

H.quiet_tf()
keras = pytest.importorskip("keras")

ARCHS = [("cnn_small", (32, 32, 3)), ("resnet8", (32, 32, 3)), ("tiny_cnn", (32, 32, 3)),
         ("ex6", (28, 28, 1)), ("mlp_784", (28, 28, 1))]


@pytest.mark.parametrize("arch,shape", ARCHS, ids=[a for a, _ in ARCHS])
def test_model_matches_tflite_micro(arch, shape, nn_lib, tmp_path):
    blob = model_blob(arch, shape)
    inputs = H.random_inputs(blob, 12, seed=3)
    for variants in ("reference", "auto"):  # the readable specification and the fastest kernels
        bad, info = H.compare_with_tflm(blob, tmp_path / variants, nn_lib, inputs, variants=variants)
        for line in bad:
            print(arch, variants, line)
        assert not bad, f"{arch} ({variants} kernels): {len(bad)} mismatching bytes"
        assert info["macs"] > 0 and info["weight_bytes"] > 0


def test_resnet8_figures(nn_lib, tmp_path):
    """MLPerf Tiny ResNet-8: ~12.5 M MACs; every conv/dense kernel weight exported once,
    residual ADDs and the final average pool present."""
    blob = model_blob("resnet8", (32, 32, 3))
    from tinykd.export import load_program

    prog = load_program(blob, variants="reference", fuse=False)
    ops = [layer.op for layer in prog.layers]
    assert ops.count("ADD") == 3 and "AVERAGE_POOL_2D" in ops
    fused = [layer.op for layer in load_program(blob, variants="reference", fuse=True).layers]
    assert fused.count("CONV_2D+ADD") == 3 and "ADD" not in fused, fused
    assert 12_000_000 < prog.macs < 13_000_000, prog.macs
    from tinykd.models import build

    model = build("resnet8", (32, 32, 3), 10)
    assert model.count_params() == 78_666
    kernels = sum(int(np.prod(w.shape)) for w in model.weights if w.path.endswith("kernel"))
    assert sum(int(layer.arrays["filter"].size) for layer in prog.layers if "filter" in layer.arrays) == kernels
    # TFLite Micro needs 56,528 bytes for this model (49,152 for activations); the reference
    # kernels need no scratch, and the caller owns input and output buffers
    assert prog.arena_bytes <= 49_152


def test_resnet8_cortex_m4_memory():
    """With the Cortex-M4 kernels (scratch: requantization tables and the 3x3 row windows) and
    each residual ADD fused into the convolution before it, writing over its shortcut, the
    arena fits 40 KiB (TFLite Micro needs 56,528 B; unfused, see below); the packed filters
    take 2 bytes a weight (K padded to 4, the RGB layer's channels to 4) in flash."""
    blob = model_blob("resnet8", (32, 32, 3))
    from tinykd.export import load_program

    prog = load_program(blob, variants="auto", fuse=True)
    assert {layer.kernel.variant for layer in prog.layers if layer.op.startswith("CONV_2D")} == {"cortex-m4"}
    assert prog.arena_bytes <= 40_960, prog.arena_bytes
    fused = [layer for layer in prog.layers if layer.residual is not None]
    assert len(fused) == 3
    for layer in fused:   # every shortcut dies at its ADD: the sum takes its memory
        assert prog.storage[layer.outputs[0]] == prog.storage[layer.inputs[1]], layer.op_index
    assert 0 <= prog.peak_layer < len(prog.layers)
    # unfused it was 55,904 B; the 3x3 convolutions writing over their inputs (inplace.py)
    # now bring it under the fused arena, so the default (fuse="auto") leaves the ADDs apart
    unfused = load_program(blob, variants="auto", fuse=False)
    assert unfused.arena_bytes < prog.arena_bytes, (unfused.arena_bytes, prog.arena_bytes)
    default = load_program(blob, variants="auto")
    assert default.arena_bytes == unfused.arena_bytes and not [la for la in default.layers if la.residual]

    def filters(p):
        return sum(int(layer.arrays["filter"].nbytes) for layer in p.layers if "filter" in layer.arrays)

    # int16: 2 x (76,720 conv weights + 144 zero RGB pads) + 640 int8 FC weights; int8: 1 x
    assert filters(load_program(blob, variants="auto", layout="int16")) == 154_368
    assert filters(load_program(blob, variants="auto", layout="int8")) == 77_504
    # auto: int8 for the two 8 x 8-output 3x3 convolutions (18,432 + 36,864 weights); the
    # 1x1 shortcut (16 instructions a byte) stays int16
    assert filters(prog) == 154_368 - 55_296, filters(prog)
    assert [n.split(":")[0] for n in prog.filter_layouts] == ["layer 6 (CONV_2D)", "layer 7 (CONV_2D)"], \
        prog.filter_layouts


def test_softmax_ended_student(nn_lib, tmp_path):
    blob = model_blob("cnn_small", (32, 32, 3), softmax=True)
    inputs = H.random_inputs(blob, 12, seed=5)
    bad, _ = H.compare_with_tflm(blob, tmp_path, nn_lib, inputs)
    for line in bad:
        print(line)
    assert not bad


def test_cli_and_sources_txt_contract(tmp_path, repo_root, tool_env):
    """`tinykd export MODEL OUTDIR`, then `gcc $(cat OUTDIR/sources.txt) main.c` from the
    repository root builds a working program."""
    blob = model_blob("tiny_cnn", (32, 32, 3))
    model = tmp_path / "m.tflite"
    model.write_bytes(blob)
    out = tmp_path / "out"
    proc = subprocess.run([str(H.REPO / ".venv/bin/tinykd") if (H.REPO / ".venv/bin/tinykd").exists() else "tinykd",
                           "export", str(model), str(out)], capture_output=True, text=True, env=tool_env)
    assert proc.returncode == 0, proc.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == [".tinykd-output", "model.c", "model.h", "model.json", "model_data.c", "sources.txt"]
    header = (out / "model.h").read_text()
    info = json.loads((out / "model.json").read_text())
    import hashlib

    for macro in ("TINYKD_INPUT_BYTES", "TINYKD_OUTPUT_BYTES", "TINYKD_ARENA_BYTES", "TINYKD_INPUT_SHAPE",
                  "TINYKD_OUTPUT_SHAPE", "TINYKD_INPUT_SCALE", "TINYKD_INPUT_ZERO_POINT", "TINYKD_OUTPUT_SCALE",
                  "TINYKD_OUTPUT_ZERO_POINT", "TINYKD_MACS", "TINYKD_NUM_LAYERS", "TINYKD_INPUT_RANK",
                  "TINYKD_OUTPUT_RANK"):
        assert f"#define {macro} " in header, macro
    assert f'#define TINYKD_MODEL_SHA256 "{hashlib.sha256(blob).hexdigest()}"' in header
    assert "int tinykd_model_invoke(const int8_t *input, int8_t *output);" in header
    assert info["sha256"] == hashlib.sha256(blob).hexdigest()
    srcs = (out / "sources.txt").read_text().split()
    assert all(not s.startswith("/") and (s.startswith("-I") or s.endswith(".c")) for s in srcs), srcs
    exe = tmp_path / "prog"
    cmd = ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", *srcs, str(H.RUNNER), "-o", str(exe)]
    build = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    inputs = H.random_inputs(blob, 4, seed=9)
    got = H.run_exe(exe, inputs, (10,))
    ref = H.run_tflm(blob, inputs)
    assert not H.mismatches(got, ref)
    # exporting again gives byte-identical files
    out2 = tmp_path / "out2"
    from tinykd.export import export_model

    export_model(model, out2)
    for name in files:
        if name != "sources.txt":
            assert (out / name).read_bytes() == (out2 / name).read_bytes(), name


def test_layer_hooks_are_called(tmp_path, nn_lib):
    """TINYKD_LAYER_BEGIN/END wrap every kernel call, in order."""
    blob = model_blob("tiny_cnn", (32, 32, 3))
    from tinykd.export import export_model

    out = tmp_path / "m"
    info = export_model(blob, out)
    main = tmp_path / "hooks.c"
    main.write_text(r'''
#include <stdio.h>
#include "model.h"
static int8_t in[TINYKD_INPUT_BYTES], out[TINYKD_OUTPUT_BYTES];
int main(void) {
  int rc = tinykd_model_invoke(in, out);
  printf("\nrc=%d layers=%d\n", rc, TINYKD_NUM_LAYERS);
  return rc;
}
''')
    exe = tmp_path / "hooks"
    cmd = ["gcc", *H.CFLAGS, "-include", "stdio.h", "-DTINYKD_LAYER_BEGIN(i)=printf(\"b%d \",(int)(i))",
           "-DTINYKD_LAYER_END(i)=printf(\"e%d \",(int)(i))", f"-I{H.NN / 'include'}", f"-I{out}",
           str(out / "model.c"), str(out / "model_data.c"), str(main), str(nn_lib), "-o", str(exe)]
    subprocess.run(cmd, check=True)
    text = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    n = info["num_layers"]
    assert text.split("\n")[0].split() == [f"{k}{i}" for i in range(n) for k in "be"]
    assert f"rc=0 layers={n}" in text


@pytest.mark.skipif(not H.have_arm_gcc(), reason="arm-none-eabi-gcc not installed (scripts/setup-system.sh)")
def test_kernels_and_model_cross_compile_for_cortex_m4(tmp_path):
    """Every kernel and a generated model compile with arm-none-eabi-gcc for Cortex-M4, -Werror."""
    from tinykd.export import export_model

    out = tmp_path / "m"
    export_model(model_blob("resnet8", (32, 32, 3)), out)
    srcs = sorted((H.NN / "src").glob("*.c")) + [out / "model.c", out / "model_data.c"]
    for src in srcs:
        proc = subprocess.run(["arm-none-eabi-gcc", *H.ARM_FLAGS, f"-I{H.NN / 'include'}", f"-I{out}", "-c",
                               str(src), "-o", str(tmp_path / (src.stem + ".o"))], capture_output=True, text=True)
        assert proc.returncode == 0, f"{src.name}:\n{proc.stderr}"


def test_residual_fusion_writes_over_dying_shortcuts_only(nn_lib, tmp_path):
    """Fusion never writes over the model input nor over a shortcut read later; it does write
    over a shortcut at its last use; both operand orders; bit-exact with TFLite Micro."""
    from tinykd.export import load_program

    inp = keras.Input((6, 5, 8))
    s = keras.layers.Add()([inp, keras.layers.Conv2D(8, 3, padding="same")(inp)])   # shortcut: the input
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(s)
    y = keras.layers.Add()([keras.layers.Conv2D(8, 3, padding="same")(x), x])        # x is read again below
    z = keras.layers.Add()([keras.layers.Conv2D(8, 1)(y), x])                        # x's last use
    model = keras.Model(inp, keras.layers.Conv2D(4, 1)(keras.layers.ReLU()(z)))
    rng = np.random.default_rng(3)
    blob = H.convert(model, rng.uniform(-1, 1, (16, 6, 5, 8)).astype(np.float32))
    prog = load_program(blob, fuse=True)
    fused = [layer for layer in prog.layers if layer.residual is not None]
    assert len(fused) == 3 and not [layer for layer in prog.layers if layer.op == "ADD"]
    first, second, third = fused
    assert prog.storage[first.inputs[1]] == ("input", 0) and prog.storage[first.outputs[0]][0] == "arena"
    assert prog.storage[second.outputs[0]] != prog.storage[second.inputs[1]]
    assert prog.storage[third.outputs[0]] == prog.storage[third.inputs[1]]
    assert {f.residual["conv_is_input1"] for f in fused} == {0, 1}
    inputs = H.random_inputs(blob, 8, seed=4)
    for variants in ("reference", "auto"):
        bad, _ = H.compare_with_tflm(blob, tmp_path / variants, nn_lib, inputs, variants=variants, fuse=True)
        assert not bad, bad[:10]
