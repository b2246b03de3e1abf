"""The Distiller's loss against values worked out by hand, and its teacher-output handling."""
from __future__ import annotations

import math

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from tinykd.distill import Distiller, kd_loss_terms, teacher_output_model  # noqa: E402
from tinykd.model_io import ends_in_softmax, strip_softmax  # noqa: E402

Y = np.array([2, 0])
ZS = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]], dtype=np.float32)
ZT = np.array([[0.0, 1.0, 4.0], [2.0, 0.0, -2.0]], dtype=np.float32)


def _softmax(z):
    e = [math.exp(v) for v in z]
    return [v / sum(e) for v in e]


def _by_hand(y, zs, zt, alpha, T):
    """Plain-Python loss: alpha*CE + (1-alpha)*T^2*KL(softmax(zt/T) || softmax(zs/T)), batch means."""
    ce = kl = 0.0
    for yi, s, t in zip(y, zs, zt):
        ce += -math.log(_softmax(s)[yi])
        pt, ps = _softmax([v / T for v in t]), _softmax([v / T for v in s])
        kl += sum(a * math.log(a / b) for a, b in zip(pt, ps))
    ce, kl = ce / len(y), kl / len(y)
    return alpha * ce + (1 - alpha) * T * T * kl, ce, T * T * kl


def _terms(alpha, T, teacher=ZT, outputs="logits"):
    return [float(v) for v in kd_loss_terms(Y, ZS, teacher, alpha=alpha, temperature=T, teacher_outputs=outputs)]


def test_alpha_one_is_cross_entropy():
    total, hard, _ = _terms(1.0, 3.0)
    ce = (-math.log(_softmax(ZS[0])[2]) - math.log(_softmax(ZS[1])[0])) / 2
    assert total == pytest.approx(ce, rel=1e-5) and hard == pytest.approx(ce, rel=1e-5)


def test_alpha_zero_is_pure_distillation():
    total, _, soft = _terms(0.0, 2.0)
    assert total == pytest.approx(soft, rel=1e-6)
    assert total == pytest.approx(_by_hand(Y, ZS, ZT, 0.0, 2.0)[0], rel=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.25, 0.4, 1.0])
@pytest.mark.parametrize("T", [1.0, 2.0, 5.0])
def test_matches_hand_computation(alpha, T):
    got = _terms(alpha, T)
    want = _by_hand(Y, ZS, ZT, alpha, T)
    assert got == pytest.approx(list(want), rel=1e-5, abs=1e-7)


def test_temperature_scaling_of_the_soft_term():
    """soft = T^2 * KL at temperature T: for T=1 it is the plain KL; it is zero when the outputs agree."""
    _, _, soft1 = _terms(0.5, 1.0)
    pt, ps = _softmax(ZT[0]), _softmax(ZS[0])
    kl0 = sum(a * math.log(a / b) for a, b in zip(pt, ps))
    pt, ps = _softmax(ZT[1]), _softmax(ZS[1])
    kl1 = sum(a * math.log(a / b) for a, b in zip(pt, ps))
    assert soft1 == pytest.approx((kl0 + kl1) / 2, rel=1e-5)
    _, _, soft4 = _terms(0.5, 4.0)
    assert soft4 == pytest.approx(_by_hand(Y, ZS, ZT, 0.0, 4.0)[2], rel=1e-5)  # T^2 * KL at T = 4
    assert _terms(0.5, 4.0, teacher=ZS)[2] == pytest.approx(0.0, abs=1e-6)
    # Large T: T^2 * KL tends to the logit-matching limit (1/2N) * sum((zs - zt - mean diff)^2) / K.
    # (float64: in float32 the tiny KL at large T drowns in rounding.)
    big = float(kd_loss_terms(Y, ZS.astype(np.float64), ZT.astype(np.float64), alpha=0.0, temperature=1000.0)[2])
    d = (ZS - ZT) - (ZS - ZT).mean(axis=1, keepdims=True)
    assert big == pytest.approx(float((d ** 2).sum(axis=1).mean() / (2 * ZS.shape[1])), rel=1e-2)


