"""Batch-level augmentation and the cached-teacher-views path of distillation."""
import json

import numpy as np
import pytest

from tinykd import distill, train


def _images(n=6, h=8, w=8, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, c), dtype=np.uint8)


def _reference_crop(img, dy, dx, flip, pad):
    p = np.pad(img, ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    h, w = img.shape[:2]
    out = p[dy:dy + h, dx:dx + w]
    return out[:, ::-1] if flip else out


def test_apply_augment_matches_numpy_crop_and_flip():
    x = _images()
    pad = train._pad(x.shape[1:])
    params = train.augment_params(len(x), x.shape[1:], seed=3, view=1)
    params[0] = (pad, pad, 0)  # identity
    params[1] = (pad, pad, 1)  # pure flip
    got = np.asarray(train.apply_augment(x.astype(np.float32), params))
    for i in range(len(x)):
        np.testing.assert_array_equal(got[i], _reference_crop(x[i], *params[i], pad))
    np.testing.assert_array_equal(got[0], x[0])
    np.testing.assert_array_equal(got[1], x[1][:, ::-1])


def test_augment_params_fixed_by_seed_and_view_and_in_range():
    a = train.augment_params(100, (32, 32, 3), seed=1, view=0)
    np.testing.assert_array_equal(a, train.augment_params(100, (32, 32, 3), seed=1, view=0))
    assert not np.array_equal(a, train.augment_params(100, (32, 32, 3), seed=1, view=1))
    assert a[:, :2].min() >= 0 and a[:, :2].max() <= 8 and set(np.unique(a[:, 2])) <= {0, 1}
    gray = train.augment_params(100, (28, 28, 1), seed=1, view=0)
    assert (gray[:, 2] == 0).all()  # no flips for single-channel (digits)


def test_online_augmented_dataset_is_deterministic_and_changes_per_epoch():
    x, y = _images(16), np.arange(16) % 3
    ds = train.make_dataset(x, y, 8, shuffle=True, augment=True, seed=5)
    e1 = [b[0].numpy() for b in ds]
    e2 = [b[0].numpy() for b in ds]
    again = [b[0].numpy() for b in train.make_dataset(x, y, 8, shuffle=True, augment=True, seed=5)]
    np.testing.assert_array_equal(np.concatenate(e1), np.concatenate(again))
    assert not np.array_equal(np.concatenate(e1), np.concatenate(e2))
    assert 0.0 <= min(b.min() for b in e1) and max(b.max() for b in e1) <= 1.0


class _PixelTeacher:
    """A 'teacher' whose outputs identify the exact image it saw: its first 4 pixels."""

    def __call__(self, x, training=False):
        import tensorflow as tf

        return tf.reshape(x, (tf.shape(x)[0], -1))[:, :4]


def test_cached_views_pair_every_image_with_the_output_for_that_view():
    x, y = _images(10), np.arange(10)
    outs, params = distill.teacher_views(_PixelTeacher(), x, views=3, seed=7, batch_size=4)
    assert outs.shape == (10, 3, 4) and params.shape == (10, 3, 3)
    seen_views = set()
    for epoch in range(2):
        for img, lab, out in distill.views_dataset(x, y, outs, params, 4, seed=7):
            img, lab, out = img.numpy(), lab.numpy(), out.numpy()
            np.testing.assert_allclose(img.reshape(len(img), -1)[:, :4], out, rtol=0, atol=0)
            for i, label in enumerate(lab):
                v = [k for k in range(3) if np.array_equal(outs[label, k], out[i])]
                assert v, "output does not belong to any cached view of its image"
                seen_views.add(v[0])
    assert len(seen_views) > 1


def test_distill_with_views_trains_and_reports_validation(tmp_path):
    from tinykd import models

    train.seed_everything(0)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (64, 8, 8, 3), dtype=np.uint8)
    y = rng.integers(0, 3, 64)
    data = {"train": (x[:40], y[:40]), "val": (x[40:52], y[40:52]), "test": (x[52:], y[52:])}
    teacher = models.build("tiny_cnn", (8, 8, 3), 3)
    student = models.build("tiny_cnn", (8, 8, 3), 3)
    seen = []
    m = distill.distill(student, teacher, data, alpha=0.5, temperature=2.0, teacher_outputs="logits",
                        epochs=1, batch_size=16, learning_rate=0.01, augment=True, seed=0, views=2,
                        verbose=0, on_teacher=seen.append)
    assert m["views"] == 2 and m["teacher_cached"] is True
    assert 0.0 <= m["val_accuracy"] <= 1.0 and 0.0 <= m["teacher_val_accuracy"] <= 1.0
    assert seen == [pytest.approx(m["teacher_val_accuracy"])]


