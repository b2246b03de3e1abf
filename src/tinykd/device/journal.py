"""The evaluation journal: every device answer appended as it arrives, so a run that fails or is
interrupted keeps what it has, and the next run sends only the images still missing.

A JSON-lines file: a header line naming what the answers belong to (the model's and the
firmware image's sha256, the sha256 of the int8 inputs in order — which covers the dataset, the
sample choice and the input scaling — and the output size), then one line per answered image
(`k` its position in the inputs, `ticks`, `output` in hex). A journal whose header does not match
the run is replaced (the run starts over); a line cut short by a kill is dropped. It lives outside
the stage's outs (DVC deletes those before a stage runs), and the stage removes it once the
metrics are written.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ..atomic import write_text

MAGIC = "tinykd-evaluate-journal"
VERSION = 1
SYNC_EVERY = 64  # fsync after this many answers (a kill loses nothing; a power cut at most these)


def journal_key(model_sha256: str, firmware_sha256: str, inputs: np.ndarray, output_bytes: int,
                device: str = "") -> dict:
    """What the answers depend on; `device` names the board (its ticks are cycles or instructions)."""
    return {"model_sha256": model_sha256, "firmware_sha256": firmware_sha256, "device": device,
            "inputs_sha256": hashlib.sha256(np.ascontiguousarray(inputs, dtype=np.int8).tobytes()).hexdigest(),
            "images": int(len(inputs)), "output_bytes": int(output_bytes)}


class Journal:
    """Open with `Journal(path, key)`: `results` holds the answers a matching journal had
    (position -> (output bytes, ticks)), `why_new` says why an existing one was not used."""

    def __init__(self, path: str | os.PathLike, key: dict):
        self.path = Path(path)
        self.key = key
        self.results: dict[int, tuple[bytes, int]] = {}
        self.why_new = ""
        self._since_sync = 0
        good = self._read()
        if good is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text(self.path, json.dumps({"journal": MAGIC, "version": VERSION, "key": key},
                                             sort_keys=True) + "\n")
        else:
            with open(self.path, "r+b") as f:  # drop a line a kill cut short
                f.truncate(good)
        self._f = open(self.path, "ab")

    def _read(self) -> int | None:
        """Load a matching journal; the byte length of its whole lines, or None to start over."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            self.why_new = f"unreadable ({exc})"
            return None
        end = data.rfind(b"\n") + 1
        lines = data[:end].split(b"\n")[:-1]
        try:
            head = json.loads(lines[0]) if lines else None
        except ValueError:
            head = None
        if not isinstance(head, dict) or head.get("journal") != MAGIC or head.get("version") != VERSION:
            self.why_new = "not a journal of this version"
            return None
        if head.get("key") != self.key:
            old = head.get("key") or {}
            what = [k.replace("_sha256", "") for k in ("model_sha256", "firmware_sha256", "inputs_sha256", "device")
                    if old.get(k) != self.key.get(k)]
            self.why_new = f"made for another {' / '.join(what) or 'output size'}"
            return None
        size, good = self.key["output_bytes"], len(lines[0]) + 1
        for line in lines[1:]:
            try:
                rec = json.loads(line)
                k, ticks, out = int(rec["k"]), int(rec["ticks"]), bytes.fromhex(rec["output"])
            except (ValueError, KeyError, TypeError):
                break  # a damaged line: keep what came before it
            if not 0 <= k < self.key["images"] or len(out) != size:
                break
            self.results[k] = (out, ticks)
            good += len(line) + 1
        return good

    def append(self, k: int, output: bytes, ticks: int) -> None:
        self._f.write((json.dumps({"k": int(k), "ticks": int(ticks), "output": bytes(output).hex()}) + "\n").encode())
        self._f.flush()
        self._since_sync += 1
        if self._since_sync >= SYNC_EVERY:
            os.fsync(self._f.fileno())
            self._since_sync = 0

    def close(self) -> None:
        if not self._f.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
