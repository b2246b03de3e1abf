"""Progress bars for the data's long steps: downloading, reading an archive, decoding images.

They go to stderr only when it is a terminal (tqdm's `disable=None`) and the caller did not pass
`progress=False`, and they are erased when done (`leave=False`), so a log file or pipe (Snakemake's
logs, CI) and every output file are the same with or without them.
"""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from tqdm import tqdm


def bar(total: int | None, desc: str, progress: bool = True, unit: str = "B") -> tqdm:
    """A bar over `total` bytes (unit "B", shown as kB/MB) or items (any other unit)."""
    in_bytes = unit == "B"
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=in_bytes, unit_divisor=1024 if in_bytes else 1000,
                disable=None if progress else True, leave=False)


class TrackedReader:
    """A binary file whose reads move `bar` to the file's position. Never backwards: tarfile seeks
    back to the start while it detects the compression, and those bytes are not read twice."""

    def __init__(self, fh, bar: tqdm):
        self._fh, self.bar = fh, bar

    def read(self, size: int = -1) -> bytes:
        data = self._fh.read(size)
        ahead = self._fh.tell() - self.bar.n
        if ahead > 0:
            self.bar.update(ahead)
        return data

    def __getattr__(self, name):
        return getattr(self._fh, name)


@contextlib.contextmanager
def open_tracked(path: str | os.PathLike, desc: str, progress: bool = True):
    """`open(path, "rb")` with a bar over its size, advancing as it is read."""
    path = Path(path)
    with open(path, "rb") as fh, bar(os.fstat(fh.fileno()).st_size, desc, progress) as b:
        yield TrackedReader(fh, b)
