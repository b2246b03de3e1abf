"""Readers for the supported dataset formats. Each returns uint8 NHWC images and int labels.

Any damage (truncated gzip, bad tar, bad header, undecodable image) becomes a DataError naming
the file, never a traceback from deep inside tarfile or PIL.
"""
from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import zlib
from pathlib import Path, PurePosixPath

import numpy as np

from ..errors import DataError
from .progress import bar as progress_bar
from .progress import open_tracked

Arrays = tuple[np.ndarray, np.ndarray]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]

_ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, OSError, ValueError)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm"}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """CIFAR-10 batches are pickles; allow only what they contain (dicts, lists, numpy arrays)."""

    _ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
                ("numpy", "ndarray"), ("numpy", "dtype"),
                # Python 3 protocol-2 pickles spell bytes objects as _codecs.encode(str, "latin1").
                ("_codecs", "encode")}

    def find_class(self, module, name):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _unpickle(data: bytes) -> dict:
    obj = _NumpyOnlyUnpickler(io.BytesIO(data), encoding="bytes").load()
    if not isinstance(obj, dict):
        raise pickle.UnpicklingError("batch is not a dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in obj.items()}


def read_cifar10(archive: Path, progress: bool = True) -> tuple[Arrays, Arrays, list[str]]:
    """The official `cifar-10-python.tar.gz`: data_batch_1..5, test_batch, batches.meta.
    `progress`: a bar over the archive's bytes on a terminal (tinykd.data.progress)."""
    batches: dict[str, dict] = {}
    try:
        with open_tracked(archive, f"read {Path(archive).name}", progress) as fh, \
                tarfile.open(fileobj=fh, mode="r:*") as tar:
            for member in tar:
                base = PurePosixPath(member.name).name
                if member.isfile() and (base.startswith("data_batch_") or base in ("test_batch", "batches.meta")):
                    batches[base] = _unpickle(tar.extractfile(member).read())
            require_tar_end(tar, archive)
    except (*_ARCHIVE_ERRORS, pickle.UnpicklingError, AttributeError) as exc:
        raise DataError(f"{archive}: not a readable CIFAR-10 python archive ({exc or type(exc).__name__})") from None
    train_names = sorted(n for n in batches if n.startswith("data_batch_"))
    if not train_names or "test_batch" not in batches:
        raise DataError(f"{archive}: CIFAR-10 archive lacks data_batch_* or test_batch "
                        f"(found: {', '.join(sorted(batches)) or 'nothing'})")

    def convert(batch: dict, name: str) -> Arrays:
        try:
            x = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
            y = np.asarray(batch["labels"], dtype=np.int64)
        except (KeyError, ValueError) as exc:
            raise DataError(f"{archive}: batch {name} is malformed ({exc})") from None
        if len(x) != len(y) or (len(y) and (y.min() < 0 or y.max() > 9)):
            raise DataError(f"{archive}: batch {name} has {len(x)} images, {len(y)} labels in range "
                            f"{y.min() if len(y) else '-'}..{y.max() if len(y) else '-'}; expected equal counts, labels 0..9")
        return np.ascontiguousarray(x), y

    parts = [convert(batches[n], n) for n in train_names]
    train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    test = convert(batches["test_batch"], "test_batch")
    classes = CIFAR10_CLASSES
    meta = batches.get("batches.meta", {})
    names = meta.get("label_names") if isinstance(meta, dict) else None
    if names and len(names) == 10:
        classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    return train, test, classes


def _read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzip-compressed or not): magic 0x0000 0x08 <ndim>, big-endian dims, uint8 data."""
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (*_ARCHIVE_ERRORS,) as exc:
        raise DataError(f"{path}: cannot decompress ({exc or type(exc).__name__})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex() or 'empty'}, expected 000008xx)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    size = int(np.prod(dims)) if dims else 0
    if len(raw) - header != size:
        raise DataError(f"{path}: IDX data is {len(raw) - header} bytes, header says {size} (truncated or corrupt)")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def read_idx_dataset(folder: dict[str, Path], classes: list[str]) -> tuple[Arrays, Arrays, list[str]]:
    """MNIST-style: the four idx.gz files, given as {file name: path}."""
    def pair(images: str, labels: str) -> Arrays:
        x, y = _read_idx(folder[images]), _read_idx(folder[labels]).astype(np.int64)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DataError(f"{folder[images]}: images {x.shape} and labels {y.shape} do not pair up; "
                            "expected (N, H, W) images and N labels")
        if len(y) and y.max() >= len(classes):
            raise DataError(f"{folder[labels]}: label {int(y.max())} outside 0..{len(classes) - 1}")
        return np.ascontiguousarray(x[..., None]), y

    train = pair("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    test = pair("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    return train, test, list(classes)


def _split_parts(rel: PurePosixPath) -> tuple[str, str] | None:
    """('train'|'test', class) for .../train/<class>/<image>, else None (any leading folders allowed)."""
    parts = rel.parts
    if len(parts) < 3 or rel.suffix.lower() not in IMAGE_SUFFIXES or rel.name.startswith("."):
        return None
    split, cls = parts[-3], parts[-2]
    return (split, cls) if split in ("train", "test") else None


def bomb_message(name: str, exc: Exception) -> str:
    """One line for PIL's DecompressionBombError (an image too large to decode safely)."""
    return f"{name}: image too large to decode safely ({exc}); shrink the image or leave it out"


