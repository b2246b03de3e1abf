"""Compression beyond PTQ: schedules, masks, channel removal, and every method end to end on tiny
data down to an int8 .tflite that the engine exports bit-exactly (compared with TFLite Micro)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support import export_harness as eh
from support import tiny_datasets as td
from tinykd.compress import METHODS
from tinykd.compress import prune as P
from tinykd.compress.schedules import Schedule, from_params
from tinykd.errors import ParamError

REPO = Path(__file__).resolve().parents[1]
TARGET = 0.5


# ---------------------------------------------------------------- schedules (no TensorFlow)

def test_constant_schedule_updates_every_frequency_steps_within_range():
    s = Schedule("constant", 0.6, begin_step=10, end_step=50, frequency=20)
    assert [t for t in range(70) if s.should_update(t)] == [10, 30, 50]
    assert s.sparsity(9) == 0.0 and s.sparsity(10) == s.sparsity(60) == 0.6


def test_constant_schedule_without_end_prunes_forever():
    s = Schedule("constant", 0.3, begin_step=0, end_step=-1, frequency=7)
    assert s.should_update(0) and s.should_update(700) and not s.should_update(701)


def test_polynomial_decay_values():
    s = Schedule("polynomial_decay", 0.8, initial_sparsity=0.2, begin_step=100, end_step=300, frequency=50, power=3)
    assert s.sparsity(50) == 0.0
    assert s.sparsity(100) == pytest.approx(0.2)
    assert s.sparsity(200) == pytest.approx(0.8 + (0.2 - 0.8) * 0.5 ** 3)
    assert s.sparsity(300) == pytest.approx(0.8) and s.sparsity(10_000) == pytest.approx(0.8)
    values = [s.sparsity(t) for t in range(100, 301)]
    assert all(b >= a for a, b in zip(values, values[1:]))


def test_end_step_always_updates_so_the_target_is_reached():
    s = Schedule("polynomial_decay", 0.5, begin_step=0, end_step=95, frequency=40)
    assert [t for t in range(200) if s.should_update(t)] == [0, 40, 80, 95]
    assert s.sparsity(95) == pytest.approx(0.5)


def test_resolve_replaces_minus_one_with_the_last_step():
    s = Schedule("polynomial_decay", 0.5, end_step=-1, frequency=10).resolve(total_steps=37)
    assert s.end_step == 36 and s.should_update(36) and s.sparsity(36) == pytest.approx(0.5)
    assert Schedule("constant", 0.5, end_step=500).resolve(37).end_step == 36
    with pytest.raises(ParamError, match="prune.begin_step"):
        Schedule("constant", 0.5, begin_step=40).resolve(37)


@pytest.mark.parametrize("kwargs, key", [
    (dict(kind="cubic", target_sparsity=0.5), "prune.schedule"),
    (dict(kind="constant", target_sparsity=1.0), "prune.target_sparsity"),
    (dict(kind="constant", target_sparsity=0.5, begin_step=10, end_step=5), "prune.end_step"),
    (dict(kind="constant", target_sparsity=0.5, frequency=0), "prune.frequency"),
])
def test_bad_schedules_name_the_key(kwargs, key):
    with pytest.raises(ParamError, match=key.replace(".", r"\.")):
        Schedule(**kwargs)


def test_params_file_rejects_a_bad_prune_method(tmp_path):
    import yaml

    from tinykd import params

    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["prune"]["method"] = "random"
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p))
    with pytest.raises(ParamError, match=r"prune\.method.*'unstructured', 'structured'"):
        params.load(path)
    assert from_params(params.load(REPO / "params.yaml")["prune"]).kind in ("constant", "polynomial_decay")


# ---------------------------------------------------------------- masks (NumPy)

def test_unstructured_mask_zeroes_exactly_the_smallest_weights():
    w = np.random.default_rng(0).normal(size=(3, 3, 4, 8)).astype(np.float32)
    mask = P.unstructured_mask(w, 0.3)
    k = int(round(0.3 * w.size))
    assert int((mask == 0).sum()) == k
    assert np.abs(w[mask == 0]).max() <= np.abs(w[mask == 1]).min()


def test_channel_keep_drops_the_weakest_and_keeps_one():
    scores = np.array([5.0, 0.1, 3.0, 0.2, 4.0, 0.3])
    assert P.channel_keep(scores, 0.5).tolist() == [0, 2, 4]
    assert P.channel_keep(scores, 0.99).tolist() == [0]


# ---------------------------------------------------------------- Keras models

def _tiny_bn_model(shape=(16, 16, 3)):
    """Conv-BN-ReLU-pool-Conv(relu)-Flatten-Dropout-Dense: exercises folding and Flatten slicing."""
    import keras
    from keras import layers

    x = inp = keras.Input(shape, name="image")
    x = layers.Conv2D(8, 3, padding="same", use_bias=False, name="c1")(x)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU(name="r1")(x)
    x = layers.MaxPooling2D(2, name="p1")(x)
    x = layers.Conv2D(12, 3, activation="relu", name="c2")(x)
    x = layers.MaxPooling2D(2, name="p2")(x)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dropout(0.2, name="drop")(x)
    x = layers.Dense(10, name="logits")(x)
    model = keras.Model(inp, x, name="tiny_bn")
    bn = model.get_layer("bn1")
    rng = np.random.default_rng(1)
    bn.moving_mean.assign(rng.normal(0, 0.1, 8).astype(np.float32))
    bn.moving_variance.assign(rng.uniform(0.5, 2.0, 8).astype(np.float32))
    bn.gamma.assign(rng.uniform(0.5, 1.5, 8).astype(np.float32))
    bn.beta.assign(rng.normal(0, 0.1, 8).astype(np.float32))
    return model


def test_structured_removal_is_exact_and_smaller():
    """Masked channels produce exact zeros, so the rebuilt narrower model computes the same."""
    m = _tiny_bn_model()
    pruner = P.Pruner(m, "structured")
    assert sorted(layer.name for layer in pruner.layers) == ["c1", "c2"]  # logits feed the output
    pruner.update(0.5)
    pruner.apply()
    small = P.remove_channels(m, pruner.keep)
    x = np.random.default_rng(2).uniform(0, 1, (4, 16, 16, 3)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(small(x)), np.asarray(m(x)), rtol=1e-5, atol=1e-5)
    assert small.get_layer("c1").filters == 4 and small.get_layer("c2").filters == 6
    assert small.get_layer("logits").kernel.shape[0] == 3 * 3 * 6
    assert small.count_params() < m.count_params()


def test_structured_pruning_skips_channels_feeding_a_residual_add():
    import keras
    from keras import layers

    from tinykd.compress.graph import GraphError

    x = inp = keras.Input((8, 8, 4))
    a = layers.Conv2D(4, 3, padding="same", name="a")(x)
    b = layers.Conv2D(4, 3, padding="same", name="b")(a)
    y = layers.Add(name="add")([a, b])
    y = layers.Flatten()(y)
    model = keras.Model(inp, layers.Dense(3, name="out")(y))
    plan = P.StructurePlan(model)
    assert plan.prunable == {} and sorted(plan.skipped) == ["a", "b", "out"]
    assert "Add" in plan.skipped["b"]
    with pytest.raises(GraphError, match="no layer can lose output channels"):
        P.Pruner(model, "structured")


def test_qat_rejects_unsupported_layers_by_name():
    import keras
    from keras import layers

    from tinykd.compress.graph import GraphError
    from tinykd.compress.qat import quantize_model

    x = inp = keras.Input((8, 8, 3))
    x = layers.DepthwiseConv2D(3, name="dw")(x)
    x = layers.Flatten()(x)
    with pytest.raises(GraphError, match="'dw'"):
        quantize_model(keras.Model(inp, layers.Dense(2)(x)))


# ---------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A briefly trained tiny model, its data and small compression params."""
    eh.quiet_tf()
    from tinykd import train

    train.seed_everything(3)
    x, y = td.make_images(300, (16, 16, 3), seed=3)
    data = {"train": (x[:200], y[:200]), "val": (x[200:240], y[200:240]), "test": (x[240:], y[240:])}
    model = _tiny_bn_model()
    train.fit(model, data, epochs=2, batch_size=32, learning_rate=0.003, augment=False, seed=3, verbose=0)
    params = {"seed": 3, "quantize": {"representative_samples": 40},
              "compress": {"batch_size": 32, "qat_epochs": 1, "qat_learning_rate": 1e-4, "ema_momentum": 0.99},
              "prune": {"method": "unstructured", "schedule": "polynomial_decay", "target_sparsity": TARGET,
                        "initial_sparsity": 0.0, "power": 3, "begin_step": 0, "end_step": -1, "frequency": 2,
                        "epochs": 1, "learning_rate": 5e-4}}
    work = tmp_path_factory.mktemp("compress")
    return {"model": model, "data": data, "params": params, "work": work,
            "lib": eh.build_nn_lib(work / "lib"), "results": {}}