def test_probs_mode_softens_probabilities_like_the_course():
    """probs: p^(1/T) renormalised; for p = softmax(z) that equals softmax(z / T), i.e. logits mode."""
    T = 3.0
    p = np.array([_softmax(z) for z in ZT], dtype=np.float32)
    softened = p ** (1 / T) / (p ** (1 / T)).sum(axis=1, keepdims=True)
    from tinykd.distill import soft_log_targets

    got = np.exp(np.asarray(soft_log_targets(p, T, "probs")))
    np.testing.assert_allclose(got, softened, rtol=1e-5)
    assert _terms(0.3, T, teacher=p, outputs="probs") == pytest.approx(_terms(0.3, T), rel=1e-4)


def _softmax_teacher(last_is_layer: bool):
    inputs = keras.Input((4,))
    if last_is_layer:
        out = keras.layers.Softmax()(keras.layers.Dense(3, name="fc")(inputs))
    else:
        out = keras.layers.Dense(3, activation="softmax", name="fc")(inputs)
    return keras.Model(inputs, out)


@pytest.mark.parametrize("last_is_layer", [True, False])
def test_strip_softmax_recovers_logits(last_is_layer):
    model = _softmax_teacher(last_is_layer)
    assert ends_in_softmax(model)
    logits_model = strip_softmax(model)
    assert not ends_in_softmax(logits_model)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    w, b = model.get_layer("fc").get_weights()
    np.testing.assert_allclose(np.asarray(logits_model(x)), x @ w + b, rtol=1e-5, atol=1e-6)
    # teacher_outputs: logits strips the softmax, probs keeps it
    np.testing.assert_allclose(np.asarray(teacher_output_model(model, "logits")(x)), x @ w + b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(teacher_output_model(model, "probs")(x)), np.asarray(model(x)), rtol=1e-6)


def test_logits_teacher_gets_a_softmax_for_probs_mode():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    probs = np.asarray(teacher_output_model(model, "probs")(np.ones((2, 4), np.float32)))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def _tiny_setup(seed=0):
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    inputs = keras.Input((4,))
    student = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    t_in = keras.Input((4,))
    teacher = keras.Model(t_in, keras.layers.Dense(3)(t_in))
    return x, y, student, teacher


def test_distiller_reports_both_terms_and_their_weighted_sum():
    x, y, student, teacher = _tiny_setup()
    d = Distiller(student, teacher, alpha=0.3, temperature=2.0)
    d.compile(optimizer=keras.optimizers.SGD(0.0))
    res = d.evaluate(x, y, batch_size=32, return_dict=True, verbose=0)
    total, hard, soft = (float(v) for v in kd_loss_terms(y, np.asarray(student(x)), np.asarray(teacher(x)),
                                                           alpha=0.3, temperature=2.0))
    assert res["hard_loss"] == pytest.approx(hard, rel=1e-5)
    assert res["soft_loss"] == pytest.approx(soft, rel=1e-5)
    assert res["loss"] == pytest.approx(0.3 * hard + 0.7 * soft, rel=1e-5)
    assert 0.0 <= res["accuracy"] <= 1.0


def test_cached_and_online_teacher_outputs_train_the_same():
    """Caching the teacher's outputs is an optimisation only: same data order, same weights."""
    import tensorflow as tf

    weights = []
    for cached in (True, False):
        x, y, student, teacher = _tiny_setup(seed=1)
        d = Distiller(student, None if cached else teacher, alpha=0.5, temperature=3.0)
        d.compile(optimizer=keras.optimizers.SGD(0.1))
        parts = (x, y, np.asarray(teacher(x))) if cached else (x, y)
        d.fit(tf.data.Dataset.from_tensor_slices(parts).batch(8), epochs=2, verbose=0)
        weights.append([w.copy() for w in student.get_weights()])
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_gradient_pulls_student_towards_teacher_when_alpha_zero():
    x, y, student, teacher = _tiny_setup(seed=2)
    d = Distiller(student, teacher, alpha=0.0, temperature=2.0)
    d.compile(optimizer=keras.optimizers.Adam(0.05))
    before = d.evaluate(x, y, verbose=0, return_dict=True)["soft_loss"]
    d.fit(x, y, epochs=30, batch_size=32, verbose=0)
    after = d.evaluate(x, y, verbose=0, return_dict=True)["soft_loss"]
    assert after < 0.2 * before
