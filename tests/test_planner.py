"""The arena planner: no two simultaneously live buffers overlap, and the arena the export
reports is exactly what the generated code declares and uses."""
from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest

from tinykd.export.planner import ALIGN, Buffer, check, plan


def _random_buffers(rng, n):
    bufs = []
    for i in range(n):
        first = int(rng.integers(0, 20))
        bufs.append(Buffer(f"b{i}", int(rng.integers(1, 5000)), first, first + int(rng.integers(0, 6))))
    return bufs


@pytest.mark.parametrize("seed", range(40))
def test_random_plans_never_overlap_live_buffers(seed):
    rng = np.random.default_rng(seed)
    bufs = _random_buffers(rng, int(rng.integers(1, 40)))
    arena = plan(bufs)
    # independent brute-force check, not the planner's own helper
    for i, a in enumerate(bufs):
        assert a.offset % ALIGN == 0
        for b in bufs[i + 1:]:
            if a.first <= b.last and b.first <= a.last:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
    assert arena == max(b.offset + b.size for b in bufs)
    assert check(bufs) == []
    # never worse than no reuse at all, never better than the busiest moment
    assert arena <= sum(-(-b.size // ALIGN) * ALIGN for b in bufs)
    peak = max(sum(b.size for b in bufs if b.first <= t <= b.last) for t in range(0, 30))
    assert arena >= peak


def test_planner_reuses_memory_of_dead_buffers():
    bufs = [Buffer("a", 100, 0, 1), Buffer("b", 50, 1, 2), Buffer("c", 100, 2, 3)]
    assert plan(bufs) == 112 + 50
    assert bufs[0].offset == bufs[2].offset == 0 and bufs[1].offset == 112


def test_check_reports_overlaps():
    a, b = Buffer("a", 64, 0, 2, offset=0), Buffer("b", 64, 2, 3, offset=32)
    assert check([a, b]) and not check([a, Buffer("c", 64, 3, 4, offset=32)])


def _small_model_blob():
    from support import export_harness as H

    H.quiet_tf()
    import keras

    keras.utils.set_random_seed(3)
    inp = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu")(inp)
    y = keras.layers.Conv2D(6, 3, padding="same")(x)
    x = keras.layers.Add()([x, y])  # x stays live across the second conv
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(5)(x)
    model = keras.Model(inp, x)
    calib = np.random.default_rng(0).uniform(0, 1, (8, 12, 12, 3)).astype(np.float32)
    return H.convert(model, calib)


def test_generated_code_uses_exactly_the_planned_arena(tmp_path):
    from tinykd.export import export_model

    out = tmp_path / "m"
    info = export_model(_small_model_blob(), out)
    header = (out / "model.h").read_text()
    declared = int(re.search(r"#define TINYKD_ARENA_BYTES\s+(\d+)", header).group(1))
    assert declared == info["arena_bytes"] > 0
    bufs = [Buffer(b["name"], b["size"], b["first_layer"], b["last_layer"], b["offset"], tuple(map(tuple, b["parts"])))
            for b in info["arena"]]
    assert check(bufs) == []
    assert max(b.offset + b.size for b in bufs) == declared
    # the residual input is live while the second conv writes its output
    live_across = [b for b in bufs if b.last - b.first >= 2]
    assert live_across, info["arena"]
    # every arena pointer in model.c points inside a planned buffer of the right tensor
    code = (out / "model.c").read_text()
    offsets = {int(m) for m in re.findall(r"tinykd_arena \+ (\d+)", code)}
    assert offsets == {b.offset for b in bufs}
    for layer in info["layers"]:
        kind, off = layer["storage"]["output"]
        if kind == "arena":
            size = int(np.prod(layer["output_shape"]))
            # its own buffer, or (written in place, inplace.py) a part of its input's
            assert any(b.offset == off and (b.size == size or (off, size) in
                                            {(b.offset, p[2]) for p in b.parts}) for b in bufs), layer
    # the compiled object reserves exactly TINYKD_ARENA_BYTES for the arena
    obj = tmp_path / "model.o"
    from support import export_harness as H

    subprocess.run(["gcc", *H.CFLAGS, f"-I{H.NN / 'include'}", f"-I{out}", "-c", str(out / "model.c"), "-o", str(obj)],
                   check=True)
    nm = subprocess.run(["nm", "-S", str(obj)], capture_output=True, text=True, check=True).stdout
    line = next(row for row in nm.splitlines() if row.endswith(" tinykd_arena"))
    assert int(line.split()[1], 16) == declared
    assert json.loads((out / "model.json").read_text())["arena_bytes"] == declared


def test_parts_free_the_memory_a_shrunk_in_place_buffer_no_longer_uses():
    # a 1000-byte input pooled in place to 100 bytes at layer 1: from layer 2 on, a new
    # buffer may sit right above those 100 bytes; the same without parts may not
    shared = Buffer("pool", 1000, 0, 3, parts=((0, 1, 1000), (1, 3, 100)))
    later = Buffer("later", 500, 2, 3)
    assert plan([shared, later]) == 1000 and later.offset == 112
    assert check([shared, later]) == []
    whole = [Buffer("pool", 1000, 0, 3), Buffer("later", 500, 2, 3)]
    assert plan(whole) == 1008 + 500 and whole[1].offset == 1008
    clash = Buffer("early", 500, 1, 1, offset=112)
    assert check([shared, clash])   # layer 1 still holds the full 1000 bytes
