"""Training that resumes after a kill from its last completed epoch and ends with the bytes an
uninterrupted run writes.

After every epoch the complete training state goes into a backup folder beside the model
(`models/.teacher.resume/` for `models/teacher.keras`): every variable of the model (weights,
batch-norm statistics, the dropout layers' seed-generator states) and of the optimizer (its
step count drives the learning-rate schedule), the epoch, and a copy of the DVCLive folder so
the curves go on where they stopped. A restarted run with the same settings and data restores
it and continues with the next epoch; a run that completes removes the folder.

Not Keras' BackupAndRestore, because for the same bytes it falls short three ways: its weights
file holds no seed-generator state (dropout would repeat the first epoch's masks), it writes
weights and epoch as two files in place (a kill between them pairs epoch-3 weights with epoch
2), and it leaves the input pipeline at its first epoch. tf.data's shuffle and Dataset.random
with reshuffle/rerandomize_each_iteration draw new seeds each time an iterator is made from
the dataset, and Keras makes several per epoch (Keras 3.15: one to build the model, then two
per epoch, one of them unused). So the training dataset counts the iterators made from it, the
backup records the count, and a restarted run makes, and drops, iterators until its count is
the recorded one before its first epoch: that epoch then shuffles and augments exactly as in
the uninterrupted run, whatever Keras' pattern is, as long as it is the same in both runs.

The folder is no DVC output (DVC would delete it before rerunning the stage) and lives in the
git-ignored models/ folder. Its fingerprint covers the training settings, the model's
structure, the data and the TensorFlow/Keras versions: a backup made with anything else is
discarded (one line on stderr) and training starts from epoch 1.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np

from . import atomic
from .errors import TinykdError

MARKER = ".tinykd-resume"
MARKER_TEXT = "Training state of an interrupted tinykd run; removed when that training completes.\n"
STATE = "state.npz"
FINGERPRINT = "fingerprint.txt"
_LIVE = "live-"


def backup_dir_for(model_path: str | os.PathLike) -> Path:
    """The backup folder of the training that writes `model_path`: `.<stem>.resume` beside it."""
    model_path = Path(model_path)
    return model_path.parent / f".{model_path.stem}.resume"


def fingerprint(config: dict, model, arrays) -> str:
    """sha256 over what decides a training run's result: `config` (JSON-able settings), the
    model's structure (layer classes and variable shapes; not names, which Keras numbers per
    process), the `arrays` (data, teacher outputs) and the TensorFlow and Keras versions."""
    import keras
    import tensorflow as tf

    h = hashlib.sha256()
    structure = [type(layer).__name__ for layer in model._flatten_layers()]
    shapes = [(tuple(int(d) for d in v.shape), str(v.dtype)) for v in model.variables]
    h.update(json.dumps([config, structure, shapes, tf.__version__, keras.__version__],
                        sort_keys=True, default=str).encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def _variables(model):
    """The variables a resumed run needs, in a fixed order: the model's (seed-generator states
    included) and its optimizer's."""
    return list(model.variables) + list(model.optimizer.variables)


