"""Compression beyond PTQ: schedules, masks, channel removal, and every method end to end on tiny
data down to an int8 .tflite that the engine exports bit-exactly (compared with TFLite Micro)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import export_harness as eh
import tiny_datasets as td
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
    assert sorted(l.name for l in pruner.layers) == ["c1", "c2"]  # logits feed the output
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
