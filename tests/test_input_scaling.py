"""Input scaling per model (teacher.input, student.input): x = (pixel - mean) / std per channel.

A teacher trained on raw 0..255 pixels gives the same soft targets through the pipeline (cached
views, plain cached outputs, online in the Distiller, PTQ) as Keras gives on those pixels; a
mean/std student is fed its own scaling; the default is today's pixels / 255, bit for bit."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from tinykd import distill, live, models, train
from tinykd import params as P
from tinykd.data import scaling as S
from tinykd.data import to_float
from tinykd.errors import ParamError

SHAPE = (16, 16, 3)
RAW = S.InputScaling((0.0,), (1.0,), key="teacher.input")
# CIFAR-10's per-channel statistics as torchvision writes them ([0, 1] units), in pixel units.
MEAN_STD = S.InputScaling(tuple(255 * m for m in (0.4914, 0.4822, 0.4465)),
                          tuple(255 * s for s in (0.2470, 0.2435, 0.2616)), key="student.input")


def _data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, *SHAPE), dtype=np.uint8)
    y = np.arange(n) % 10
    return x, y, {"train": (x[:32], y[:32]), "val": (x[32:40], y[32:40]), "test": (x[40:], y[40:])}


@pytest.fixture(scope="module")
def raw_teacher():
    """A teacher trained (one epoch, 32 images) on raw 0..255 pixels."""
    _, _, data = _data()
    train.seed_everything(3)
    t = models.build("tiny_cnn", SHAPE, 10)
    train.fit(t, data, epochs=1, batch_size=16, learning_rate=1e-3, augment=True, seed=3, verbose=0, scaling=RAW)
    return t


def _keras(model, x_float):
    return np.asarray(model(np.asarray(x_float, np.float32), training=False), np.float32)


# -- the default is today's arithmetic -------------------------------------------------------------

def test_default_is_pixels_over_255_bit_for_bit():
    import tensorflow as tf

    x, y, _ = _data(20)
    want = x.astype(np.float32) / 255.0
    assert S.DEFAULT.numpy(x).tobytes() == want.tobytes()
    assert S.DEFAULT.numpy(x).tobytes() == to_float(x).tobytes()
    assert np.asarray(S.DEFAULT.tf(x)).tobytes() == (tf.cast(x, tf.float32) / 255.0).numpy().tobytes()
    batches = [b[0].numpy() for b in train.make_dataset(x, y, 8, shuffle=False, augment=False, seed=0)]
    assert np.concatenate(batches).tobytes() == want.tobytes()
    params = train.augment_params(len(x), SHAPE, seed=1, view=0)
    views = train.make_dataset(x, y, 8, shuffle=False, augment=False, seed=0, views=params)
    want_aug = np.asarray(train.apply_augment(tf.cast(x, tf.float32) / 255.0, params))
    assert np.concatenate([b[0].numpy() for b in views]).tobytes() == want_aug.tobytes()
    train.seed_everything(0)
    m = models.build("tiny_cnn", SHAPE, 10)
    assert train.predict(m, x).tobytes() == _keras(m, want).tobytes()
    q = S.quantize_pixels(x, 1 / 255, -128)
    assert np.array_equal(q, np.clip(np.round(x.astype(np.float32) / 255.0 / (1 / 255) - 128), -128, 127))


def test_params_default_is_pixels_over_255():
    p = P.validate({}, P.load_schema())
    for key in ("teacher.input", "student.input"):
        s = S.from_params(P.get(p, key), key, 3)
        assert s == S.DEFAULT and s.is_default and s.describe() == "pixels / 255"
    shipped = P.load(P.find_schema().parents[2] / "params.yaml")
    assert shipped["teacher"]["input"] == shipped["student"]["input"] == {"mean": [0.0], "std": [255.0]}


def test_mean_std_per_channel_and_broadcast():
    x, _, _ = _data(4)
    want = (x.astype(np.float32) - np.float32(255 * np.array([0.4914, 0.4822, 0.4465], np.float32))) / \
        np.float32(255 * np.array([0.2470, 0.2435, 0.2616], np.float32))
    np.testing.assert_allclose(MEAN_STD.numpy(x), want, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(MEAN_STD.numpy(x), np.asarray(MEAN_STD.tf(x)))
    assert RAW.numpy(x).tobytes() == x.astype(np.float32).tobytes()
    tf_style = S.from_params({"mean": [127.5], "std": [127.5]}, "student.input", 3)
    np.testing.assert_allclose(tf_style.numpy(np.array([0, 255], np.uint8)), [-1.0, 1.0])


# -- a teacher trained on raw pixels --------------------------------------------------------------

def test_raw_pixel_teacher_same_soft_targets_as_keras(raw_teacher):
    x, _, _ = _data()
    want = _keras(raw_teacher, x.astype(np.float32))
    # Scaled as pixels / 255 it would answer differently: the test can tell the two apart.
    assert not np.allclose(want, _keras(raw_teacher, x / 255.0), atol=1e-3)
    np.testing.assert_allclose(train.predict(raw_teacher, x, scaling=RAW), want, rtol=1e-5, atol=1e-5)

    outs, params = distill.teacher_views(raw_teacher, x, views=2, seed=5, scaling=RAW)
    for v in range(2):
        aug = np.asarray(train.apply_augment(x.astype(np.float32), params[:, v]))
        keras_v = _keras(raw_teacher, aug)
        np.testing.assert_allclose(outs[:, v], keras_v, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(np.asarray(distill.soft_log_targets(outs[:, v], 4.0, "logits")),
                                   np.asarray(distill.soft_log_targets(keras_v, 4.0, "logits")), atol=1e-5)

    # Online (views 0), the teacher and a mean/std student taking the same pixel batch differently.
    student = models.build("tiny_cnn", SHAPE, 10)
    d = distill.Distiller(student, raw_teacher, alpha=0.1, temperature=4.0, student_input=MEAN_STD, teacher_input=RAW)
    px = x[:8].astype(np.float32)
    _, _, t = d._unpack((px, np.zeros(8)))
    np.testing.assert_allclose(np.asarray(t), want[:8], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(d(px)), _keras(student, MEAN_STD.numpy(x[:8])), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("augment, views", [(False, 8), (True, 2), (True, 0)])
def test_distill_raw_teacher_mean_std_student(raw_teacher, augment, views):
    """The whole distill() path: its test soft loss is the one computed from Keras outputs on
    each model's own inputs."""
    x, y, data = _data()
    train.seed_everything(4)
    student = models.build("tiny_cnn", SHAPE, 10)
    m = distill.distill(student, raw_teacher, data, alpha=0.3, temperature=4.0, teacher_outputs="logits", epochs=1,
                        batch_size=16, learning_rate=1e-3, augment=augment, seed=4, views=views, verbose=0,
                        teacher_input=RAW, student_input=MEAN_STD)
    xt, yt = data["test"]
    z_s, z_t = _keras(student, MEAN_STD.numpy(xt)), _keras(raw_teacher, xt.astype(np.float32))
    total, hard, soft = (float(v) for v in distill.kd_loss_terms(yt, z_s, z_t, alpha=0.3, temperature=4.0))
    assert m["test_soft_loss"] == pytest.approx(soft, rel=1e-4, abs=1e-5)
    assert m["test_hard_loss"] == pytest.approx(hard, rel=1e-4, abs=1e-5)
    assert m["teacher_val_accuracy"] == float((_keras(raw_teacher, data["val"][0].astype(np.float32)).argmax(1)
                                               == data["val"][1]).mean())
    assert math.isfinite(m["test_kd_loss"])


