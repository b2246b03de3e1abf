"""The fetch stage's work: resolve the source, read its format, subset, split, write data/."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import DataError
from . import formats, sources
from .split import stratified_split, stratified_subset
from .store import write_dataset


def _idx_files(name: str, source: str, base: Path | None, sha256: str = "",
               progress: bool = True) -> dict[str, Path]:
    official_url, checksums = ((sources.MNIST_BASE_URL, sources.MNIST_CHECKSUMS) if name == "mnist"
                               else (sources.FASHION_BASE_URL, sources.FASHION_CHECKSUMS))
    if sha256 and not source:
        raise DataError(f"dataset.sha256 {sha256!r} cannot apply to the official {name} download (four "
                        "files, each checked against its published checksum); leave it empty")
    if sha256 and sources.is_remote(source):
        raise DataError(f"dataset.sha256 {sha256!r} cannot apply to the URL {source} (a base of four idx "
                        "files, not one file); leave it empty, or download them and give the local folder")
    if not source:
        return {f: sources.download(official_url + f, checksums[f], progress=progress) for f in sources.IDX_FILES}
    if sources.is_remote(source):
        base_url = source if source.endswith("/") else source + "/"
        return {f: sources.download(base_url + f, progress=progress) for f in sources.IDX_FILES}
    folder = sources.to_local(source, base)
    if not folder.is_dir():
        raise DataError(f"dataset.source {folder}: expected a folder holding {', '.join(sources.IDX_FILES)}")
    if sha256:
        sources.verify_folder(folder, sha256, "dataset.source")
    files = {}
    for f in sources.IDX_FILES:
        for candidate in (folder / f, folder / f.removesuffix(".gz")):
            if candidate.is_file():
                files[f] = candidate
                break
        else:
            raise DataError(f"dataset.source {folder}: {f} is missing")
    return files


def read_source(name: str, source: str = "", sha256: str = "", base: Path | None = None, progress: bool = True):
    """(train arrays, test arrays, class names, source description) for dataset `name`.
    `progress`: bars on a terminal for the download and the reading (tinykd.data.progress)."""
    if name == "cifar10":
        path = sources.resolve_file(source, sources.CIFAR10_URL, sources.CIFAR10_CHECKSUMS, sha256, base,
                                    "dataset.source", progress)
        return (*formats.read_cifar10(path, progress), {"file": path.name, "sha256": sources.file_digest(path)})
    if name in ("mnist", "fashion_mnist"):
        files = _idx_files(name, source, base, sha256, progress)
        classes = formats.MNIST_CLASSES if name == "mnist" else formats.FASHION_CLASSES
        desc = {f: sources.file_digest(p) for f, p in sorted(files.items())}
        return (*formats.read_idx_dataset(files, classes), {"files_sha256": desc})
    if name == "image_folder":
        if not source:
            raise DataError("dataset.source is empty; image_folder needs a folder or .tar.gz path")
        path = sources.resolve_file(source, "", {}, sha256, base, "dataset.source", progress)
        desc = {"file": path.name}
        if path.is_file():
            desc["sha256"] = sources.file_digest(path)
        return (*formats.read_image_folder(path, progress), desc)
    raise DataError(f"dataset.name {name!r} is unknown; expected cifar10, mnist, fashion_mnist or image_folder")


def _counts(y: np.ndarray, n_classes: int) -> list[int]:
    return np.bincount(y, minlength=n_classes).astype(int).tolist()


def fetch(out_dir: str | os.PathLike, name: str, source: str = "", sha256: str = "", val_split: float = 0.1,
          limit_train: int = 0, limit_test: int = 0, seed: int = 0, base: Path | None = None,
          progress: bool = True) -> dict:
    """Prepare `out_dir`/{train,val,test}.npz + dataset.json; returns the dataset description.
    `progress=False` shows no bars even on a terminal."""
    (x_train, y_train), (x_test, y_test), classes, origin = read_source(name, source, sha256, base, progress)
    keep = stratified_subset(y_train, limit_train, seed)
    x_train, y_train = x_train[keep], y_train[keep]
    keep = stratified_subset(y_test, limit_test, seed)
    x_test, y_test = x_test[keep], y_test[keep]
    tr, va = stratified_split(y_train, val_split, seed)
    splits = {"train": (x_train[tr], y_train[tr]), "val": (x_train[va], y_train[va]), "test": (x_test, y_test)}
    n = len(classes)
    info = {
        "name": name,
        "classes": classes,
        "num_classes": n,
        "shape": list(x_train.shape[1:]),
        "dtype": "uint8",
        "layout": "NHWC",
        "counts": {k: int(len(v[1])) for k, v in splits.items()},
        "class_counts": {k: _counts(v[1], n) for k, v in splits.items()},
        "seed": seed,
        "val_split": val_split,
        "source": origin,
    }
    if info["counts"]["train"] == 0 or info["counts"]["test"] == 0:
        raise DataError(f"dataset {name}: {info['counts']} leaves an empty train or test split")
    write_dataset(out_dir, splits, info)
    return info
