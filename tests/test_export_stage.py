"""The `export@student` and `footprint` stages as dvc.yaml wires them: `dvc repro --single-item` in a temporary
copy of the project with small int8 models in models/; outputs complete and byte-identical
on a forced rerun."""
from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from support import export_harness as H

REPO = H.REPO
pytestmark = pytest.mark.slow


def _tiny_tflite(filters: int, seed: int) -> bytes:
    H.quiet_tf()
    import keras

    keras.utils.set_random_seed(seed)
    inp = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(filters, 3, strides=2, padding="same", activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(10)(x)
    calib = np.random.default_rng(seed).uniform(0, 1, (8, 16, 16, 3)).astype(np.float32)
    return H.convert(keras.Model(inp, x), calib)


def run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def test_dvc_export_stage(tmp_path, tool_env):
    proj = tmp_path / "proj"
    proj.mkdir()
    for name in ("dvc.yaml", "params.yaml", "stages", "workflow", "src", "firmware"):
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, proj / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "build"))
        else:
            shutil.copy2(src, proj / name)
    (proj / "models").mkdir()
    for i, role in enumerate(("student", "teacher", "baseline")):
        (proj / "models" / f"{role}_int8.tflite").write_bytes(_tiny_tflite(4 + 4 * i, i))
    (proj / ".gitignore").write_text("/models/\n/metrics/\n/build/\n")
    run(["git", "init", "-q"], proj, tool_env)
    run(["dvc", "init", "-q"], proj, tool_env)
    run(["dvc", "repro", "--single-item", "export@student", "footprint"], proj, tool_env)

    model = proj / "build" / "model"
    names = sorted(p.name for p in model.iterdir())
    assert names == [".tinykd-output", "model.c", "model.h", "model.json", "model_data.c", "sources.txt"]
    assert "build/model/model.c" in (model / "sources.txt").read_text().split()
    fp = json.loads((proj / "metrics" / "footprint.json").read_text())
    assert sorted(fp["models"]) == ["baseline", "student", "teacher"]
    assert all(m["fits"] for m in fp["models"].values())
    student = json.loads((model / "model.json").read_text())
    assert fp["models"]["student"]["arena_bytes"] == student["arena_bytes"]
    assert fp["models"]["student"]["macs"] == student["macs"]

    before = {p: p.read_bytes() for p in sorted(model.iterdir())} | {
        proj / "metrics/footprint.json": (proj / "metrics/footprint.json").read_bytes()}
    run(["dvc", "repro", "--single-item", "--force", "export@student", "footprint"], proj, tool_env)
    changed = [p.name for p, data in before.items() if p.read_bytes() != data]
    assert not changed, changed