def test_ptq_calibrates_and_evaluates_on_raw_pixels(raw_teacher):
    from tinykd.quantize import convert_int8, run_tflite

    x, _, _ = _data()
    blob = convert_int8(raw_teacher, x[:16], RAW)
    out, io = run_tflite(blob, x, scaling=RAW)
    # Calibrated on 0..255 inputs: one int8 step is one pixel value.
    assert io["input_scale"] == pytest.approx(1.0, rel=1e-3) and io["input_zero_point"] == -128
    want = _keras(raw_teacher, x.astype(np.float32))
    err = np.abs(out - want).max()
    assert err < 0.1 * (np.abs(want).max() + 1e-6), err


def test_live_quantizes_with_the_models_scaling(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((4, 4), 200, np.uint8)).save(tmp_path / "a.png")
    sent = []

    class Link:
        def wait_ready(self, timeout_s):
            return SimpleNamespace(input_shape=(1, 4, 4, 1), output_bytes=2, input_scale=1.0, input_zero_point=-128,
                                   output_scale=0.1, output_zero_point=0, board="fake", model_sha256="ab" * 32,
                                   latency_unit="cycles", emulated=False, ticks_to_units=float,
                                   core_hz=80_000_000)

        def infer(self, data):
            sent.append(np.frombuffer(data, np.int8))
            return SimpleNamespace(ticks=1, output=bytes(2))

    live.run(Link(), live.folder_frames(tmp_path), echo=lambda s: None, scaling=S.InputScaling((0.0,), (1.0,)))
    assert (sent[0] == 200 - 128).all()
    with pytest.raises(ParamError, match=r"student\.input\.mean"):
        live.run(Link(), live.folder_frames(tmp_path), echo=lambda s: None,
                 scaling=S.InputScaling((1.0, 2.0), (1.0,), key="student.input"))


