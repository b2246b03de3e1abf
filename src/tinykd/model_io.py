"""Saving and loading Keras models so that the same weights always give the same file bytes.

A `.keras` file is a zip whose metadata.json records `date_saved` and whose entries carry the
save time; both are rewritten to fixed values, entries sorted, optimizer state left out.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from pathlib import Path

from .atomic import atomic_path
from .errors import DataError

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FIXED_DATE_SAVED = "1980-01-01@00:00:00"


def _renumber_shared_objects(node, ids: dict):
    """Keras writes id() of shared objects (e.g. dtype policies) as `shared_object_id`; memory
    addresses differ every run, so replace them by their order of first appearance."""
    if isinstance(node, dict):
        return {k: (ids.setdefault(v, len(ids) + 1) if k == "shared_object_id" else _renumber_shared_objects(v, ids))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_renumber_shared_objects(v, ids) for v in node]
    return node


def normalize_keras_zip(data: bytes) -> bytes:
    """Rewrite a .keras zip with fixed dates and sorted entries."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as dst:
        for name in sorted(src.namelist()):
            payload = src.read(name)
            if name == "metadata.json":
                meta = json.loads(payload)
                meta["date_saved"] = FIXED_DATE_SAVED
                payload = json.dumps(meta, sort_keys=True).encode()
            elif name == "config.json":
                payload = json.dumps(_renumber_shared_objects(json.loads(payload), {})).encode()
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, payload)
    return out.getvalue()


def strip_training_state(model):
    """A copy of `model` with the same weights and no optimizer (smaller, deterministic files)."""
    import keras

    if getattr(model, "optimizer", None) is None:
        return model
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def save_keras(model, dest: str | os.PathLike) -> None:
    """Atomically write `model` to `dest` (.keras) with reproducible bytes."""
    model = strip_training_state(model)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir) / "model.keras"
        model.save(tmp)
        data = normalize_keras_zip(tmp.read_bytes())
    with atomic_path(dest) as out:
        out.write_bytes(data)


def load_keras(path: str | os.PathLike):
    """Load a .keras or (Keras 2 / Keras 3) .h5 model for inference, without compiling it."""
    import keras

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: model file does not exist")
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[4:8] == b"TFL3":
        raise DataError(f"{path}: is an int8 .tflite (a student supplied as student.source), not a Keras "
                        "model; this step needs the float model: supply a .keras/.h5 student instead")
    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for damaged or foreign files.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot load as a Keras model ({first})") from None


def ends_in_softmax(model) -> bool:
    """True when the model's last layer turns logits into probabilities."""
    import keras

    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return True
    act = getattr(last, "activation", None)
    return act is not None and getattr(act, "__name__", "") == "softmax"


def strip_softmax(model):
    """The same network ending at its logits (the model itself if it has no final softmax)."""
    import keras

    if not ends_in_softmax(model):
        return model
    last = model.layers[-1]
    if isinstance(last, keras.layers.Softmax) or isinstance(last, keras.layers.Activation):
        return keras.Model(model.inputs, last.input, name=f"{model.name}_logits")
    config = last.get_config()
    config["activation"] = "linear"
    config["name"] = f"{config['name']}_logits"
    linear = type(last).from_config(config)
    out = linear(last.input)
    linear.set_weights(last.get_weights())
    return keras.Model(model.inputs, out, name=f"{model.name}_logits")
