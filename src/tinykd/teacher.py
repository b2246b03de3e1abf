"""Models supplied as files instead of trained here: the teacher (.keras, or Keras 2 .h5 as saved
by TF 2.13) and the student (the same, or a full-int8 .tflite that skips quantization too).

`fetch_model_file` / `load_supplied` take the params key (`teacher.source`, `student.source`) so
every error names the key, the file and what is allowed; `fetch_teacher_file` / `load_teacher`
are the teacher's forms of them.
"""
from __future__ import annotations

from pathlib import Path

from .data import sources
from .errors import DataError, ParamError

KERAS_KINDS = ".keras/.h5"
TFLITE_MAGIC = b"TFL3"


def is_tflite(data: bytes) -> bool:
    """A TFLite flatbuffer carries the file identifier "TFL3" at bytes 4..8."""
    return len(data) >= 8 and data[4:8] == TFLITE_MAGIC


def fetch_model_file(key: str, source: str, sha256: str = "", base: Path | None = None,
                     kinds: str = KERAS_KINDS) -> Path:
    """Local path, file:// or http(s) URL of a supplied model file, checksum-verified when sha256
    is given. `key` (e.g. "student.source") names the parameter in errors."""
    if sources.is_remote(source):
        return sources.download(source, {"sha256": sha256})
    path = sources.to_local(source, base)
    if not path.is_file():
        raise ParamError(key, source, f'"train" or an existing {kinds} file or a URL to one')
    if sha256:
        sources.verify(path, {"sha256": sha256}, f"{key} {path}")
    return path


def fetch_teacher_file(source: str, sha256: str = "", base: Path | None = None) -> Path:
    return fetch_model_file("teacher.source", source, sha256, base)


def check_fits(key: str, source: str, got_in, got_out, input_shape, num_classes: int) -> None:
    """One line naming the file, its shape and the dataset's when a model does not fit the data."""
    want_in = tuple(int(d) for d in input_shape)
    got_in = tuple(int(d) if d is not None else None for d in got_in)
    if got_in != want_in:
        raise DataError(f"{key} {source}: model input shape {got_in} does not match the dataset's {want_in}")
    if got_out != num_classes:
        raise DataError(f"{key} {source}: model has {got_out} outputs, the dataset {num_classes} classes")


def load_supplied(key: str, source: str, sha256: str, input_shape, num_classes: int,
                  base: Path | None = None, kinds: str = KERAS_KINDS):
    """Load a supplied Keras model and check that it fits the dataset: same input shape, one
    output per class."""
    from .model_io import load_keras

    model = load_keras(fetch_model_file(key, source, sha256, base, kinds))
    check_fits(key, source, model.inputs[0].shape[1:], model.outputs[0].shape[-1], input_shape, num_classes)
    return model


def load_teacher(source: str, sha256: str, input_shape, num_classes: int, base: Path | None = None):
    """Load and check that the model fits the dataset: same input shape, one output per class."""
    return load_supplied("teacher.source", source, sha256, input_shape, num_classes, base)
