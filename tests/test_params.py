"""params.yaml validation: defaults, the schema's coverage, and one clear line per bad value."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tinykd import params as P
from tinykd.errors import ParamError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "params.schema.yaml"


def _write(tmp_path: Path, changes: dict, drop: tuple[str, ...] = ()) -> Path:
    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    for key, value in changes.items():
        node = doc
        *parents, last = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    for key in drop:
        node = doc
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        del node[last]
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_repository_params_are_valid():
    p = P.load(REPO / "params.yaml", sections=["dataset", "teacher", "student", "kd", "quantize"])
    assert p["kd"]["teacher_outputs"] in ("logits", "probs")
    assert P.get(p, "kd.alpha") == yaml.safe_load((REPO / "params.yaml").read_text())["kd"]["alpha"]


def test_missing_keys_get_schema_defaults(tmp_path):
    path = _write(tmp_path, {}, drop=("kd.temperature", "dataset.limit_test"))
    p = P.load(path)
    assert p["kd"]["temperature"] == 4.0
    assert p["dataset"]["limit_test"] == 0


def _walk(schema: dict, path: str = ""):
    yield path, schema
    for key, sub in schema.get("properties", {}).items():
        yield from _walk(sub, f"{path}.{key}" if path else key)


def test_every_schema_key_has_description_and_default():
    schema = yaml.safe_load(SCHEMA.read_text())
    for path, node in _walk(schema):
        if not path:
            continue
        assert node.get("description"), f"{path} has no description"
        assert "default" in node, f"{path} has no default"


def test_schema_covers_every_section_and_key_of_params_yaml():
    schema = yaml.safe_load(SCHEMA.read_text())
    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, value in doc.items():
        assert section in schema["properties"], f"section {section} missing from the schema"
        if isinstance(value, dict):
            for key in value:
                assert key in schema["properties"][section]["properties"], f"{section}.{key} missing from the schema"


def test_schema_defaults_equal_the_shipped_params():
    """A fresh params.yaml built from defaults alone describes the same run as the shipped one."""
    schema = yaml.safe_load(SCHEMA.read_text())
    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    for section in ("dataset", "teacher", "student", "kd", "quantize"):
        for key, value in doc[section].items():
            assert schema["properties"][section]["properties"][key]["default"] == value, f"{section}.{key}"


@pytest.mark.parametrize("changes, key, value_text, allowed_text", [
    ({"dataset.name": "imagenet"}, "dataset.name", "'imagenet'", "'cifar10'"),
    ({"kd.temperature": 0}, "kd.temperature", "0", "> 0"),
    ({"kd.temperature": -2.5}, "kd.temperature", "-2.5", "> 0"),
    ({"kd.alpha": 1.5}, "kd.alpha", "1.5", "<= 1"),
    ({"kd.alpha": -0.1}, "kd.alpha", "-0.1", ">= 0"),
    ({"kd.teacher_outputs": "soft"}, "kd.teacher_outputs", "'soft'", "'logits'"),
    ({"kd.epochs": "ten"}, "kd.epochs", "'ten'", "integer"),
    ({"kd.augment": "sometimes"}, "kd.augment", "'sometimes'", "boolean or 'auto'"),
    ({"student.arch": "mobilenet"}, "student.arch", "'mobilenet'", "cnn_small"),
    ({"dataset.val_split": 1.0}, "dataset.val_split", "1.0", "< 1"),
    ({"teacher.sha256": "abc"}, "teacher.sha256", "'abc'", "matching"),
    ({"kd.alpah": 0.3}, "kd.alpah", "0.3", "did you mean 'alpha'"),
    ({"evaluate.samples": "some"}, "evaluate.samples", "'some'", "'all'"),
    ({"quantize.representative_samples": 0}, "quantize.representative_samples", "0", ">= 1"),
])
def test_bad_values_name_key_value_and_allowed(tmp_path, changes, key, value_text, allowed_text):
    with pytest.raises(ParamError) as info:
        P.load(_write(tmp_path, changes))
    msg = str(info.value)
    assert info.value.key == key
    assert "\n" not in msg
    assert key in msg and value_text in msg and allowed_text in msg, msg


def test_missing_teacher_file(tmp_path):
    path = _write(tmp_path, {"teacher.source": "nowhere/teacher.h5"})
    P.load(path)  # only the teacher stage checks the file
    with pytest.raises(ParamError) as info:
        P.load(path, sections=["teacher"])
    assert info.value.key == "teacher.source" and "nowhere/teacher.h5" in str(info.value)


def test_teacher_file_must_be_a_model_file(tmp_path):
    (tmp_path / "teacher.txt").write_text("x")
    with pytest.raises(ParamError, match="teacher.source"):
        P.load(_write(tmp_path, {"teacher.source": "teacher.txt"}), sections=["teacher"])


def test_existing_teacher_file_relative_to_params(tmp_path):
    (tmp_path / "teacher.h5").write_bytes(b"")
    P.load(_write(tmp_path, {"teacher.source": "teacher.h5"}), sections=["teacher"])
    P.load(_write(tmp_path, {"teacher.source": f"file://{tmp_path}/teacher.h5"}), sections=["teacher"])


def test_missing_dataset_source(tmp_path):
    with pytest.raises(ParamError, match=r"dataset.source = 'no/such.tar.gz'"):
        P.load(_write(tmp_path, {"dataset.source": "no/such.tar.gz"}), sections=["dataset"])
    with pytest.raises(ParamError, match="image_folder"):
        P.load(_write(tmp_path, {"dataset.name": "image_folder", "dataset.source": ""}), sections=["dataset"])


def test_unreadable_params_file(tmp_path):
    with pytest.raises(ParamError, match="params file"):
        P.load(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("kd: [unclosed\n")
    with pytest.raises(ParamError, match="valid YAML"):
        P.load(bad)


def test_stage_prints_one_error_line_and_exits_1(tmp_path, tool_env):
    path = _write(tmp_path, {"dataset.name": "svhn"})
    proc = subprocess.run([sys.executable, str(REPO / "stages" / "fetch.py"), "--params", str(path),
                           "--out", str(tmp_path / "data")], capture_output=True, text=True, env=tool_env, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: params: dataset.name = 'svhn' is not allowed; expected one of 'cifar10', 'mnist', "
        "'fashion_mnist', 'image_folder'"]
    assert not (tmp_path / "data").exists()


def test_schema_arch_choices_are_the_registry():
    from tinykd import models

    schema = yaml.safe_load(SCHEMA.read_text())
    for section in ("teacher", "student"):
        assert sorted(schema["properties"][section]["properties"]["arch"]["enum"]) == models.names()


# -- unknown keys (issue 15) ---------------------------------------------------------------------

def test_every_object_of_the_schema_refuses_unknown_keys():
    """A section (or nested object) added later must say additionalProperties: false too."""
    schema = yaml.safe_load(SCHEMA.read_text())
    for path, node in _walk(schema):
        if node.get("type") == "object" or "properties" in node:
            assert node.get("additionalProperties") is False, f"{path or '(top level)'} accepts unknown keys"


@pytest.mark.parametrize("changes, key, allowed", [
    ({"evaluate.sample": 50}, "evaluate.sample", "did you mean 'samples'?"),
    ({"device.timeout": 1}, "device.timeout", "did you mean 'timeout_s'?"),
    ({"firmware.buad": 9600}, "firmware.buad", "did you mean 'baud'?"),
    ({"firmware.bord": "x"}, "firmware.bord", "did you mean 'board'?"),
    ({"quantise": {"representative_samples": 5}}, "quantise", "did you mean 'quantize'?"),
    ({"teacher.optimiser": "sgd"}, "teacher.optimiser", ""),
])
def test_unknown_keys_name_the_key_and_the_allowed_keys(tmp_path, changes, key, allowed):
    with pytest.raises(ParamError) as info:
        P.load(_write(tmp_path, changes))
    msg = str(info.value)
    assert info.value.key == key and "\n" not in msg
    section = key.rsplit(".", 1)[0] if "." in key else None
    schema = P.load_schema()
    known = sorted((schema["properties"][section] if section else schema)["properties"])
    where = section or "the top level"
    assert msg.startswith(f"params: {key} = ") and f"a known key of {where}: {', '.join(known)}" in msg, msg
    assert allowed in msg, msg


def test_params_check_command(tmp_path, capsys):
    from tinykd.cli import main

    good = _write(tmp_path, {})
    assert main(["params", "check", str(good)]) == 0
    assert capsys.readouterr().out.strip() == f"{good}: valid"
    bad = _write(tmp_path, {"evaluate.sample": 50})
    before = bad.read_bytes()
    assert main(["params", "check", "-q", str(bad)]) == 1
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1, err
    assert lines[0].startswith("error: params: evaluate.sample = 50 is not allowed; expected a known key of "
                               "evaluate: samples") and lines[0].endswith("(did you mean 'samples'?)")
    assert bad.read_bytes() == before
    assert main(["params", "check", str(tmp_path / "absent.yaml")]) == 1
    assert "absent.yaml" in capsys.readouterr().err


def test_make_repro_checks_params_before_dvc_repro():
    lines = (REPO / "Makefile").read_text().split("\nrepro:", 1)[1].split("\n\n", 1)[0].splitlines()
    check = next(i for i, line in enumerate(lines) if "tinykd params check" in line)
    repro = next(i for i, line in enumerate(lines) if "dvc repro" in line)
    assert check < repro


def test_sweep_queue_checks_params_before_dvc(tmp_path, capsys, monkeypatch):
    from tinykd.cli import main
    from tinykd.experiments import dvc_command

    _write(tmp_path, {"kd.temprature": 4})
    called = []
    monkeypatch.setattr(dvc_command, "run", lambda *a, **k: called.append(a))
    assert main(["sweep", "queue", "grid", "--repo", str(tmp_path), "--temperatures", "1", "--alphas", "0.5"]) == 1
    assert "kd.temprature" in capsys.readouterr().err and not called


# -- numbers (issue 15) --------------------------------------------------------------------------

@pytest.mark.parametrize("text, key, value_text, allowed", [
    ("seed: 42.0", "seed", "42.0", "an integer, written without a decimal point (42, not 42.0)"),
    ("teacher: {epochs: 2.0}", "teacher.epochs", "2.0", "(2, not 2.0)"),
    ("kd: {batch_size: true}", "kd.batch_size", "True", "an integer, not true/false"),
    ("quantize: {representative_samples: 1.5}", "quantize.representative_samples", "1.5", "type integer"),
    ("kd: {alpha: .nan}", "kd.alpha", "nan", "a finite number"),
    ("kd: {temperature: .inf}", "kd.temperature", "inf", "a finite number"),
    ("prune: {power: -.inf}", "prune.power", "-inf", "a finite number"),
    ("dataset: {val_split: .NaN}", "dataset.val_split", "nan", "a finite number"),
    ("kd: {learning_rate: true}", "kd.learning_rate", "True", "a number, not true/false"),
    ("sweep: {temperatures: [1, .nan]}", "sweep.temperatures[1]", "nan", "a finite number"),
    ("sweep: {teacher_epochs: [1, 2.0]}", "sweep.teacher_epochs[1]", "2.0", "(2, not 2.0)"),
    ("evaluate: {samples: 200.0}", "evaluate.samples", "200.0", "integer >= 1 or 'all'"),
])
def test_numbers_must_be_what_they_claim(tmp_path, text, key, value_text, allowed):
    doc = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, value in yaml.safe_load(text).items():
        if isinstance(value, dict):
            doc[section].update(value)
        else:
            doc[section] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(ParamError) as info:
        P.load(path)
    msg = str(info.value)
    assert info.value.key == key and "\n" not in msg
    assert f"params: {key} = {value_text} is not allowed" in msg and allowed in msg, msg


def test_integral_floats_are_still_fine_where_a_number_is_asked():
    schema = P.load_schema()
    p = P.validate({"kd": {"temperature": 4, "alpha": 1}}, schema)
    assert p["kd"]["temperature"] == 4 and p["seed"] == 42