class Resume:
    """One training run's backup folder: `start()` before training, `track()` on the training
    dataset, `callback()` in fit (after the DVCLive callback), `finish()` on success."""

    def __init__(self, folder: str | os.PathLike, fingerprint: str, live_dir: str | os.PathLike | None = None):
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        self.live_dir = Path(live_dir) if live_dir is not None else None
        self.epoch = 0
        self._iterators = 0
        self._state = None
        self._dataset = None

    # -- before training --------------------------------------------------------------------------

    def start(self) -> int:
        """The epoch training starts from: the backup's when it belongs to this run, else 0.
        Restores the DVCLive folder's copy into `live_dir`."""
        if not self.folder.exists():
            return 0
        if not (self.folder / MARKER).is_file():
            raise TinykdError(f"{self.folder} exists but holds no {MARKER}: it is not a tinykd training backup, "
                              "and tinykd keeps one there; move it away")
        why = self._load()
        if why:
            print(f"resume: discarding the training state in {self.folder} ({why}); training from epoch 1",
                  file=sys.stderr)
            self._remove()
            return 0
        if self.live_dir is not None:
            saved = self.folder / f"{_LIVE}{self.epoch}"
            if saved.is_dir():
                shutil.copytree(saved, self.live_dir, dirs_exist_ok=True)
        print(f"resume: continuing after epoch {self.epoch} from {self.folder}", file=sys.stderr)
        return self.epoch

    def _load(self) -> str | None:
        """Read the backup; why it cannot be used, or None."""
        try:
            if (self.folder / FINGERPRINT).read_text().strip() != self.fingerprint:
                return "made with other settings, model or data"
            with np.load(self.folder / STATE, allow_pickle=False) as npz:
                self._state = {k: npz[k] for k in npz.files}
        except FileNotFoundError:
            return "no completed epoch in it"
        except (OSError, ValueError) as exc:
            return f"unreadable: {exc}"
        self.epoch = int(self._state.pop("epoch"))
        self._iterators = int(self._state.pop("iterators"))
        return None

    def track(self, dataset):
        """`dataset` (a tf.data.Dataset), made to count the iterators made from it."""
        base = type(dataset)

        class Counted(base):
            def __iter__(self):
                self._tinykd_iterators += 1
                return super().__iter__()

        Counted.__name__ = Counted.__qualname__ = base.__name__
        dataset.__class__ = Counted
        dataset._tinykd_iterators = 0
        self._dataset = dataset
        return dataset

    def _replay(self) -> None:
        """Make and drop iterators of the training dataset until as many were made as when the
        backup was taken: its per-iteration seeds are then those of the next epoch."""
        ds = self._dataset
        if ds is None:
            raise TinykdError("resume: the training dataset was not tracked (Resume.track)")
        if ds._tinykd_iterators > self._iterators:
            raise TinykdError(f"resume: {ds._tinykd_iterators} iterators of the training data were made before "
                              f"the first epoch, more than the {self._iterators} of the interrupted run")
        while ds._tinykd_iterators < self._iterators:
            iter(ds)

    # -- during training --------------------------------------------------------------------------

    def callback(self):
        import keras

        outer = self

        class _Backup(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                if outer._state is not None:
                    outer._restore(self.model)
                    outer._replay()

            def on_epoch_end(self, epoch, logs=None):
                outer._save(self.model, epoch + 1)

        return _Backup()

    def _restore(self, model) -> None:
        if model.optimizer is not None and not model.optimizer.built:
            # Over the variables the first training step would build it with (a Distiller's
            # are the student's only), so that its slots line up with the saved ones.
            model.optimizer.build(getattr(model, "trained_variables", model.trainable_variables))
        variables = _variables(model)
        saved = [self._state[f"v{i}"] for i in range(len(self._state))]
        if len(saved) != len(variables) or any(tuple(v.shape) != a.shape for v, a in zip(variables, saved)):
            raise TinykdError(f"{self.folder}: the saved training state does not fit this model "
                              f"({len(saved)} arrays for {len(variables)} variables); remove the folder to start over")
        for v, a in zip(variables, saved):
            v.assign(a)
        self._state = None

    def _save(self, model, epoch: int) -> None:
        """The state after `epoch` completed epochs. Each file is written under a temporary name
        and renamed: the DVCLive copy first, then the state (which names the epoch), then the
        older copies go, so a kill at any point leaves a state with its own DVCLive copy."""
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            (self.folder / MARKER).write_text(MARKER_TEXT)
            _write(self.folder / FINGERPRINT, self.fingerprint.encode() + b"\n")
        if self.live_dir is not None and self.live_dir.is_dir():
            tmp = self.folder / f".{_LIVE}{epoch}.tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            # Not the output folder's marker: it names the process writing that folder.
            shutil.copytree(self.live_dir, tmp, ignore=shutil.ignore_patterns(atomic.MARKER))
            final = self.folder / f"{_LIVE}{epoch}"
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        buf = io.BytesIO()
        arrays = {f"v{i}": np.asarray(v.numpy()) for i, v in enumerate(_variables(model))}
        made = self._dataset._tinykd_iterators if self._dataset is not None else 0
        np.savez(buf, epoch=np.int64(epoch), iterators=np.int64(made), **arrays)
        _write(self.folder / STATE, buf.getvalue())
        for old in self.folder.glob(f"{_LIVE}*"):
            if old.name != f"{_LIVE}{epoch}":
                shutil.rmtree(old)

    # -- after training ---------------------------------------------------------------------------

    def finish(self) -> None:
        """Training completed: remove the backup (only what this module writes; a folder holding
        anything else is left)."""
        if self.folder.is_dir() and (self.folder / MARKER).is_file():
            self._remove()

    def _remove(self) -> None:
        for p in self.folder.iterdir():
            if p.name.startswith(_LIVE) or p.name.startswith(f".{_LIVE}"):
                shutil.rmtree(p)
            elif p.name in (STATE, FINGERPRINT) or p.name.startswith((f".{STATE}.", f".{FINGERPRINT}.")):
                p.unlink()
        (self.folder / MARKER).unlink()
        try:
            self.folder.rmdir()
        except OSError:
            print(f"resume: left {self.folder}: it holds files tinykd did not write", file=sys.stderr)


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