# -- bad values: one line naming the key, the value and what is allowed ----------------------------

def _load(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return P.load(path)


@pytest.mark.parametrize("text, key, shown", [
    ("student:\n  input: {std: [0.0]}\n", "student.input.std[0]", "0.0"),
    ("student:\n  input: {std: [-3.0]}\n", "student.input.std[0]", "-3.0"),
    ("teacher:\n  input: {mean: [.nan]}\n", "teacher.input.mean[0]", "nan"),
    ("teacher:\n  input: {std: []}\n", "teacher.input.std", "[]"),
    ("teacher:\n  input: {scale: 1.0}\n", "teacher.input.scale", "1.0"),
    ("teacher:\n  input: {mean: 0}\n", "teacher.input.mean", "0"),
])
def test_schema_refuses_bad_input_values(tmp_path, text, key, shown):
    with pytest.raises(ParamError) as info:
        _load(tmp_path, text)
    msg = str(info.value)
    assert "\n" not in msg and f"params: {key} = " in msg and shown in msg, msg


def test_wrong_list_length_names_the_channels(tmp_path):
    p = _load(tmp_path, "student:\n  input: {mean: [1.0, 2.0], std: [255.0]}\n")
    with pytest.raises(ParamError) as info:
        S.from_params(p["student"]["input"], "student.input", 3)
    msg = str(info.value)
    assert "\n" not in msg and "student.input.mean = [1.0, 2.0]" in msg and "1 value" in msg and "3" in msg, msg
    grey = S.from_params({"mean": [0.0], "std": [1.0, 1.0, 1.0]}, "teacher.input", 3)
    with pytest.raises(ParamError, match=r"teacher\.input\.std = \[1\.0, 1\.0, 1\.0\].*1 channel"):
        grey.check_channels(1)


@pytest.mark.parametrize("mean, std, key", [
    ((0.0,), (0.0,), "input.std"), ((0.0,), (float("nan"),), "input.std"), ((float("inf"),), (1.0,), "input.mean"),
    ((), (1.0,), "input.mean"), ((0.0,), ("a",), "input.std"), ((True,), (1.0,), "input.mean"),
])
def test_library_refuses_bad_values(mean, std, key):
    with pytest.raises(ParamError) as info:
        S.InputScaling(mean, std)
    assert "\n" not in str(info.value) and f"params: {key} = " in str(info.value)


def test_quantize_stage_reads_each_models_own_key():
    """quantize@teacher takes teacher.input, the two students student.input (and only those)."""
    from pathlib import Path

    doc = yaml.safe_load((Path(__file__).resolve().parents[1] / "dvc.yaml").read_text())
    q = doc["stages"]["quantize"]
    assert q["foreach"] == {"teacher": {"input": "teacher.input"}, "baseline": {"input": "student.input"},
                            "student": {"input": "student.input"}}
    assert "--input ${item.input}" in q["do"]["cmd"] and "${item.input}" in q["do"]["params"]
    stages = doc["stages"]
    assert "teacher.input" in stages["teacher"]["params"] and "student.input" not in stages["teacher"]["params"]
    assert "student.input" in stages["baseline"]["params"] and "teacher.input" not in stages["baseline"]["params"]
    assert {"teacher.input", "student.input"} <= set(stages["distill"]["params"])
    assert "student.input" in stages["evaluate"]["do"]["params"]


def test_compress_qat_covers_the_raw_pixel_range(raw_teacher):
    """compress (QAT) fine-tunes on, calibrates with and quantizes for the model's own inputs."""
    from tinykd.compress import compress
    from tinykd.compress import qat as Q

    q = Q.quantize_model(raw_teacher, input_range=RAW.value_range())
    assert [layer.fixed_range for layer in Q.act_quantizers(q) if layer.name == "input_aq"] == [(0.0, 255.0)]
    assert S.DEFAULT.value_range() == (0.0, 1.0) and MEAN_STD.value_range()[0] < 0 < MEAN_STD.value_range()[1]
    _, _, data = _data()
    p = P.validate({"quantize": {"representative_samples": 16}, "compress": {"qat_epochs": 1, "batch_size": 16}},
                   P.load_schema())
    blob, m = compress("qat", raw_teacher, data, p, verbose=0, scaling=RAW)
    from tinykd.quantize import run_tflite

    out, io = run_tflite(blob, data["test"][0], scaling=RAW)
    assert io["input_scale"] == pytest.approx(1.0, rel=1e-3) and io["input_zero_point"] == -128
    assert m["int8_accuracy"] == train.score(out, data["test"][1], probabilities=False)["accuracy"]
    assert m["base_float_accuracy"] == train.evaluate(raw_teacher, *data["test"], scaling=RAW)["accuracy"]


def test_mlperf_firmware_checks_student_input_against_the_model(tmp_path):
    """The MLPerf front-end takes student.input per channel; a list that fits neither every channel
    (1 value) nor the exported model's channels is refused in one line before anything is built."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    from tinykd.device.firmware import input_scaling_flags

    repo = Path(__file__).resolve().parents[1]
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.json").write_text(json.dumps({"input": {"shape": [1, 32, 32, 3]}}))
    assert input_scaling_flags({"mean": [0.0], "std": [255.0]}, model) == {}   # the default build is unchanged
    assert input_scaling_flags({"mean": [127.5], "std": [58.395, 57.12, 57.375]}, model) == {
        "INPUT_MEAN": "127.5,127.5,127.5", "INPUT_STD": "58.395,57.12,57.375"}
    p = yaml.safe_load((repo / "params.yaml").read_text())
    p["firmware"]["protocol"] = "mlperf"
    p["student"]["input"] = {"mean": [125.3, 123.0], "std": [63.0]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    proc = subprocess.run([sys.executable, str(repo / "stages" / "build.py"), "--params", str(tmp_path / "params.yaml"),
                           "--firmware-src", str(repo / "firmware"), "--model-dir", str(model),
                           "--out", str(tmp_path / "fw"), "--metrics", str(tmp_path / "fw.json")],
                          capture_output=True, text=True, cwd=repo)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "student.input.mean" in proc.stderr and "3" in proc.stderr
    assert not (tmp_path / "fw").exists() and not (tmp_path / "fw.json").exists()
