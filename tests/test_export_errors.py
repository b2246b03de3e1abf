"""Export failures are one clear line: unsupported operators name the operator and its
index; a student that does not fit the board stops the stage saying by how many bytes;
a teacher that does not fit is only reported."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from support import export_harness as H
from tinykd.errors import ExportError

H.quiet_tf()
keras = pytest.importorskip("keras")
_CACHE: dict[str, bytes] = {}


def _blob(name: str) -> bytes:
    if name in _CACHE:
        return _CACHE[name]
    keras.utils.set_random_seed(1)
    if name == "concat":
        inp = keras.Input((8, 8, 3))
        a = keras.layers.Conv2D(4, 3, padding="same")(inp)
        b = keras.layers.Conv2D(3, 1)(inp)
        x = keras.layers.Concatenate()([a, b])
        x = keras.layers.GlobalAveragePooling2D()(x)
        shape = (8, 8, 3)
    elif name == "small":
        inp = keras.Input((16, 16, 3))
        x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inp)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(10)(x)
        shape = (16, 16, 3)
    elif name == "big_arena":  # 64x64x32 int8 activations = 128 KB > SRAM1
        inp = keras.Input((64, 64, 3))
        x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(inp)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = keras.layers.Dense(10)(x)
        shape = (64, 64, 3)
    model = keras.Model(inp, x)
    calib = np.random.default_rng(0).uniform(0, 1, (8, *shape)).astype(np.float32)
    _CACHE[name] = H.convert(model, calib)
    return _CACHE[name]


def test_unsupported_operator_is_named_with_its_index(tmp_path):
    from tinykd.export import export_model
    from tinykd.export.reader import read_tflite

    blob = _blob("concat")
    index = [op.name for op in read_tflite(blob).ops].index("CONCATENATION")
    with pytest.raises(ExportError, match=rf"unsupported operator CONCATENATION at index {index}\b"):
        export_model(blob, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_cli_prints_one_error_line(tmp_path, tool_env):
    model = tmp_path / "concat.tflite"
    model.write_bytes(_blob("concat"))
    proc = subprocess.run([sys.executable, "-m", "tinykd.cli", "export", str(model), str(tmp_path / "o")],
                          capture_output=True, text=True, env=tool_env)
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "CONCATENATION" in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.parametrize("content,match", [(b"not a flatbuffer at all", "not a readable .tflite"),
                                           (None, "does not exist")])
def test_bad_model_files(tmp_path, content, match):
    from tinykd.export import export_model

    path = tmp_path / "m.tflite"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ExportError, match=match):
        export_model(path, tmp_path / "out")


def test_float_model_is_rejected(tmp_path):
    import tensorflow as tf

    from tinykd.export import export_model

    inp = keras.Input((4, 4, 1))
    model = keras.Model(inp, keras.layers.Conv2D(2, 3)(inp))
    blob = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    with pytest.raises(ExportError, match=r"FLOAT32.*int8"):
        export_model(blob, tmp_path / "out")


def test_model_too_big_for_sram_says_by_how_much():
    from tinykd.export.footprint import board, model_footprint, require_fit

    brd = board("b_l475e_iot01a")
    fp = model_footprint(_blob("big_arena"), brd)
    assert fp["arena_bytes"] >= 64 * 64 * 32 and not fp["fits_ram"] and fp["fits_flash"]
    over = fp["arena_bytes"] - brd.arena_budget
    with pytest.raises(ExportError, match=rf"does not fit: {over} bytes over on b_l475e_iot01a"):
        require_fit("student", fp, brd)


def test_model_too_big_for_flash_says_by_how_much():
    from tinykd.export.footprint import board, model_footprint, require_fit

    real = board("b_l475e_iot01a")
    tiny = dataclasses.replace(real, flash_bytes=real.firmware_flash_reserve + 200)
    fp = model_footprint(_blob("small"), tiny)
    assert not fp["fits_flash"] and fp["flash_over"] == fp["flash_bytes"] - 200
    with pytest.raises(ExportError, match=rf"does not fit: {fp['flash_over']} bytes over on b_l475e_iot01a \(flash"):
        require_fit("student", fp, tiny)


def _stage(tmp_path, tool_env, student: str, teacher: str):
    models = {}
    for role, name in (("student", student), ("teacher", teacher), ("baseline", "small")):
        models[role] = tmp_path / f"{role}.tflite"
        models[role].write_bytes(_blob(name))
    params = str(H.REPO / "params.yaml")
    cmd = [sys.executable, str(H.REPO / "stages" / "footprint.py"), "--params", params,
           "--student", str(models["student"]), "--teacher", str(models["teacher"]),
           "--baseline", str(models["baseline"]), "--out", str(tmp_path / "footprint.json")]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=tool_env, cwd=H.REPO)
    if proc.returncode:
        return proc
    cmd = [sys.executable, str(H.REPO / "stages" / "export.py"), "--params", params,
           "--model", str(models["student"]), "--name", "student", "--outdir", str(tmp_path / "build" / "model")]
    return subprocess.run(cmd, capture_output=True, text=True, env=tool_env, cwd=H.REPO)


def test_stage_stops_when_the_student_does_not_fit(tmp_path, tool_env):
    proc = _stage(tmp_path, tool_env, student="big_arena", teacher="small")
    assert proc.returncode == 1
    assert "error: student does not fit: " in proc.stderr and "bytes over on b_l475e_iot01a" in proc.stderr
    assert not (tmp_path / "build" / "model").exists()


def test_stage_reports_a_teacher_that_does_not_fit(tmp_path, tool_env):
    proc = _stage(tmp_path, tool_env, student="small", teacher="big_arena")
    assert proc.returncode == 0, proc.stderr
    fp = json.loads((tmp_path / "footprint.json").read_text())
    assert fp["models"]["teacher"]["fits"] is False and fp["models"]["student"]["fits"] is True
    assert fp["models"]["teacher"]["arena_over"] > 0
    assert (tmp_path / "build" / "model" / "model.c").is_file()
    assert fp["board"]["arena_budget"] + fp["board"]["firmware_ram_reserve"] == 96 * 1024


def test_footprint_of_an_unexportable_model_is_still_reported():
    from tinykd.export.footprint import board, model_footprint

    fp = model_footprint(_blob("concat"), board("b_l475e_iot01a"))
    assert fp["exportable"] is False and "CONCATENATION" in fp["unsupported"]
    assert fp["weight_bytes"] > 0 and fp["arena_bytes"] > 0 and fp["macs"] > 0


def test_cli_board_check(tmp_path, tool_env):
    model = tmp_path / "big.tflite"
    model.write_bytes(_blob("big_arena"))
    cmd = [sys.executable, "-m", "tinykd.cli", "export", str(model), str(tmp_path / "o")]
    proc = subprocess.run([*cmd, "--board", "b_l475e_iot01a"], capture_output=True, text=True, env=tool_env)
    assert proc.returncode == 1 and "does not fit: " in proc.stderr and "bytes over on b_l475e_iot01a" in proc.stderr
    proc = subprocess.run(cmd, capture_output=True, text=True, env=tool_env)  # no board: host use is fine
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_vgg_teacher_is_reported_as_not_fitting():
    """The project's ~1.15 M-parameter VGG teacher: its int8 weights alone exceed the flash
    left beside the firmware; the footprint says so (by how much) instead of failing."""
    from tinykd.export.footprint import board, model_footprint
    from tinykd.models import build

    keras.utils.set_random_seed(0)
    model = build("vgg", (32, 32, 3), 10)
    calib = np.random.default_rng(0).uniform(0, 1, (4, 32, 32, 3)).astype(np.float32)
    brd = board("b_l475e_iot01a")
    fp = model_footprint(H.convert(model, calib), brd)
    assert fp["weight_bytes"] > 1_000_000 and fp["fits_flash"] is False and fp["fits"] is False
    assert fp["flash_over"] == fp["flash_bytes"] - brd.flash_budget > 0
    assert fp["macs"] > 100_000_000