def test_negative_views_refused():
    from tinykd.errors import ParamError

    with pytest.raises(ParamError, match="kd.views"):
        distill.distill(None, None, {"train": (np.zeros((1, 8, 8, 3), np.uint8), np.zeros(1))}, alpha=0.5,
                        temperature=2.0, teacher_outputs="logits", epochs=1, batch_size=1, learning_rate=0.1,
                        augment=True, seed=0, views=-1)


def test_weak_teacher_warning(tmp_path, capsys):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("distill_stage", Path(__file__).parents[1] / "stages" / "distill.py")
    stage = importlib.util.module_from_spec(spec)
    import sys
    sys.path.insert(0, str(Path(__file__).parents[1] / "stages"))
    spec.loader.exec_module(stage)
    base = tmp_path / "baseline.json"
    base.write_text(json.dumps({"val_accuracy": 0.747}))
    stage.warn_weak_teacher(0.725, str(base))
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "0.7250" in err and "0.7470" in err
    stage.warn_weak_teacher(0.88, str(base))
    assert capsys.readouterr().err == ""


def test_one_cycle_schedule_shape():
    opt = train.optimizer(0.2, epochs=10, steps_per_epoch=10, name="sgd")
    sched = opt._learning_rate
    vals = [float(sched(s)) for s in (0, 10, 20, 60, 100)]
    assert vals[0] == 0.0 and vals[2] == pytest.approx(0.2) and 0 < vals[3] < 0.2 and vals[4] == 0.0


def test_resnet9_teacher_builds_logits():
    from tinykd import models

    m = models.build("resnet9", (32, 32, 3), 10)
    assert m.outputs[0].shape[-1] == 10 and 0.9e6 < m.count_params() < 1.0e6


def test_a_model_trained_with_the_one_cycle_schedule_saves_and_loads(tmp_path):
    """Keras serializes the optimizer with the model: clone_model must rebuild the schedule."""
    from tinykd import models
    from tinykd.model_io import load_keras, save_keras

    x, y = _images(32), np.arange(32) % 3
    m = models.build("tiny_cnn", x.shape[1:], 3)
    train.fit(m, {"train": (x, y), "val": (x[:8], y[:8])}, epochs=1, batch_size=16, learning_rate=0.1,
              augment=True, seed=0, verbose=0, optimizer_name="sgd")
    save_keras(m, tmp_path / "m.keras")
    back = load_keras(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(back(x[:4] / 255.0)), np.asarray(m(x[:4] / 255.0)))


@pytest.mark.parametrize("setting, arch, student_augment, expected", [
    ("auto", "cnn_small", True, False),   # measured: distilled on the plain images
    ("auto", "resnet8", False, True),     # measured: distilled on crop + flip, whatever its baseline does
    ("auto", "tiny_cnn", True, True),     # not measured: as its baseline trains
    ("auto", "tiny_cnn", False, False),
    ("auto", None, True, True),           # a supplied student: no architecture to look up
    (True, "cnn_small", False, True),     # an explicit value always wins
    (False, "resnet8", True, False),
])
def test_kd_augment_auto_resolves_per_student(setting, arch, student_augment, expected):
    from tinykd import models

    assert models.distill_augment(setting, arch, student_augment) is expected


def test_kd_augment_table_names_registered_students():
    from tinykd import models

    assert set(models.DISTILL_AUGMENT) <= set(models.ARCHS)


def test_kd_augment_bad_value_refused():
    from tinykd import models
    from tinykd.errors import ParamError

    with pytest.raises(ParamError, match="kd.augment = 'sometimes'.*true, false or auto"):
        models.distill_augment("sometimes", "cnn_small", True)
