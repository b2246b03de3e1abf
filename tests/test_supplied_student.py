"""`student.source`: a pre-trained student supplied as a file (the course's
knowledge_distilled_model_final.h5: Keras 2 .h5 as TF 2.13 saves it, final softmax) or as a
full-int8 .tflite. distill loads it instead of training, quantize quantizes it (or passes the
.tflite on), and export takes the result; misfits are one line naming the file and both shapes."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

keras = pytest.importorskip("keras")
yaml = pytest.importorskip("yaml")

from support import keras2  # noqa: E402
from tinykd import params as P  # noqa: E402
from tinykd.errors import ParamError  # noqa: E402

REPO = Path(__file__).resolve().parents[1]

@pytest.fixture(scope="module")
def course_files(tmp_path_factory, tool_env):
    """knowledge_distilled_model_final.h5 (Keras 2, softmax), a 4-class one, and an int8 .tflite."""
    pytest.importorskip("tf_keras")
    d = tmp_path_factory.mktemp("course")
    student, four = d / "knowledge_distilled_model_final.h5", d / "four_classes.h5"
    for path, classes in ((student, 10), (four, 4)):
        keras2.write_model(path, tool_env, classes=classes, filters=4, seed=1, name="kd_student")
    from tinykd.model_io import load_keras
    from tinykd.quantize import convert_int8

    calib = np.random.default_rng(0).integers(0, 256, size=(16, 28, 28, 1), dtype=np.uint8)
    tflite = d / "student_int8.tflite"
    tflite.write_bytes(convert_int8(load_keras(student), calib))
    return {"h5": student, "four": four, "tflite": tflite}


@pytest.fixture(scope="module")
def project(tmp_path_factory, mnist_dir, course_files, tool_env):
    """fetch (tiny MNIST) and a teacher loaded from the course-shaped .h5 (nothing trained)."""
    d = tmp_path_factory.mktemp("proj")
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["dataset"].update(name="mnist", source=str(mnist_dir))
    p["teacher"].update(source=str(course_files["h5"]))
    p["quantize"]["representative_samples"] = 16
    (d / "params.yaml").write_text(yaml.safe_dump(p))
    _run(d, tool_env, "fetch.py", "--out", "data")
    _run(d, tool_env, "teacher.py", "--data", "data", "--model", "models/teacher.keras",
         "--metrics", "metrics/teacher.json", "--live", "dvclive/teacher")
    return d, p


def _run(d: Path, env, script: str, *args, ok: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, str(REPO / "stages" / script), "--params", "params.yaml", *args],
                          cwd=d, env=env, capture_output=True, text=True, timeout=600)
    if ok:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _with_student(d: Path, p: dict, source: str, sha256: str = "") -> None:
    q = json.loads(json.dumps(p))
    q["student"].update(source=source, sha256=sha256)
    (d / "params.yaml").write_text(yaml.safe_dump(q))


def _distill(d: Path, env, ok: bool = True):
    return _run(d, env, "distill.py", "--data", "data", "--teacher", "models/teacher.keras",
                "--model", "models/student.keras", "--metrics", "metrics/distill.json", "--live", "dvclive/distill",
                ok=ok)


def _quantize(d: Path, env):
    return _run(d, env, "quantize.py", "--data", "data", "--model", "models/student.keras",
                "--tflite", "models/student_int8.tflite", "--metrics", "metrics/quantize_student.json")


def test_keras2_h5_student_is_loaded_not_trained(project, course_files, tool_env):
    d, p = project
    src = course_files["h5"]
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    _with_student(d, p, str(src), digest)
    proc = _distill(d, tool_env)
    assert "student supplied" in proc.stdout and "not trained" in proc.stdout
    m = json.loads((d / "metrics/distill.json").read_text())
    assert m["source"] == str(src) and m["trained"] is False and m["sha256"] == digest
    assert m["format"] == "keras" and m["ends_in_softmax"] is True and m["arch"] == "kd_student"
    assert 0.0 <= m["test_accuracy"] <= 1.0 and m["test_soft_loss"] >= 0.0
    assert (d / "dvclive/distill/supplied.txt").is_file()
    # the written student is the supplied network: same outputs
    from tinykd.model_io import load_keras

    x = np.random.default_rng(2).random((3, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(np.asarray(load_keras(d / "models/student.keras")(x)),
                               np.asarray(load_keras(src)(x)), rtol=1e-5, atol=1e-6)
    # quantize -> export run on it as on a trained student
    _quantize(d, tool_env)
    q = json.loads((d / "metrics/quantize_student.json").read_text())
    assert q["float_accuracy"] is not None and q["int8_accuracy"] is not None
    from tinykd.export import export_model

    info = export_model(d / "models/student_int8.tflite", d / "build/model")
    assert info["input"]["shape"] == [1, 28, 28, 1] and info["output"]["shape"] == [1, 10]


def test_int8_tflite_student_skips_quantization(project, course_files, tool_env):
    d, p = project
    blob = course_files["tflite"].read_bytes()
    _with_student(d, p, course_files["tflite"].as_uri())
    _distill(d, tool_env)
    m = json.loads((d / "metrics/distill.json").read_text())
    assert m["trained"] is False and m["format"] == "tflite" and m["evaluated_as"] == "int8"
    assert m["source"] == course_files["tflite"].as_uri()
    assert (d / "models/student.keras").read_bytes() == blob
    proc = _quantize(d, tool_env)
    assert "already a full-int8 .tflite" in proc.stdout
    assert (d / "models/student_int8.tflite").read_bytes() == blob
    q = json.loads((d / "metrics/quantize_student.json").read_text())
    assert q["supplied_int8"] is True and q["float_accuracy"] is None
    assert q["int8_accuracy"] == pytest.approx(m["test_accuracy"])
    # a float-only step on it says what it is, in one line
    from tinykd.errors import DataError
    from tinykd.model_io import load_keras

    with pytest.raises(DataError, match="is an int8 .tflite"):
        load_keras(d / "models/student.keras")


@pytest.mark.parametrize("which,expect", [
    ("h5_wrong_shape", r"model input shape \(28, 28, 1\) does not match the dataset's \(16, 16, 3\)"),
    ("four", "model has 4 outputs, the dataset 10 classes"),
    ("tflite_four", "model has 4 outputs, the dataset 10 classes"),
])
def test_misfit_student_is_one_line_naming_the_file(project, course_files, tool_env, tmp_path, which, expect):
    d, p = project
    if which == "h5_wrong_shape":
        # the same file against a 16x16x3 dataset: write a dataset.json-consistent copy of data
        import shutil

        from support import tiny_datasets as td

        q = json.loads(json.dumps(p))
        tar = td.tar_folder(td.write_image_folder(tmp_path / "tree"), tmp_path / "img.tar.gz")
        q["dataset"].update(name="image_folder", source=str(tar))
        q["student"].update(source=str(course_files["h5"]))
        d2 = tmp_path / "p"
        d2.mkdir()
        shutil.copytree(d / "models", d2 / "models")
        (d2 / "params.yaml").write_text(yaml.safe_dump(q))
        _run(d2, tool_env, "fetch.py", "--out", "data")
        d, src = d2, str(course_files["h5"])
    elif which == "four":
        src = str(course_files["four"])
        _with_student(d, p, src)
    else:
        from tinykd.model_io import load_keras
        from tinykd.quantize import convert_int8

        calib = np.random.default_rng(0).integers(0, 256, size=(4, 28, 28, 1), dtype=np.uint8)
        path = tmp_path / "four.tflite"
        path.write_bytes(convert_int8(load_keras(course_files["four"]), calib))
        src = str(path)
        _with_student(d, p, src)
    before = (d / "models/teacher.keras").read_bytes()
    proc = _distill(d, tool_env, ok=False)
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("error:")]   # TF logs aside
    assert proc.returncode == 1 and len(lines) == 1 and proc.stderr.strip().endswith(lines[0]), proc.stderr
    import re

    assert lines[0].startswith(f"error: student.source {src}: ") and re.search(expect, lines[0]), lines[0]
    assert (d / "models/teacher.keras").read_bytes() == before


def test_student_source_params(tmp_path):
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    assert p["student"]["source"] == "train" and p["student"]["sha256"] == ""

    def write(**student):
        q = json.loads(json.dumps(p))
        q["student"].update(student)
        path = tmp_path / "params.yaml"
        path.write_text(yaml.safe_dump(q))
        return path

    with pytest.raises(ParamError, match=r"student.source = 'nowhere.h5'.*existing .keras/.h5/.tflite file"):
        P.load(write(source="nowhere.h5"), sections=["student"])
    with pytest.raises(ParamError, match=r"student.source = 'model.onnx'.*ending in .keras, .h5 or .tflite"):
        P.load(write(source="model.onnx"), sections=["student"])
    with pytest.raises(ParamError, match="student.sha256"):
        P.load(write(sha256="xyz"), sections=["student"])
    (tmp_path / "s.tflite").write_bytes(b"x")
    P.load(write(source="s.tflite"), sections=["student"])   # relative to params.yaml


def test_report_says_the_student_was_supplied():
    from tinykd.report.collect import Inputs
    from tinykd.report.markdown import section_device, section_models, section_overview

    inp = Inputs(train={"baseline": {"test_accuracy": 0.70, "val_accuracy": 0.7, "arch": "cnn_small"},
                        "student": {"test_accuracy": 0.80, "trained": False, "source": "kd_final.h5",
                                    "sha256": "ab" * 32, "format": "keras", "arch": "kd_student",
                                    "teacher_val_accuracy": 0.1}})
    text = "\n".join(section_overview(inp) + section_models(inp))
    assert "supplied, not trained here" in text and "kd_final.h5" in text
    assert "supplied student (not trained here)" in text
    assert "Knowledge distillation changes" not in text and "no distillation gain" in text
    assert "not clearly stronger" not in text
    inp.device = {"accuracy": 0.8, "samples": 8, "emulated": True, "latency_unit": "instructions"}
    assert "| quantity | supplied student | baseline |" in section_device(inp)


@pytest.mark.slow
def test_keras2_h5_student_runs_through_to_evaluate_on_qemu(project, course_files, tool_env):
    """The course's path end to end: a supplied Keras 2 .h5 student (softmax at the end) goes
    distill (loaded, not trained) -> quantize -> export -> build -> flash -> evaluate on the QEMU
    board -> report, by the stage scripts in the order of dvc.yaml. The board's outputs are
    bit-exact with the host's TFLite Micro run of the same .tflite, and the report says supplied."""
    from support import tiny_project as tp

    if not tp.have_device_tools():
        pytest.skip("needs arm-none-eabi-gcc and qemu-system-arm")
    d, p = project
    src = course_files["h5"]
    q = json.loads(json.dumps(p))
    q["student"].update(source=str(src), sha256=hashlib.sha256(src.read_bytes()).hexdigest())
    q["device"].update(backend="qemu", port="", timeout_s=10.0)
    q["evaluate"].update(samples=8, transport="auto")
    (d / "params.yaml").write_text(yaml.safe_dump(q))
    _distill(d, tool_env)
    _quantize(d, tool_env)
    _run(d, tool_env, "export.py", "--model", "models/student_int8.tflite", "--name", "student",
         "--outdir", "build/model")
    _run(d, tool_env, "build.py", "--firmware-src", str(REPO / "firmware"), "--model-dir", "build/model",
         "--out", "build/firmware", "--metrics", "metrics/firmware.json")
    _run(d, tool_env, "flash.py", "--firmware", "build/firmware", "--out", "build/flash")
    out = _run(d, tool_env, "evaluate.py", "--flash", "build/flash", "--model-dir", "build/model",
               "--tflite", "models/student_int8.tflite", "--data", "data", "--metrics", "metrics/device.json",
               "--plots", "plots/device").stdout
    m = json.loads((d / "metrics/device.json").read_text())
    assert m["samples"] == 8 and m["emulated"] is True and m["transport"] == "semihost"
    assert m["bit_exact"] == 1.0 and m["bit_exact_images"] == 8 and m["top1_agreement"] == 1.0, out
    assert m["accuracy"] == m["host_accuracy"]
    assert m["model_sha256"] == hashlib.sha256((d / "models/student_int8.tflite").read_bytes()).hexdigest()
    assert m["latency_instructions_median"] > 1000
    subprocess.run([sys.executable, str(REPO / "stages" / "report.py"), "--out", "reports"], cwd=d, env=tool_env,
                   check=True, capture_output=True, timeout=600)
    report = (d / "reports/report.md").read_text()
    assert "supplied, not trained here" in report and str(src) in report
    assert "| outputs bit-exact with the host | 100.00 % |" in report, report
    assert "| quantity | supplied student | baseline |" in report
