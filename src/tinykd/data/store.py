"""The prepared dataset on disk: train/val/test .npz (uint8 NHWC `x`, int64 `y`) + dataset.json.

np.savez stamps the current time into its zip entries, so arrays are written with fixed zip
metadata instead: the same arrays always give the same bytes.
"""
from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ..errors import DataError

SPLITS = ("train", "val", "test")
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            info = zipfile.ZipInfo(f"{name}.npy", date_time=FIXED_DATE)
            info.external_attr = 0o644 << 16
            arr = io.BytesIO()
            np.lib.format.write_array(arr, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            zf.writestr(info, arr.getvalue())
    return buf.getvalue()


def write_dataset(out_dir: str | os.PathLike, splits: dict[str, tuple[np.ndarray, np.ndarray]], info: dict) -> None:
    """Write every split and dataset.json, or nothing: all files are staged, then renamed in turn."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for name in SPLITS:
            x, y = splits[name]
            dest = out_dir / f"{name}.npz"
            tmp = out_dir / f".{name}.npz.tmp"
            tmp.write_bytes(npz_bytes({"x": x.astype(np.uint8), "y": y.astype(np.int64)}))
            staged.append((tmp, dest))
        dest = out_dir / "dataset.json"
        tmp = out_dir / ".dataset.json.tmp"
        tmp.write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        staged.append((tmp, dest))
        # dataset.json goes last: its presence marks a complete set.
        for tmp, dest in staged:
            os.replace(tmp, dest)
    finally:
        for tmp, _ in staged:
            if tmp.exists():
                tmp.unlink()


def load_split(data_dir: str | os.PathLike, split: str) -> tuple[np.ndarray, np.ndarray]:
    path = Path(data_dir) / f"{split}.npz"
    try:
        with np.load(path, allow_pickle=False) as npz:
            return npz["x"], npz["y"]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read prepared split ({exc}); rerun the fetch stage") from None


def load_info(data_dir: str | os.PathLike) -> dict:
    path = Path(data_dir) / "dataset.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read dataset description ({exc}); rerun the fetch stage") from None


def to_float(x: np.ndarray) -> np.ndarray:
    """uint8 pixels to the [0, 1] floats every model takes (int8 input scale 1/255, zero point -128)."""
    return x.astype(np.float32) / np.float32(255.0)
