"""The teacher: a user's pre-trained model (.keras, or Keras 2 .h5 as saved by TF 2.13), or one trained here."""
from __future__ import annotations

from pathlib import Path

from .data import sources
from .errors import DataError, ParamError


def fetch_teacher_file(source: str, sha256: str = "", base: Path | None = None) -> Path:
    """Local path, file:// or http(s) URL of the teacher file, checksum-verified when sha256 is given."""
    if sources.is_remote(source):
        return sources.download(source, {"sha256": sha256})
    path = sources.to_local(source, base)
    if not path.is_file():
        raise ParamError("teacher.source", source, '"train" or an existing .keras/.h5 file or a URL to one')
    if sha256:
        sources.verify(path, {"sha256": sha256}, f"teacher.source {path}")
    return path


def load_teacher(source: str, sha256: str, input_shape, num_classes: int, base: Path | None = None):
    """Load and check that the model fits the dataset: same input shape, one output per class."""
    from .model_io import load_keras

    model = load_keras(fetch_teacher_file(source, sha256, base))
    want_in = tuple(int(d) for d in input_shape)
    got_in = tuple(model.inputs[0].shape[1:])
    if got_in != want_in:
        raise DataError(f"teacher.source {source}: model input shape {got_in} does not match the dataset's {want_in}")
    got_out = model.outputs[0].shape[-1]
    if got_out != num_classes:
        raise DataError(f"teacher.source {source}: model has {got_out} outputs, the dataset {num_classes} classes")
    return model
