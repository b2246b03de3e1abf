"""Shared fixtures. Datasets are small but in the real formats (see support/tiny_datasets.py)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from support import tiny_datasets as td

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tool_env() -> dict:
    """Environment for subprocesses: the venv's bin (dvc, snakemake, python) first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["DVC_NO_ANALYTICS"] = "1"
    return env


@pytest.fixture(scope="session")
def nn_lib(tmp_path_factory) -> Path:
    """firmware/nn compiled for the host once a session, for the tests comparing exported models
    with TFLite Micro (support/export_harness.py links each model against it)."""
    from support import export_harness as H

    return H.build_nn_lib(tmp_path_factory.mktemp("nnlib"))


@pytest.fixture(scope="session")
def cifar10_tarball(tmp_path_factory) -> Path:
    """A `cifar-10-python.tar.gz` with 300 train and 100 test 32x32x3 images."""
    return td.write_cifar10_tarball(tmp_path_factory.mktemp("cifar") / "cifar-10-python.tar.gz")


@pytest.fixture(scope="session")
def mnist_dir(tmp_path_factory) -> Path:
    """The four MNIST idx.gz files (200 train, 60 test, 28x28x1)."""
    return td.write_mnist_dir(tmp_path_factory.mktemp("mnist"))


@pytest.fixture(scope="session")
def image_folder_tar(tmp_path_factory) -> Path:
    """An image-folder .tar.gz (PNG, 16x16x3, 4 classes) wrapped in a top-level folder."""
    base = tmp_path_factory.mktemp("imgfolder")
    root = td.write_image_folder(base / "tree")
    return td.tar_folder(root, base / "images.tar.gz", arcname="images")


@pytest.fixture(scope="session")
def trained_project(tmp_path_factory, mnist_dir, tool_env):
    """A git + DVC copy of the pipeline on tiny data after `dvc repro report` (the whole pipeline,
    QEMU board included, when arm-none-eabi-gcc and qemu-system-arm exist; else fetch..quantize and
    the report stage by hand), committed. Used by the sweep, report and live tests (support/tiny_project.py)."""
    from support import tiny_project as tp

    proj = tp.make_project(tmp_path_factory.mktemp("trained") / "proj", tp.tiny_params(mnist_dir), tool_env)
    if tp.have_device_tools():
        tp.run(["dvc", "repro", "report"], proj, tool_env)
    else:
        tp.run(["dvc", "repro", "quantize@teacher", "quantize@baseline", "quantize@student"], proj, tool_env)
        tp.run([sys.executable, "stages/report.py"], proj, tool_env)
    tp.commit(proj, tool_env, "tiny run")
    return proj


@pytest.fixture(scope="session")
def snakemake_grid(trained_project, tool_env) -> dict:
    """trained_project after `snakemake --cores 2 sweep` (tiny_params' 2x2 grid), run once: the local
    sweep test_sweep.py checks and test_sweep_slurm.py compares the SLURM run with. Also the
    teacher's bytes and mtime from before the run, to show the sweep reused it."""
    from support import tiny_project as tp

    teacher = trained_project / "models" / "teacher.keras"
    before = {"teacher_bytes": teacher.read_bytes(), "teacher_mtime": teacher.stat().st_mtime_ns}
    tp.run(["snakemake", "--cores", "2", "sweep"], trained_project, tool_env, timeout=1800)
    return {"project": trained_project, "grid": trained_project / "build" / "sweep" / "grid", **before}
