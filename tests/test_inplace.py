"""In-place outputs (export/inplace.py): the Cortex-M4 3x3 convolution over its own input
when its output rows never overtake the raw rows still to read, max pooling over its input;
the planner then counts only the bytes each tensor of a shared buffer uses while it lives.
Bit-exact with TFLite Micro with both kernel sets and both filter layouts."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from support import export_harness as H
from tinykd.export.inplace import rows_fit_in_place

H.quiet_tf()
import keras  # noqa: E402


def _conv(ih, iw, ic, oh, ow, oc, stride, pad):
    return SimpleNamespace(dims={"input": (1, ih, iw, ic), "output": (1, oh, ow, oc)},
                           params={"stride_h": stride, "pad_h": pad})


@pytest.mark.parametrize("layer,ok", [
    (_conv(16, 16, 32, 16, 16, 32, 1, 1), True),    # equal rows, stride 1: a VGG/ResNet body layer
    (_conv(16, 16, 16, 16, 16, 32, 1, 1), False),   # wider rows overtake raw row 3 at output row 1
    (_conv(16, 16, 16, 8, 8, 64, 2, 0), True),      # stride 2, 4x channels: output row = 2 input rows
    (_conv(16, 16, 16, 8, 8, 64, 2, 1), True),      # padded: the output row ends where row 2oy+2 starts
    (_conv(16, 16, 16, 8, 8, 128, 2, 1), False),    # 8x channels: twice that
    (_conv(16, 16, 32, 8, 8, 32, 2, 1), True),      # stride 2 shrinks: always fits
    (_conv(3, 4, 8, 3, 4, 8, 1, 1), True),          # every row fits in the first window
])
def test_rows_fit_in_place(layer, ok):
    assert rows_fit_in_place(layer) is ok


def _rows_by_hand(layer) -> bool:
    """Independent simulation: write output row oy byte by byte after the window holds its
    rows; fail if a raw input row read later was overwritten."""
    _, ih, iw, ic = layer.dims["input"]
    _, oh, ow, oc = layer.dims["output"]
    s, pad = layer.params["stride_h"], layer.params["pad_h"]
    written = 0          # output bytes written so far (from offset 0 of the shared buffer)
    in_window = set()
    for oy in range(oh):
        for iy in range(oy * s - pad, oy * s - pad + 3):
            if 0 <= iy < ih and iy not in in_window:
                if written > iy * iw * ic:   # expanding a raw row someone already wrote over
                    return False
                in_window.add(iy)
        written += ow * oc
    return True


@pytest.mark.parametrize("seed", range(30))
def test_rows_fit_in_place_agrees_with_a_simulation(seed):
    rng = np.random.default_rng(seed)
    ih, iw, ic = (int(v) for v in rng.integers(1, 12, 3))
    stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 2))
    oh, ow = (ih + 2 * pad - 3) // stride + 1, (iw + 2 * pad - 3) // stride + 1
    if oh < 1 or ow < 1:
        return
    layer = _conv(ih, iw, ic, oh, ow, int(rng.integers(1, 40)), stride, pad)
    assert rows_fit_in_place(layer) == _rows_by_hand(layer)


def _vgg_blob():
    keras.utils.set_random_seed(5)
    inp = keras.Input((10, 9, 4))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inp)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)          # in place
    x = keras.layers.MaxPooling2D(2)(x)                                          # in place
    x = keras.layers.Conv2D(16, 3, padding="same")(x)                            # wider: not in place
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)         # in place
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inp, keras.layers.Dense(6)(x))
    rng = np.random.default_rng(5)
    for w in model.weights:
        w.assign(rng.normal(0, 0.4, size=w.shape).astype(np.float32))
    return H.convert(model, rng.uniform(-1, 1, (16, 10, 9, 4)).astype(np.float32))


@pytest.fixture(scope="module")
def nn_lib(tmp_path_factory):
    return H.build_nn_lib(tmp_path_factory.mktemp("nnlib_inplace"))


def test_convolutions_and_pools_write_over_their_inputs(nn_lib, tmp_path):
    from tinykd.export import load_program

    blob = _vgg_blob()
    prog = load_program(blob)
    same = [prog.storage[layer.outputs[0]] == prog.storage[layer.inputs[0]] for layer in prog.layers]
    ops = [layer.op for layer in prog.layers]
    assert ops[:6] == ["CONV_2D", "CONV_2D", "MAX_POOL_2D", "CONV_2D", "CONV_2D", "MAX_POOL_2D"]
    assert same[:6] == [False, True, True, False, True, True]
    ref = load_program(blob, variants="reference")   # the reference convolutions never do
    assert [ref.storage[la.outputs[0]] == ref.storage[la.inputs[0]] for la in ref.layers][:6] == \
        [False, False, True, False, False, True]
    inputs = H.random_inputs(blob, 8, seed=6)
    for variants, layout in (("reference", "auto"), ("auto", "int16"), ("auto", "int8")):
        bad, _ = H.compare_with_tflm(blob, tmp_path / f"{variants}-{layout}", nn_lib, inputs, variants=variants,
                                     layout=layout)
        assert not bad, (variants, layout, bad[:10])


def test_student_arena_within_20_kib():
    """cnn_small (the default student) with the Cortex-M4 kernels: the 3x3 body layers and
    the pools in place bring the arena under issue 18's 20 KiB (23,744 B before)."""
    from support.models import model_blob
    from tinykd.export import load_program

    prog = load_program(model_blob("cnn_small", (32, 32, 3)))
    assert prog.arena_bytes <= 20 * 1024, prog.arena_bytes