def _decode(data: bytes, name: str):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            return img.convert("L") if img.mode in ("L", "1", "I;16", "I") else img.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise DataError(bomb_message(name, exc)) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{name}: cannot decode image ({exc})") from None


def require_tar_end(tar: tarfile.TarFile, source: Path) -> None:
    """tarfile takes an archive cut at a member boundary for a complete one (it stops at EOF as
    at the end marker) and so silently loads part of the data; a whole archive ends with tar's
    end-of-archive marker (zero blocks) right after its last member."""
    tar.fileobj.seek(tar.offset)
    end = tar.fileobj.read(1024)
    if len(end) < 512 or end.strip(b"\0"):
        raise DataError(f"{source}: truncated archive (it stops after {len(tar.getmembers())} entries "
                        "without tar's end-of-archive marker); download or create it again")


def read_image_folder(source: Path, progress: bool = True) -> tuple[Arrays, Arrays, list[str]]:
    """train/<class>/*.png|jpg and test/<class>/... from a folder or a (gzip) tar archive.
    `progress`: a bar over the images (folder) or the archive's bytes on a terminal."""
    items: list[tuple[str, str, str, object]] = []  # (split, class, name, PIL image)
    if source.is_dir():
        found = [(key, path) for path in sorted(source.rglob("*"))
                 if (key := _split_parts(PurePosixPath(path.relative_to(source).as_posix()))) and path.is_file()]
        with progress_bar(len(found), f"decode {source.name}", progress, unit="img") as shown:
            for key, path in found:
                items.append((*key, str(path), _decode(path.read_bytes(), str(path))))
                shown.update()
    else:
        try:
            with open_tracked(source, f"read and decode {source.name}", progress) as fh, \
                    tarfile.open(fileobj=fh, mode="r:*") as tar:
                for member in tar:
                    key = _split_parts(PurePosixPath(member.name))
                    if key and member.isfile():
                        name = f"{source}:{member.name}"
                        items.append((*key, member.name, _decode(tar.extractfile(member).read(), name)))
                require_tar_end(tar, source)
        except _ARCHIVE_ERRORS as exc:
            raise DataError(f"{source}: not a readable image-folder archive ({exc or type(exc).__name__})") from None
    classes = sorted({c for s, c, _, _ in items if s == "train"})
    test_classes = sorted({c for s, c, _, _ in items if s == "test"})
    if not classes or not test_classes:
        raise DataError(f"{source}: no images under train/<class>/ and test/<class>/ "
                        f"(found {len(items)} images; expected both splits)")
    if set(test_classes) - set(classes):
        raise DataError(f"{source}: test classes {sorted(set(test_classes) - set(classes))} have no training images")
    sizes = {img.size for *_, img in items}
    if len(sizes) != 1:
        common = max(sorted(sizes), key=lambda wh: sum(img.size == wh for *_, img in items))
        odd = sorted((name, img.size) for _, _, name, img in items if img.size != common)
        shown = ", ".join(f"{name} is {w} x {h}" for name, (w, h) in odd[:3])
        more = f" and {len(odd) - 3} more" if len(odd) > 3 else ""
        raise DataError(f"{source}: images differ in size: {shown}{more}, the others {common[0]} x {common[1]}; "
                        "expected one size for all")
    gray = all(img.mode == "L" for *_, img in items)
    index = {c: i for i, c in enumerate(classes)}

    def stack(split: str) -> Arrays:
        chosen = sorted((it for it in items if it[0] == split), key=lambda it: (index[it[1]], it[2]))
        x = np.stack([np.asarray(img if gray else img.convert("RGB"), dtype=np.uint8) for *_, img in chosen])
        if gray:
            x = x[..., None]
        return x, np.array([index[c] for _, c, _, _ in chosen], dtype=np.int64)

    return stack("train"), stack("test"), classes
