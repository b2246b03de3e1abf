"""Cortex-M4 DSP kernel variants (firmware/nn/src/cm4/): bit-exact with the reference kernels
and TFLite Micro, on the host (exact C stand-ins of the DSP instructions, tk_simd.h) and on
QEMU's b-l475e-iot01a (the real instructions); selection rules; -Werror
cross-compiles.

The whole-model and per-operator tests of test_export_models.py / test_export_ops.py run with
variants="auto" and so already go through these kernels wherever they accept a layer; here
the same harness (export_harness) runs layers shaped for every Cortex-M4 path with both
variants="reference" and "auto", plus a randomized C check of each variant against its
reference kernel (tests/c/cm4/cm4_check.c) that also runs bare metal under QEMU.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import time
import zlib
from types import SimpleNamespace

import numpy as np
import pytest

from support import export_harness as H
from tinykd.device.board import load as load_board

H.quiet_tf()

CM4_SRC = H.NN / "src" / "cm4"
CHECK_DIR = H.REPO / "tests" / "c" / "cm4"
BOARD = H.REPO / "firmware" / "boards" / "b_l475e_iot01a"
APP = H.REPO / "firmware" / "app"
needs_arm = pytest.mark.skipif(not H.have_arm_gcc(), reason="arm-none-eabi-gcc not installed (scripts/setup-system.sh)")
needs_qemu = pytest.mark.skipif(not (H.have_arm_gcc() and shutil.which("qemu-system-arm")),
                                reason="needs arm-none-eabi-gcc and qemu-system-arm (scripts/setup-system.sh)")


def _kernel_sources() -> list[str]:
    return [str(p) for p in sorted((H.NN / "src").rglob("*.c"))]


# ------------------------------------------------------------------ randomized C check

def _check_summary(text: str) -> tuple[int, int]:
    m = re.search(r"CM4CHECK done cases=(\d+) compared=(\d+) mismatches=(\d+)", text)
    assert m, f"no summary line in the checker's output:\n{text[-2000:]}"
    return int(m.group(2)), int(m.group(3))


def test_random_check_against_reference_kernels_on_host(tmp_path):
    """Every variant vs its reference on ~1,500 random layers per seed, under ASan/UBSan."""
    exe = tmp_path / "cm4_check"
    cmd = ["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-O1", "-fsanitize=address,undefined",
           "-fno-sanitize-recover=all", f"-I{H.NN / 'include'}", str(CHECK_DIR / "cm4_check.c"),
           str(CHECK_DIR / "cm4_check_host.c"), *_kernel_sources(), "-o", str(exe)]
    subprocess.run(cmd, check=True)
    for seed in (1, 20261122, 77):
        proc = subprocess.run([str(exe), str(seed), "300"], capture_output=True, text=True, timeout=120)
        compared, bad = _check_summary(proc.stdout)
        assert proc.returncode == 0 and bad == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert compared > 900, compared   # all six families were exercised


@needs_qemu
@pytest.mark.slow
def test_random_check_on_qemu_real_dsp_instructions(tmp_path):
    """The same check compiled for Cortex-M4 (LDM/LDRD, SXTB16 ROR, SMLAD, SMMULR, SSAT) and
    run bare metal on QEMU's B-L475E-IOT01A."""
    elf = tmp_path / "cm4_check.elf"
    cmd = ["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard", "-std=c11",
           "-O2", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections", "-ffreestanding",
           f"-I{BOARD}", f"-I{APP}", f"-I{H.NN / 'include'}", "-DCM4_CASES=400", "-DCM4_SEED=20261122u",
           str(CHECK_DIR / "cm4_check.c"), str(CHECK_DIR / "cm4_check_board.c"), str(BOARD / "startup.c"),
           str(BOARD / "board.c"), str(APP / "rx_ring.c"), *_kernel_sources(), f"-T{BOARD / 'link.ld'}",
           "-nostartfiles",
           "--specs=nano.specs", "-Wl,--gc-sections", "-Wl,--no-warn-rwx-segments", "-lc", "-lm", "-lgcc",
           *load_board().gcc_flags(), "-o", str(elf)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "uart.txt"
    qemu = subprocess.Popen(["qemu-system-arm", "-M", "b-l475e-iot01a", "-nographic", "-monitor", "none",
                             "-kernel", str(elf), "-serial", f"file:{out}"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        text = ""
        while time.monotonic() < deadline and "CM4CHECK done" not in text:
            time.sleep(0.2)
            text = out.read_text(errors="replace") if out.exists() else ""
            assert qemu.poll() is None, qemu.stderr.read().decode(errors="replace")
    finally:
        qemu.terminate()
        qemu.wait(10)
    compared, bad = _check_summary(text)
    assert bad == 0, text[-3000:]
    assert compared > 1000, compared


# ------------------------------------------------------------------ compile checks

@needs_arm
@pytest.mark.parametrize("opt", ["-O0", "-O2", "-Os"])
def test_variants_cross_compile_werror(tmp_path, opt):
    """Every Cortex-M4 source compiles for the M4 with the DSP instructions, -Werror, and the
    inline-asm forms really are the DSP instructions."""
    for src in sorted(CM4_SRC.glob("*.c")):
        asm = tmp_path / (src.stem + ".s")
        proc = subprocess.run(["arm-none-eabi-gcc", *H.ARM_FLAGS, opt, "-ffreestanding", f"-I{H.NN / 'include'}",
                               "-S", str(src), "-o", str(asm)], capture_output=True, text=True)
        assert proc.returncode == 0, f"{src.name}:\n{proc.stderr}"
        text = asm.read_text()
        if src.stem == "conv2d_pack_s8_cm4":   # export-time layout code, plain C by design
            continue
        if src.stem.startswith("max_pool"):   # byte lanes: SSUB8 + SEL, no multiplies
            assert re.search(r"\bssub8\b", text) and re.search(r"\bsel\b", text), src.name
        else:
            assert "smmulr" in text or "smla" in text, src.name
    conv = (tmp_path / "conv2d_3x3_s8_cm4.s").read_text()
    for insn in ("smlad", "ldmia", "ldrd", "sxtab16", "smmulr", "ssat"):
        assert re.search(rf"\b{insn}\b", conv), insn


def test_variants_compile_on_host_without_dsp(tmp_path):
    """The same sources with the portable C stand-ins (no __ARM_FEATURE_DSP), -Werror."""
    for src in sorted(CM4_SRC.glob("*.c")):
        subprocess.run(["gcc", *H.CFLAGS, "-Wpedantic", f"-I{H.NN / 'include'}", "-c", str(src), "-o",
                        str(tmp_path / (src.stem + ".o"))], check=True)


# ------------------------------------------------------------------ selection

def _conv(kh, kw, cin, cout, pad=0, dil=1, groups=1, h=8, w=8, stride=1):
    oh, ow = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1, (w + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    return SimpleNamespace(kind="conv2d", op="CONV_2D", op_index=0,
                           dims={"input": (1, h, w, cin), "filter": (cout, kh, kw, cin // groups),
                                 "output": (1, oh, ow, cout)},
                           params={"stride_h": stride, "stride_w": stride, "pad_h": pad, "pad_w": pad,
                                   "dilation_h": dil, "dilation_w": dil})


def _dw(c, dm, k=3):
    return SimpleNamespace(kind="depthwise_conv2d", op="DEPTHWISE_CONV_2D", op_index=0,
                           dims={"input": (1, 6, 6, c), "filter": (1, k, k, c * dm), "output": (1, 6, 6, c * dm)},
                           params={"depth_multiplier": dm})


def _fc(depth, units, filter_offset=0, rows=1):
    return SimpleNamespace(kind="fully_connected", op="FULLY_CONNECTED", op_index=0,
                           dims={"fc": (rows, depth, units, 0)}, params={"filter_offset": filter_offset})


SELECTION = [
    (_conv(3, 3, 16, 16, pad=1), "tk_conv2d_3x3_s8_cm4"),
    (_conv(3, 3, 32, 64, pad=1, stride=2), "tk_conv2d_3x3_s8_cm4"),
    (_conv(3, 3, 3, 16, pad=1), "tk_conv2d_3x3_s8_cm4"),      # RGB input: C_in 3 runs as 4
    (_conv(3, 3, 5, 16, pad=1), "tk_conv2d_s8_cm4"),          # other C_in % 4 != 0: general path
    (_conv(3, 3, 8, 8, pad=2, dil=2), "tk_conv2d_s8_cm4"),    # dilated: general path
    (_conv(1, 1, 16, 32, stride=2), "tk_conv2d_1x1_s8_cm4"),
    (_conv(1, 1, 6, 32), "tk_conv2d_s8_cm4"),
    (_conv(5, 5, 8, 4, pad=2), "tk_conv2d_s8_cm4"),
    (_conv(3, 3, 8, 8, pad=1, groups=2), "tk_conv2d_s8"),      # grouped: reference only
    (_dw(12, 1), "tk_depthwise_conv2d_s8_cm4"),
    (_dw(6, 2), "tk_depthwise_conv2d_s8"),                     # depth multiplier 2: reference
    (_fc(640, 10), "tk_fully_connected_s8_cm4"),
    (_fc(64, 10, filter_offset=3), "tk_fully_connected_s8"),   # asymmetric weights: reference
    (SimpleNamespace(kind="add", op="ADD", op_index=0, dims={}, params={}), "tk_add_s8_cm4"),
    (SimpleNamespace(kind="max_pool2d", op="MAX_POOL_2D", op_index=0, dims={}, params={}), "tk_max_pool2d_s8_cm4"),
]


@pytest.mark.parametrize("layer,expected", SELECTION, ids=[e + f"-{i}" for i, (_, e) in enumerate(SELECTION)])
def test_selection_rules(layer, expected):
    from tinykd.export import kernels

    assert kernels.select(layer, "auto").function == expected
    ref = kernels.select(layer, "reference")
    assert ref.variant == "reference" and not ref.function.endswith("_cm4")


def test_unknown_variant_set_is_an_error():
    from tinykd.errors import ExportError
    from tinykd.export import kernels

    with pytest.raises(ExportError, match="kernel variants 'cortex-m7' not allowed"):
        kernels.select(_conv(3, 3, 16, 16, pad=1), "cortex-m7")


def test_packed_filter_matches_the_c_packing(tmp_path):
    """The exporter's pack_filter() writes the words tk_conv2d_pack_s8_cm4() writes, for
    channel counts ending in each block shape and K not a multiple of 4."""
    from tinykd.export import kernels_cm4 as K

    rng = np.random.default_rng(5)
    lines, expect = [], []
    for out_c, k in ((1, 3), (2, 4), (4, 27), (5, 9), (16, 144), (7, 6)):
        f = rng.integers(-128, 128, (out_c, k), dtype=np.int8)
        vals = ", ".join(str(int(v)) for v in f.ravel())
        words = K.pack_filter(f.reshape(out_c, 1, 1, k))
        lines.append(f"{{ static const int8_t f[] = {{{vals}}}; static int32_t w[{words.size}];\n"
                     f"  if (tk_conv2d_pack_s8_cm4_words({out_c}, {k}) != {words.size}) return 1;\n"
                     f"  tk_conv2d_pack_s8_cm4(f, {out_c}, {k}, w);\n"
                     f"  for (int i = 0; i < {words.size}; ++i) {{ printf(\"%ld \", (long)w[i]); }}\n"
                     "  printf(\"\\n\"); }")
        expect.append(" ".join(str(int(v)) for v in words) + " ")
    for out_c, k in ((1, 3), (5, 9), (7, 6), (16, 144)):   # the int8 layout of the *_w8 kernels
        f = rng.integers(-128, 128, (out_c, k), dtype=np.int8)
        vals = ", ".join(str(int(v)) for v in f.ravel())
        words = K.pack_filter(f.reshape(out_c, 1, 1, k), int8=True)
        assert words.size == out_c * K.round4(k) // 4
        lines.append(f"{{ static const int8_t f[] = {{{vals}}}; static int32_t w[{words.size}];\n"
                     f"  tk_conv2d_pack8_s8_cm4(f, {out_c}, {k}, w);\n"
                     f"  for (int i = 0; i < {words.size}; ++i) {{ printf(\"%ld \", (long)w[i]); }}\n"
                     "  printf(\"\\n\"); }")
        expect.append(" ".join(str(int(v)) for v in words) + " ")
    for out_c, in_c in ((5, 4), (16, 16), (3, 3)):   # the 3x3 path's (kx, ky, c) order
        f = rng.integers(-128, 128, (out_c, 3, 3, in_c), dtype=np.int8)
        vals = ", ".join(str(int(v)) for v in f.ravel())
        for int8, fn in ((False, "tk_conv2d_3x3_pack_s8_cm4"), (True, "tk_conv2d_3x3_pack8_s8_cm4")):
            words = K._pack_conv_3x3(SimpleNamespace(arrays={"filter": f}, dims={"filter": f.shape}), int8)["filter"]
            lines.append(f"{{ static const int8_t f[] = {{{vals}}}; static int32_t w[{words.size}];\n"
                         f"  {fn}(f, {out_c}, {in_c}, w);\n"
                         f"  for (int i = 0; i < {words.size}; ++i) {{ printf(\"%ld \", (long)w[i]); }}\n"
                         "  printf(\"\\n\"); }")
            expect.append(" ".join(str(int(v)) for v in words) + " ")
    src = tmp_path / "pack.c"
    src.write_text('#include <stdio.h>\n#include "conv2d_pack_s8_cm4.h"\nint main(void) {\n' + "\n".join(lines) +
                   "\nreturn 0; }\n")
    exe = tmp_path / "pack"
    subprocess.run(["gcc", *H.CFLAGS, f"-I{H.NN / 'include'}", str(src), str(CM4_SRC / "conv2d_pack_s8_cm4.c"),
                    "-o", str(exe)], check=True)
    got = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")[:-1]
    assert got == expect


# ------------------------------------------------------------------ vs TFLite Micro

keras = pytest.importorskip("keras")


def _conv_model(h, w, cin, cout, kernel, stride, padding, act, dilation=1, bias=True):
    inp = keras.Input((h, w, cin))
    x = keras.layers.Conv2D(cout, kernel, strides=stride, padding=padding, activation=act,
                            dilation_rate=dilation, use_bias=bias)(inp)
    return keras.Model(inp, x)


def _dw_model(h, w, c, kernel, stride, padding, act):
    inp = keras.Input((h, w, c))
    return keras.Model(inp, keras.layers.DepthwiseConv2D(kernel, strides=stride, padding=padding, activation=act)(inp))


def _dense_model(d, units, act):
    inp = keras.Input((d,))
    return keras.Model(inp, keras.layers.Dense(units, activation=act)(inp))


def _residual_model(h, w, c):
    inp = keras.Input((h, w, c))
    a = keras.layers.Conv2D(c, 3, padding="same", activation="relu")(inp)
    b = keras.layers.Conv2D(c, 1)(inp)
    return keras.Model(inp, keras.layers.ReLU()(keras.layers.Add()([a, b])))


def _residual_chain_model(h, w, c):
    """Fusion where the shortcut must survive: x feeds two ADDs (no writing over it), the
    second ADD takes the convolution as its first operand, the first ADD the model input's
    successor; and a shortcut that is the model input itself (never written)."""
    inp = keras.Input((h, w, c))
    s = keras.layers.Add()([inp, keras.layers.Conv2D(c, 3, padding="same")(inp)])   # shortcut: model input
    x = keras.layers.Conv2D(c, 3, padding="same", activation="relu")(s)
    y = keras.layers.Add()([keras.layers.Conv2D(c, 3, padding="same")(x), x])
    z = keras.layers.Add()([keras.layers.Conv2D(c, 1, activation="relu")(y), x])
    return keras.Model(inp, keras.layers.ReLU()(z))


# (name, builder, kwargs, per_channel, kernels expected under "auto")
LAYERS = [
    ("conv1x1-s1-8to13", _conv_model, dict(h=7, w=9, cin=8, cout=13, kernel=1, stride=1, padding="valid", act="relu"),
     True, {"tk_conv2d_1x1_s8_cm4"}),
    ("conv1x1-s2-16to7-pt", _conv_model, dict(h=9, w=8, cin=16, cout=7, kernel=1, stride=2, padding="same", act=None),
     False, {"tk_conv2d_1x1_s8_cm4"}),
    ("conv3x3-s1-same-8to9", _conv_model, dict(h=9, w=7, cin=8, cout=9, kernel=3, stride=1, padding="same",
                                                act="relu6"), True, {"tk_conv2d_3x3_s8_cm4"}),
    ("conv3x3-s2-valid-12to6", _conv_model, dict(h=10, w=11, cin=12, cout=6, kernel=3, stride=2, padding="valid",
                                                  act=None, bias=False), True, {"tk_conv2d_3x3_s8_cm4"}),
    ("conv3x3-wide-64to34", _conv_model, dict(h=5, w=6, cin=64, cout=34, kernel=3, stride=1, padding="same",
                                                  act="relu"), True, {"tk_conv2d_3x3_s8_cm4"}),
    ("conv5x5-general-3to5", _conv_model, dict(h=9, w=9, cin=3, cout=5, kernel=5, stride=2, padding="same",
                                                act="relu"), True, {"tk_conv2d_s8_cm4"}),
    # C_in % 4 != 0 sends a 3x3 to the general path (the converter turns dilated convolutions
    # into SPACE_TO_BATCH_ND + CONV_2D, so dilation is covered by the random C check only)
    ("conv3x3-general-6to5", _conv_model, dict(h=8, w=9, cin=6, cout=5, kernel=3, stride=1, padding="same",
                                                act="relu"), False, {"tk_conv2d_s8_cm4"}),
    ("depthwise-3x3-s1-12", _dw_model, dict(h=8, w=7, c=12, kernel=3, stride=1, padding="same", act="relu"),
     True, {"tk_depthwise_conv2d_s8_cm4"}),
    ("depthwise-5x5-s2-7", _dw_model, dict(h=9, w=9, c=7, kernel=5, stride=2, padding="valid", act=None),
     False, {"tk_depthwise_conv2d_s8_cm4"}),
    ("dense-37to11", _dense_model, dict(d=37, units=11, act="relu"), True, {"tk_fully_connected_s8_cm4"}),
    ("residual-add-8", _residual_model, dict(h=6, w=7, c=8), True,
     {"tk_conv2d_3x3_s8_cm4", "tk_conv2d_1x1_s8_cm4", "tk_conv2d_add_s8_cm4"}),
    ("residual-chain-12", _residual_chain_model, dict(h=9, w=5, c=12), True,
     {"tk_conv2d_3x3_s8_cm4", "tk_conv2d_1x1_s8_cm4", "tk_conv2d_add_s8_cm4"}),
]


@pytest.mark.parametrize("name,builder,kw,per_channel,expected", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_tflite_micro_with_both_kernel_sets(name, builder, kw, per_channel, expected, nn_lib, tmp_path):
    keras.utils.set_random_seed(zlib.crc32(name.encode()))
    model = builder(**kw)
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    for w in model.weights:
        w.assign(rng.normal(0, 0.5, size=w.shape).astype(np.float32))
    calib = rng.uniform(-1, 1, size=(16, *model.input_shape[1:])).astype(np.float32)
    blob = H.convert(model, calib, per_channel=per_channel, dense_per_channel=per_channel)
    inputs = H.random_inputs(blob, 16, seed=zlib.crc32(name.encode()) + 1)
    for variants in ("reference", "auto"):
        bad, info = H.compare_with_tflm(blob, tmp_path / variants, nn_lib, inputs, variants=variants,
                                      fuse=True)
        for line in bad[:20]:
            print(name, variants, line)
        assert not bad, f"{name} ({variants}): {len(bad)} mismatching bytes"
        chosen = {layer["kernel"] for layer in info["layers"]} | {layer["fused"] for layer in info["layers"]} - {None}
        chosen = {k.replace("_w8_cm4", "_cm4") for k in chosen}   # either filter layout (layout.py)
        if variants == "auto":
            assert expected <= chosen, chosen
        else:
            assert not any(k.endswith("_cm4") for k in chosen), chosen


def test_student_matches_tflite_micro_with_both_kernel_sets(nn_lib, tmp_path):
    """The default student, exported with each kernel set: identical to TFLite Micro."""
    from support.models import model_blob

    blob = model_blob("cnn_small", (32, 32, 3))
    inputs = H.random_inputs(blob, 6, seed=11)
    for variants in ("reference", "auto"):
        bad, info = H.compare_with_tflm(blob, tmp_path / variants, nn_lib, inputs, variants=variants)
        assert not bad, f"cnn_small ({variants}): {bad[:10]}"
    kinds = [layer["kernel"] for layer in info["layers"] if layer["op"] in ("CONV_2D", "FULLY_CONNECTED")]
    assert kinds and all(k.endswith("_cm4") for k in kinds), kinds


# ------------------------------------------------------------------ the model on QEMU

@needs_qemu
@pytest.mark.slow
def test_resnet8_on_qemu_matches_tflite_micro(tmp_path):
    """ResNet-8 exported with the Cortex-M4 kernels, built into the normal firmware, run on
    QEMU: device outputs byte-identical to TFLite Micro; fewer instructions than reference."""
    from support.models import model_blob
    from tinykd.device import firmware as fw
    from tinykd.device.protocol import Link
    from tinykd.device.qemu import QemuBoard
    from tinykd.device.serial_port import open_port
    from tinykd.export import export_model

    blob = model_blob("resnet8", (32, 32, 3))
    inputs = H.random_inputs(blob, 4, seed=21)
    ref = H.run_tflm(blob, inputs)
    counts = {}
    for variants in ("auto", "reference"):
        mdir = tmp_path / variants / "model"
        info = export_model(blob, mdir, variants=variants)
        elf = fw.make(mdir, tmp_path / variants / "fw")
        with QemuBoard(elf) as board:
            port = open_port(board.url, 115200)
            try:
                link = Link(port, timeout_s=60.0, retries=1)
                hello = link.wait_ready(30.0)
                assert hello.model_sha256 == info["sha256"]
                rows = [link.infer(x.tobytes()) for x in (inputs if variants == "auto" else inputs[:1])]
            finally:
                port.close()
        got = np.stack([np.frombuffer(r.output, dtype=np.int8) for r in rows])
        assert not H.mismatches(got, ref[:len(got)]), H.mismatches(got, ref[:len(got)], limit=10)
        counts[variants] = hello.ticks_to_units(rows[0].ticks)
        if variants == "auto":
            chosen = {layer["kernel"] for layer in info["layers"]} | {layer["fused"] for layer in info["layers"]}
            # the default leaves ResNet-8's ADDs unfused: the arena is smaller so (docs/kernels.md)
            assert chosen >= {"tk_conv2d_3x3_s8_cm4", "tk_conv2d_1x1_s8_cm4", "tk_add_s8_cm4"}, chosen
    assert counts["auto"] * 3 < counts["reference"], counts
