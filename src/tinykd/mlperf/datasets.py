"""Test images for the benchmark: the ic01 dataset folder of the MLPerf Tiny / EEMBC runners
(`y_labels.csv` + one 3072-byte `.bin` per image), a tinykd `.npz` (`x` uint8 NHWC, `y`), or an
image folder (one sub-folder per class, class index = sorted folder order; with train/ and test/
sub-folders, as tinykd's image-folder datasets have, the test split).

Every sample becomes what goes over the wire: 32 x 32 x 3 uint8 bytes, height-width-channel.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError

IMAGE_SHAPE = (32, 32, 3)
IMAGE_BYTES = 32 * 32 * 3
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".gif", ".webp"}


@dataclass(frozen=True)
class Sample:
    name: str
    pixels: bytes
    label: int | None


def load_samples(path: str | Path, limit: int | None = None) -> list[Sample]:
    """The first `limit` samples (all when None) of the dataset at `path`, in its own order."""
    path = Path(path)
    if limit is not None and limit < 1:
        raise DataError(f"sample limit {limit} is not allowed; expected a positive integer")
    if not path.exists():
        raise DataError(f"dataset {path} does not exist; expected an ic01 folder (y_labels.csv + .bin), "
                        "a .npz with x/y, or an image folder")
    if path.is_file() and path.suffix == ".npz":
        samples = _from_npz(path, limit)
    elif path.is_dir() and (path / "y_labels.csv").is_file():
        samples = _from_ic01(path, limit)
    elif path.is_dir():
        samples = _from_image_folder(path, limit)
    else:
        raise DataError(f"dataset {path}: expected an ic01 folder (y_labels.csv + .bin), a .npz or "
                        "an image folder")
    if not samples:
        raise DataError(f"dataset {path} holds no images")
    return samples


def _from_ic01(folder: Path, limit: int | None) -> list[Sample]:
    samples = []
    with open(folder / "y_labels.csv", newline="") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if not row or not row[0].strip():
                continue
            if len(row) < 3:
                raise DataError(f"{folder / 'y_labels.csv'} line {lineno}: {row!r}; expected "
                                "'file.bin,classes,label'")
            name, label = row[0].strip(), row[2].strip()
            blob_path = folder / name
            if not blob_path.is_file():
                raise DataError(f"{folder / 'y_labels.csv'} line {lineno}: {name} does not exist")
            blob = blob_path.read_bytes()
            if len(blob) != IMAGE_BYTES:
                raise DataError(f"{blob_path}: {len(blob)} bytes; an ic01 image is {IMAGE_BYTES} "
                                "(32 x 32 x 3 uint8)")
            try:
                samples.append(Sample(name, blob, int(label)))
            except ValueError:
                raise DataError(f"{folder / 'y_labels.csv'} line {lineno}: label {label!r} is not "
                                "an integer") from None
            if limit is not None and len(samples) >= limit:
                break
    return samples


def _from_npz(path: Path, limit: int | None) -> list[Sample]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "x" not in npz:
                raise DataError(f"{path} has no array 'x' (has {sorted(npz.files)})")
            x = npz["x"][:limit]
            y = npz["y"][:limit] if "y" in npz else None
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable .npz: {exc}") from None
    if x.dtype != np.uint8 or tuple(x.shape[1:]) != IMAGE_SHAPE:
        raise DataError(f"{path}: x is {x.dtype} {tuple(x.shape)}; expected uint8 (N, 32, 32, 3)")
    return [Sample(f"{path.name}[{i}]", x[i].tobytes(), None if y is None else int(y[i]))
            for i in range(len(x))]


def _from_image_folder(folder: Path, limit: int | None) -> list[Sample]:
    from PIL import Image

    if (folder / "train").is_dir() and (folder / "test").is_dir():
        folder = folder / "test"   # tinykd's image-folder layout: benchmark on the test split
    classes = sorted(d.name for d in folder.iterdir() if d.is_dir())
    if not classes:
        raise DataError(f"{folder}: no class sub-folders and no y_labels.csv")
    files = [(f, label) for label, c in enumerate(classes)
             for f in sorted((folder / c).iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    samples = []
    for f, label in files[:limit]:
        try:
            with Image.open(f) as img:
                rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
        except Image.DecompressionBombError as exc:
            from ..data.formats import bomb_message

            raise DataError(bomb_message(str(f), exc)) from None
        except (OSError, ValueError, SyntaxError) as exc:   # PIL's UnidentifiedImageError is an OSError
            raise DataError(f"{f}: cannot decode image ({exc})") from None
        if rgb.shape != IMAGE_SHAPE:
            raise DataError(f"{f}: image of {rgb.shape[1]} x {rgb.shape[0]}; ic01 images are 32 x 32")
        samples.append(Sample(f"{f.parent.name}/{f.name}", rgb.tobytes(), label))
    return samples


def write_ic01(samples: list[Sample], out_dir: str | Path, classes: int = 10, force: bool = False) -> Path:
    """Write samples as an ic01 dataset folder (one .bin of 3072 bytes each + y_labels.csv), the
    layout the MLPerf Tiny / EEMBC runners read; replaced atomically. An existing folder not
    written by tinykd is refused unless `force`."""
    from ..atomic import atomic_dir

    out = Path(out_dir)
    with atomic_dir(out, force) as tmp:
        rows = []
        for i, s in enumerate(samples):
            if s.label is None:
                raise DataError(f"sample {s.name} has no label; ic01 y_labels.csv needs one per image")
            name = f"img_{i:05d}_c{s.label}.bin"
            (tmp / name).write_bytes(s.pixels)
            rows.append(f"{name},{classes},{s.label}\n")
        (tmp / "y_labels.csv").write_text("".join(rows))
    return out
