"""The fetch stage's readers and writer on small archives in the real formats, and on damaged ones."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from support import tiny_datasets as td
from support.files import digests
from tinykd.data import fetch, load_info, load_split, sources
from tinykd.errors import DataError

REPO = Path(__file__).resolve().parents[1]


def test_cifar10_tarball(cifar10_tarball, tmp_path):
    info = fetch(tmp_path / "data", "cifar10", str(cifar10_tarball), val_split=0.1, seed=3)
    assert info["shape"] == [32, 32, 3] and info["num_classes"] == 10
    assert info["classes"][0] == "airplane" and info["classes"][-1] == "truck"
    assert info["counts"] == {"train": 270, "val": 30, "test": 100}
    assert info["class_counts"]["val"] == [3] * 10  # stratified: 30 training images per class
    x_all, y_all = td.make_images(400, (32, 32, 3), seed=0)
    xt, yt = load_split(tmp_path / "data", "test")
    assert xt.dtype == np.uint8 and np.array_equal(xt, x_all[300:]) and np.array_equal(yt, y_all[300:])
    xtr, ytr = load_split(tmp_path / "data", "train")
    xva, yva = load_split(tmp_path / "data", "val")
    # Train + val is exactly the archive's training set (NHWC, pixel for pixel), no overlap.
    got = sorted(hashlib.md5(img.tobytes()).hexdigest() for img in np.concatenate([xtr, xva]))
    want = sorted(hashlib.md5(img.tobytes()).hexdigest() for img in x_all[:300])
    assert got == want
    assert load_info(tmp_path / "data") == json.loads((tmp_path / "data" / "dataset.json").read_text())


def test_output_is_byte_identical_for_a_seed_and_differs_across_seeds(cifar10_tarball, tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        fetch(tmp_path / name, "cifar10", str(cifar10_tarball), val_split=0.2, seed=seed)
    assert digests(tmp_path / "a") == digests(tmp_path / "b")
    assert digests(tmp_path / "a")["val.npz"] != digests(tmp_path / "c")["val.npz"]


def test_limits_are_stratified(cifar10_tarball, tmp_path):
    info = fetch(tmp_path / "d", "cifar10", str(cifar10_tarball), val_split=0.25, limit_train=200, limit_test=50)
    assert info["counts"] == {"train": 150, "val": 50, "test": 50}
    # Every class keeps its share of the archive within one image.
    full = fetch(tmp_path / "full", "cifar10", str(cifar10_tarball), val_split=0.0)["class_counts"]
    for split, share, source in (("val", 50 / 300, "train"), ("test", 50 / 100, "test")):
        for got, total in zip(info["class_counts"][split], full[source]):
            assert abs(got - total * share) <= 1, (split, info["class_counts"][split], full[source])


def test_mnist_idx_folder(mnist_dir, tmp_path):
    info = fetch(tmp_path / "d", "mnist", str(mnist_dir), val_split=0.1)
    assert info["shape"] == [28, 28, 1] and info["classes"] == [str(i) for i in range(10)]
    assert info["counts"] == {"train": 180, "val": 20, "test": 60}
    x_all, y_all = td.make_images(260, (28, 28, 1), seed=0)
    xt, yt = load_split(tmp_path / "d", "test")
    assert np.array_equal(xt, x_all[200:]) and np.array_equal(yt, y_all[200:])


def test_fashion_mnist_from_file_url(mnist_dir, tmp_path):
    info = fetch(tmp_path / "d", "fashion_mnist", f"file://{mnist_dir}", val_split=0.0)
    assert info["classes"][0] == "T-shirt/top" and info["counts"]["val"] == 0


def test_image_folder_tarball(image_folder_tar, tmp_path):
    info = fetch(tmp_path / "d", "image_folder", str(image_folder_tar), val_split=0.25, seed=1)
    assert info["classes"] == ["cat", "dog", "frog", "ship"]
    assert info["shape"] == [16, 16, 3]
    assert info["counts"] == {"train": 30, "val": 10, "test": 20}
    x_all, _ = td.make_images(60, (16, 16, 3), num_classes=4, seed=0)
    xt, _ = load_split(tmp_path / "d", "test")
    # PNG is lossless: the test images come back exactly (as a set; order is by class, name).
    assert sorted(map(bytes, xt)) == sorted(map(bytes, x_all[40:]))


def test_image_folder_directory_jpeg_grayscale(tmp_path):
    root = td.write_image_folder(tmp_path / "tree", n_train=20, n_test=8, shape=(12, 12, 1),
                                 classes=("a", "b"), fmt="JPEG")
    info = fetch(tmp_path / "d", "image_folder", str(root), val_split=0.0)
    assert info["shape"] == [12, 12, 1] and info["classes"] == ["a", "b"]
    assert info["counts"] == {"train": 20, "val": 0, "test": 8}


def test_image_folder_rejects_mixed_sizes(tmp_path):
    root = td.write_image_folder(tmp_path / "tree", n_train=8, n_test=4, shape=(8, 8, 3), classes=("a", "b"))
    from PIL import Image

    Image.new("RGB", (9, 9)).save(root / "train" / "a" / "odd.png")
    with pytest.raises(DataError, match="differ in size"):
        fetch(tmp_path / "d", "image_folder", str(root))
    assert not (tmp_path / "d").exists() or not any((tmp_path / "d").iterdir())


def test_image_folder_rejects_undecodable_image(tmp_path):
    root = td.write_image_folder(tmp_path / "tree", n_train=8, n_test=4, shape=(8, 8, 3), classes=("a", "b"))
    (root / "test" / "b" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    with pytest.raises(DataError, match="broken.png: cannot decode"):
        fetch(tmp_path / "d", "image_folder", str(root))


@pytest.mark.parametrize("name", ["cifar10", "image_folder"])
def test_truncated_archive_leaves_nothing(name, cifar10_tarball, image_folder_tar, tmp_path):
    src = cifar10_tarball if name == "cifar10" else image_folder_tar
    bad = td.truncate(src, tmp_path / f"bad{''.join(src.suffixes)}", keep=0.6)
    out = tmp_path / "data"
    with pytest.raises(DataError) as info:
        fetch(out, name, str(bad))
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
    assert not out.exists() or not any(out.iterdir())


def test_corrupt_archive_keeps_previous_outputs_intact(cifar10_tarball, tmp_path):
    out = tmp_path / "data"
    fetch(out, "cifar10", str(cifar10_tarball))
    before = digests(out)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4)
    with pytest.raises(DataError):
        fetch(out, "cifar10", str(garbage))
    assert digests(out) == before


def test_truncated_idx_file(mnist_dir, tmp_path):
    broken = tmp_path / "mnist"
    broken.mkdir()
    for f in mnist_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    import gzip

    raw = gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    (broken / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match="header says"):
        fetch(tmp_path / "d", "mnist", str(broken))
    td.truncate(mnist_dir / "train-images-idx3-ubyte.gz", broken / "train-images-idx3-ubyte.gz")
    with pytest.raises(DataError, match="cannot decompress"):
        fetch(tmp_path / "d", "mnist", str(broken))


def test_cifar_archive_without_batches(tmp_path):
    import tarfile

    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz") as tar:
        td._add_bytes(tar, "readme.txt", b"hello")
    with pytest.raises(DataError, match="lacks data_batch"):
        fetch(tmp_path / "d", "cifar10", str(empty))


def test_cifar_pickle_may_not_run_code(tmp_path):
    import pickle
    import tarfile

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        td._add_bytes(tar, "cifar-10-batches-py/test_batch", pickle.dumps({"data": Evil()}))
    with pytest.raises(DataError, match="refusing to load builtins.print"):
        fetch(tmp_path / "d", "cifar10", str(path))


def test_sha256_of_a_local_source_is_checked(cifar10_tarball, tmp_path):
    good = sources.file_digest(cifar10_tarball)
    fetch(tmp_path / "ok", "cifar10", str(cifar10_tarball), sha256=good)
    with pytest.raises(DataError, match=f"expected {'0' * 64}"):
        fetch(tmp_path / "bad", "cifar10", str(cifar10_tarball), sha256="0" * 64)


def test_official_download_is_verified_and_cached(cifar10_tarball, tmp_path, monkeypatch):
    """The official path: fetched via URL into the cache, checked against md5 and sha256."""
    monkeypatch.setenv("TINYKD_CACHE", str(tmp_path / "cache"))
    url = cifar10_tarball.as_uri()
    sums = {"md5": sources.file_digest(cifar10_tarball, "md5"), "sha256": sources.file_digest(cifar10_tarball)}
    path = sources.resolve_file("", url, sums, "", None, "dataset.source")
    assert path.read_bytes() == cifar10_tarball.read_bytes() and path.is_relative_to(tmp_path / "cache")
    assert sources.resolve_file("", url, sums, "", None, "dataset.source") == path  # reused
    with pytest.raises(DataError, match="md5 is"):
        sources.resolve_file("", url, {"md5": "0" * 32}, "", None, "dataset.source")
    assert sorted(p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()) == [cifar10_tarball.name]


def test_official_checksums_are_complete():
    assert len(sources.CIFAR10_CHECKSUMS["sha256"]) == 64 and len(sources.CIFAR10_CHECKSUMS["md5"]) == 32
    for table in (sources.MNIST_CHECKSUMS, sources.FASHION_CHECKSUMS):
        assert sorted(table) == sorted(sources.IDX_FILES)
        assert all(len(v["sha256"]) == 64 and len(v["md5"]) == 32 for v in table.values())


def test_fetch_stage_reports_corruption_in_one_line(cifar10_tarball, tmp_path, tool_env):
    bad = td.truncate(cifar10_tarball, tmp_path / "cut.tar.gz", keep=0.3)
    (tmp_path / "params.yaml").write_text(
        (REPO / "params.yaml").read_text().replace('source: ""', f'source: "{bad}"', 1))
    proc = subprocess.run([sys.executable, str(REPO / "stages" / "fetch.py"), "--params", str(tmp_path / "params.yaml"),
                           "--out", str(tmp_path / "data")], capture_output=True, text=True, env=tool_env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "cut.tar.gz" in lines[0], proc.stderr
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())
