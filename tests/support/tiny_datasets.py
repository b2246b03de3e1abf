"""Writers of small datasets in the real on-disk formats (CIFAR-10 python tarball, MNIST idx.gz,
image-folder .tar.gz), with learnable class-dependent images so training can beat chance."""
from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np


def make_images(n: int, shape: tuple[int, int, int], num_classes: int = 10, seed: int = 0):
    """uint8 NHWC images whose mean colour/brightness and a stripe position depend on the class."""
    rng = np.random.default_rng(seed)
    h, w, c = shape
    y = np.arange(n) % num_classes
    rng.shuffle(y)
    x = rng.integers(0, 60, size=(n, h, w, c)).astype(np.int32)
    for i, cls in enumerate(y):
        x[i, :, :, cls % c] += 60 + 15 * cls
        row = (cls * h) // num_classes
        x[i, row:row + max(1, h // num_classes), :, :] += 80
    return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def write_cifar10_tarball(path: Path, n_train: int = 300, n_test: int = 100, seed: int = 0) -> Path:
    """`cifar-10-python.tar.gz` layout: 5 pickled train batches, test_batch, batches.meta."""
    x, y = make_images(n_train + n_test, (32, 32, 3), seed=seed)
    flat = x.transpose(0, 3, 1, 2).reshape(len(x), -1)  # CIFAR stores rows of R then G then B planes
    with tarfile.open(path, "w:gz") as tar:
        _add_bytes(tar, "cifar-10-batches-py/batches.meta", pickle.dumps(
            {b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse",
                              b"ship", b"truck"], b"num_vis": 3072}, protocol=2))
        bounds = np.linspace(0, n_train, 6).astype(int)
        for i in range(5):
            sl = slice(bounds[i], bounds[i + 1])
            _add_bytes(tar, f"cifar-10-batches-py/data_batch_{i + 1}", pickle.dumps(
                {b"batch_label": f"training batch {i + 1} of 5".encode(), b"labels": y[sl].tolist(),
                 b"data": flat[sl], b"filenames": [b"x.png"] * (sl.stop - sl.start)}, protocol=2))
        _add_bytes(tar, "cifar-10-batches-py/test_batch", pickle.dumps(
            {b"batch_label": b"testing batch 1 of 1", b"labels": y[n_train:].tolist(), b"data": flat[n_train:],
             b"filenames": [b"x.png"] * n_test}, protocol=2))
    return path


def idx_bytes(arr: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape) + \
        arr.astype(np.uint8).tobytes()


def write_mnist_dir(folder: Path, n_train: int = 200, n_test: int = 60, seed: int = 0) -> Path:
    """The four MNIST idx.gz files."""
    folder.mkdir(parents=True, exist_ok=True)
    x, y = make_images(n_train + n_test, (28, 28, 1), seed=seed)
    x = x[..., 0]
    for name, arr in (("train-images-idx3-ubyte.gz", x[:n_train]), ("train-labels-idx1-ubyte.gz", y[:n_train]),
                      ("t10k-images-idx3-ubyte.gz", x[n_train:]), ("t10k-labels-idx1-ubyte.gz", y[n_train:])):
        (folder / name).write_bytes(gzip.compress(idx_bytes(arr), mtime=0))
    return folder


def write_image_folder(root: Path, n_train: int = 40, n_test: int = 20, shape=(16, 16, 3),
                       classes=("cat", "dog", "frog", "ship"), seed: int = 0, fmt: str = "PNG") -> Path:
    """train/<class>/NNNN.png and test/<class>/NNNN.png under `root` (a folder)."""
    from PIL import Image

    x, y = make_images(n_train + n_test, shape, num_classes=len(classes), seed=seed)
    for i, (img, cls) in enumerate(zip(x, y)):
        split = "train" if i < n_train else "test"
        d = root / split / classes[cls]
        d.mkdir(parents=True, exist_ok=True)
        arr = img[..., 0] if shape[2] == 1 else img
        ext = "png" if fmt == "PNG" else "jpg"
        Image.fromarray(arr).save(d / f"{i:04d}.{ext}", format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return root


def tar_folder(folder: Path, dest: Path, arcname: str = "") -> Path:
    with tarfile.open(dest, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if path.is_file():
                _add_bytes(tar, f"{arcname}/{rel}" if arcname else rel, path.read_bytes())
    return dest


def truncate(src: Path, dest: Path, keep: float = 0.5) -> Path:
    data = src.read_bytes()
    dest.write_bytes(data[: int(len(data) * keep)])
    return dest
