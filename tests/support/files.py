"""Comparing output folders byte for byte."""
from __future__ import annotations

import hashlib
from pathlib import Path


def digests(folder: Path) -> dict[str, str]:
    """{file name: sha256} of every entry directly in `folder` (equal dicts: identical outputs)."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(Path(folder).iterdir())}