def _run(tiny, method):
    from tinykd.compress import compress

    if method not in tiny["results"]:
        tiny["results"][method] = compress(method, tiny["model"], tiny["data"], tiny["params"], verbose=0)
    return tiny["results"][method]


def _litert_int8_filters(blob: bytes) -> list[np.ndarray]:
    """Conv / FC filter tensors read through LiteRT (independent of tinykd's flatbuffer reader)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=blob)
    interp.allocate_tensors()
    by_index = {d["index"]: d for d in interp.get_tensor_details()}
    out = []
    for op in interp._get_ops_details():
        if op["op_name"] in ("CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D"):
            idx = int(op["inputs"][1])
            if by_index[idx]["dtype"] == np.int8:
                out.append(np.asarray(interp.get_tensor(idx)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_method_exports_bit_exactly(tiny, method):
    blob, metrics = _run(tiny, method)
    inputs = eh.random_inputs(blob, 4, seed=5)
    calib = tiny["data"]["test"][0][:2].astype(np.int16) - 128  # two real images as int8 too
    inputs = np.concatenate([inputs, calib.astype(np.int8)])
    bad, info = eh.compare_with_tflm(blob, tiny["work"] / method, tiny["lib"], inputs)
    assert not bad, f"{method}: {len(bad)} mismatches, e.g. {bad[:3]}"
    assert metrics["method"] == method and metrics["tflite_bytes"] == len(blob)
    assert metrics["gzip_bytes"] < metrics["float_tflite_gzip_bytes"]
    assert metrics["compression_factor"] == pytest.approx(
        metrics["float_tflite_gzip_bytes"] / metrics["gzip_bytes"], rel=1e-5)
    assert metrics["weight_bytes"] == info["weight_bytes"] and metrics["arena_bytes"] == info["arena_bytes"]
    assert 0.0 <= metrics["int8_accuracy"] <= 1.0


@pytest.mark.slow
@pytest.mark.parametrize("method", ["prune_unstructured", "ppqat"])
def test_reported_sparsity_is_the_sparsity_in_the_weights(tiny, method):
    blob, metrics = _run(tiny, method)
    filters = _litert_int8_filters(blob)
    zeros = sum(int((f == 0).sum()) for f in filters)
    total = sum(f.size for f in filters)
    assert metrics["int8_zero_weights"] == zeros and metrics["int8_weights"] == total
    assert metrics["int8_weight_sparsity"] == pytest.approx(zeros / total, abs=1e-6)
    # Per layer, round(target * size) weights were pruned; int8 rounding can only add zeros.
    expected = sum(int(round(TARGET * f.size)) for f in filters)
    assert metrics["kernel_sparsity"] == pytest.approx(expected / total, abs=1e-6)
    assert zeros >= expected
    assert metrics["nonzero_params"] == metrics["params"] - zeros


@pytest.mark.slow
def test_structured_pruning_really_removes_channels(tiny):
    _, ptq = _run(tiny, "ptq")
    blob, st = _run(tiny, "prune_structured")
    assert st["channels"] == {"c1": [8, 4], "c2": [12, 6]}
    assert st["params"] < ptq["params"] and st["weight_bytes"] < ptq["weight_bytes"]
    assert st["macs"] < ptq["macs"] and st["tflite_bytes"] < ptq["tflite_bytes"]
    shapes = sorted(f.shape for f in _litert_int8_filters(blob))
    assert (4, 3, 3, 3) in shapes and (6, 3, 3, 4) in shapes


def test_qat_int8_model_matches_its_fake_quant_simulation(tiny):
    """What QAT trained on is what ships: LiteRT's int8 outputs equal the fake-quant model's
    float outputs to within one output quantization step."""
    from tinykd.compress import qat
    from tinykd.data import to_float
    from tinykd.quantize import convert_int8, run_tflite

    model, data = tiny["model"], tiny["data"]
    q = qat.quantize_model(model)
    qat.calibrate(q, to_float(data["train"][0][:40]))
    blob = convert_int8(q, data["train"][0][:40])
    x = data["test"][0][:20]
    got, io = run_tflite(blob, x)
    want = np.asarray(q(to_float(x), training=False))
    assert np.abs(got - want).max() <= io["output_scale"] * 1.01


def test_stage_rejects_an_unknown_method(tmp_path, tool_env):
    proc = subprocess.run([sys.executable, str(REPO / "stages" / "compress.py"), "--params", str(REPO / "params.yaml"),
                           "--model", "m.keras", "--method", "distill", "--tflite", str(tmp_path / "x.tflite"),
                           "--metrics", str(tmp_path / "x.json")], cwd=REPO, env=tool_env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: params: --method = 'distill' is not allowed; expected one of ptq, qat, prune_unstructured, "
        "prune_structured, ppqat"]
    assert not (tmp_path / "x.tflite").exists()


@pytest.mark.slow
def test_stage_writes_reproducible_outputs(tiny, tmp_path, tool_env):
    """stages/compress.py on a data folder and a saved model: outputs exist, and a rerun with the
    same seed gives byte-identical .tflite and metrics."""
    import yaml

    from tinykd.data.store import write_dataset
    from tinykd.model_io import save_keras

    data_dir = tmp_path / "data"
    write_dataset(data_dir, tiny["data"], {"name": "tiny", "shape": [16, 16, 3], "num_classes": 10,
                                            "classes": [str(i) for i in range(10)],
                                            "counts": {k: len(v[1]) for k, v in tiny["data"].items()}})
    save_keras(tiny["model"], tmp_path / "student.keras")
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p.update({k: v for k, v in tiny["params"].items() if k in ("seed", "compress", "prune")})
    p["quantize"]["representative_samples"] = 40
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    outs = []
    for run in ("a", "b"):
        cmd = [sys.executable, str(REPO / "stages" / "compress.py"), "--params", str(tmp_path / "params.yaml"),
               "--data", str(data_dir), "--model", str(tmp_path / "student.keras"), "--method", "prune_structured",
               "--tflite", str(tmp_path / run / "m_int8.tflite"), "--metrics", str(tmp_path / run / "m.json")]
        proc = subprocess.run(cmd, cwd=REPO, env=tool_env, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append(((tmp_path / run / "m_int8.tflite").read_bytes(), (tmp_path / run / "m.json").read_text()))
    assert outs[0] == outs[1]
    import json

    m = json.loads(outs[0][1])
    assert m["prune_method"] == "structured" and m["channels"] == {"c1": [8, 4], "c2": [12, 6]}
    assert m["params"] < m["base_params"]


@pytest.mark.slow
def test_host_speed_bench_compares_teacher_and_student(tiny, tmp_path, tool_env):
    """bench.host_speed times both models and reports their ratio."""
    import json

    import keras
    from keras import layers

    from tinykd.data.store import write_dataset
    from tinykd.model_io import save_keras
    from tinykd.quantize import convert_int8

    x = inp = keras.Input((16, 16, 3), name="image")
    for i in range(2):
        x = layers.Conv2D(48, 3, padding="same", activation="relu", name=f"t{i}")(x)
    x = layers.GlobalAveragePooling2D()(x)
    teacher = keras.Model(inp, layers.Dense(10)(x), name="big")
    student = tiny["model"]
    calib = tiny["data"]["train"][0][:20]
    write_dataset(tmp_path / "data", tiny["data"], {"name": "tiny", "shape": [16, 16, 3], "num_classes": 10})
    for name, model in (("teacher", teacher), ("student", student)):
        save_keras(model, tmp_path / f"{name}.keras")
        (tmp_path / f"{name}_int8.tflite").write_bytes(convert_int8(model, calib))
    cmd = [sys.executable, "-m", "bench.host_speed", "--data", str(tmp_path / "data"),
           "--teacher", str(tmp_path / "teacher.keras"), "--student", str(tmp_path / "student.keras"),
           "--teacher-tflite", str(tmp_path / "teacher_int8.tflite"),
           "--student-tflite", str(tmp_path / "student_int8.tflite"), "--samples", "20",
           "--json", str(tmp_path / "speed.json")]
    proc = subprocess.run(cmd, cwd=REPO, env=tool_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((tmp_path / "speed.json").read_text())
    # Which model is faster is the bench's figure, not a test's: a loaded machine can reorder them.
    assert min(m["teacher_float_ms"], m["student_float_ms"], m["teacher_int8_ms"], m["student_int8_ms"]) > 0
    assert m["speedup_float"] == pytest.approx(m["teacher_float_ms"] / m["student_float_ms"], rel=0.01)
    assert m["speedup_int8"] == pytest.approx(m["teacher_int8_ms"] / m["student_int8_ms"], rel=0.01)
    assert "student is" in proc.stdout


def test_report_section_and_figure(tmp_path):
    """The comparison table has one row per method that ran; on-device latency only where the
    deployed model's sha256 matches."""
    import json

    from tinykd.report.compression import figure, section

    (tmp_path / "compress").mkdir()
    base = {"base_params": 20410, "base_float_accuracy": 0.9, "test_samples": 100, "float_tflite_gzip_bytes": 76000,
            "float_accuracy": 0.9, "int8_loss": 0.3, "params": 20410, "nonzero_params": 20000,
            "int8_weight_sparsity": 0.02, "weight_bytes": 20652, "arena_bytes": 10140, "macs": 101400}
    rows = {"ptq": dict(base, int8_accuracy=0.89, gzip_bytes=21000, compression_factor=3.62, tflite_sha256="aa"),
            "prune_structured": dict(base, int8_accuracy=0.85, gzip_bytes=11000, compression_factor=6.91,
                                     tflite_sha256="bb", schedule="constant", prune_method="structured",
                                     target_sparsity=0.5, begin_step=0, end_step=9, frequency=5, mask_updates=2,
                                     channels={"conv": [12, 6]})}
    for name, m in rows.items():
        (tmp_path / "compress" / f"{name}.json").write_text(json.dumps(m))
    assert section(tmp_path / "nowhere") == [] and figure(tmp_path / "nowhere") is None
    (tmp_path / "device.json").write_text(json.dumps({"model_sha256": "aa", "latency_ms": 1.25,
                                                             "core_hz": 80_000_000}))
    text = "\n".join(section(tmp_path))
    lines = [line for line in text.splitlines() if line.startswith("| ") and "acc." not in line]
    assert len(lines) == 2
    assert lines[0].startswith("| PTQ (int8) | 90.00 % | 89.00 %") and lines[0].endswith("| 1.25 ms at 80 MHz |")
    assert "3.62x" in lines[0] and "6.91x" in lines[1] and lines[1].endswith("| not deployed |")
    assert "conv 12->6" in text
    assert figure(tmp_path) is not None
