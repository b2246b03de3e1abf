"""Teachers from files: a Keras 2 `.h5` ending in softmax (as TF 2.13 saves it, like the course's
teacher.h5), by path or URL with sha256; and byte-stable `.keras` saving."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from support import keras2  # noqa: E402
from tinykd import model_io  # noqa: E402
from tinykd.errors import DataError, ParamError  # noqa: E402
from tinykd.teacher import load_teacher  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

@pytest.fixture(scope="module")
def keras2_teacher(tmp_path_factory, tool_env):
    """A Keras 2 .h5 shaped like the course's MNIST teacher.h5 (softmax in the last Dense), and
    reference outputs on four inputs."""
    pytest.importorskip("tf_keras")
    d = tmp_path_factory.mktemp("keras2")
    path, ref = d / "teacher.h5", d / "ref.npz"
    keras2.write_model(path, tool_env, filters=8, dropout=0.5, seed=0, metrics=["accuracy"], reference=ref)
    with np.load(ref) as r:
        return path, r["x"], r["p"]


def test_keras2_h5_teacher_loads_with_the_same_outputs(keras2_teacher):
    path, x, p = keras2_teacher
    model = load_teacher(str(path), "", (28, 28, 1), 10)
    assert model_io.ends_in_softmax(model)
    np.testing.assert_allclose(np.asarray(model(x)), p, rtol=1e-5, atol=1e-7)
    logits = np.asarray(model_io.strip_softmax(model)(x))
    np.testing.assert_allclose(np.asarray(keras.ops.softmax(logits)), p, rtol=1e-5, atol=1e-7)


def test_teacher_by_file_url_with_sha256(keras2_teacher):
    path, x, p = keras2_teacher
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    model = load_teacher(path.as_uri(), digest, (28, 28, 1), 10)
    np.testing.assert_allclose(np.asarray(model(x)), p, rtol=1e-5, atol=1e-7)
    with pytest.raises(DataError, match="sha256 is"):
        load_teacher(str(path), "f" * 64, (28, 28, 1), 10)


def test_teacher_must_fit_the_dataset(keras2_teacher):
    path, _, _ = keras2_teacher
    with pytest.raises(DataError, match=r"input shape \(28, 28, 1\) does not match the dataset's \(32, 32, 3\)"):
        load_teacher(str(path), "", (32, 32, 3), 10)
    with pytest.raises(DataError, match="10 outputs, the dataset 4 classes"):
        load_teacher(str(path), "", (28, 28, 1), 4)
    with pytest.raises(ParamError, match="teacher.source"):
        load_teacher(str(path.with_name("absent.h5")), "", (28, 28, 1), 10)


def test_damaged_model_file(tmp_path):
    bad = tmp_path / "teacher.keras"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(DataError, match="cannot load as a Keras model"):
        model_io.load_keras(bad)


def test_keras_files_are_byte_identical_and_load_back(tmp_path):
    from tinykd import models

    keras.utils.set_random_seed(3)
    model = models.build("cnn_small", (32, 32, 3), 10)
    model.compile(optimizer="adam", loss="mse")  # optimizer state must not end up in the file
    model_io.save_keras(model, tmp_path / "a.keras")
    model_io.save_keras(model, tmp_path / "b.keras")
    a, b = (tmp_path / "a.keras").read_bytes(), (tmp_path / "b.keras").read_bytes()
    assert a == b
    import zipfile

    with zipfile.ZipFile(tmp_path / "a.keras") as zf:
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
        assert json.loads(zf.read("metadata.json"))["date_saved"] == model_io.FIXED_DATE_SAVED
    back = model_io.load_keras(tmp_path / "a.keras")
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(back(x)), np.asarray(model(x)), rtol=1e-6)


def test_teacher_stage_with_a_keras2_teacher_and_probs_distillation(keras2_teacher, mnist_dir, tmp_path, tool_env):
    """The course set-up: MNIST, a softmax .h5 teacher loaded (not trained), probs-mode KD."""
    import yaml

    path, _, _ = keras2_teacher
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["dataset"].update(name="mnist", source=str(mnist_dir))
    p["teacher"].update(source=str(path))
    p["student"].update(arch="ex6", epochs=1, batch_size=32)
    p["kd"].update(teacher_outputs="probs", epochs=1, batch_size=32)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(p))

    def stage(name, *extra):
        proc = subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py"), "--params", str(params),
                               "--data", str(tmp_path / "data"), *extra], cwd=tmp_path, env=tool_env,
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]

    proc = subprocess.run([sys.executable, str(REPO / "stages" / "fetch.py"), "--params", str(params),
                           "--out", str(tmp_path / "data")], env=tool_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    stage("teacher", "--model", "teacher.keras", "--metrics", "teacher.json", "--live", "live_t")
    metrics = json.loads((tmp_path / "teacher.json").read_text())
    assert metrics["ends_in_softmax"] is True and metrics["source"] == str(path)
    assert (tmp_path / "live_t" / "loaded.txt").is_file()
    stage("distill", "--teacher", "teacher.keras", "--model", "student.keras", "--metrics", "distill.json",
          "--live", "live_d")
    d = json.loads((tmp_path / "distill.json").read_text())
    assert d["teacher_outputs"] == "probs" and d["params"] == 20410 and d["test_soft_loss"] >= 0.0
