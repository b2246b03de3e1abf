"""Training loop pieces shared by teacher, baseline and distill: seeding, input pipeline, fit, evaluate."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def seed_everything(seed: int) -> None:
    """Same seed, same weights: seeds Python/NumPy/TF and makes TF pick deterministic kernels."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


def _augment_fn(shape, seed_pair):
    """Random shift by up to H/8 pixels (zero padding) and, for RGB images, a horizontal flip."""
    import tensorflow as tf

    h, w, c = shape
    pad = max(2, h // 8)

    def aug(x, seed):
        s = tf.stack([seed, tf.constant(seed_pair, tf.int64)])
        x = tf.pad(x, [[pad, pad], [pad, pad], [0, 0]])
        x = tf.image.stateless_random_crop(x, (h, w, c), seed=s)
        if c == 3:
            x = tf.image.stateless_random_flip_left_right(x, seed=s[::-1])
        return x

    return aug


def make_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool, augment: bool,
                 seed: int, extra: np.ndarray | None = None):
    """tf.data pipeline of (image float [0,1], label[, extra]) batches, deterministic for a seed.

    `extra` rides along per example (cached teacher outputs), so it stays paired under shuffling.
    """
    import tensorflow as tf

    parts = (x, y) if extra is None else (x, y, extra)
    ds = tf.data.Dataset.from_tensor_slices(parts)
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)

    def to_float(img, *rest):
        return (tf.cast(img, tf.float32) / 255.0, *rest)

    ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if augment:
        aug = _augment_fn(tuple(x.shape[1:]), seed)
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, seeds)).map(lambda el, s: (aug(el[0], s), *el[1:]),
                                                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def optimizer(learning_rate: float, epochs: int, steps_per_epoch: int):
    import keras

    schedule = keras.optimizers.schedules.CosineDecay(float(learning_rate), max(1, epochs * steps_per_epoch))
    return keras.optimizers.Adam(schedule)


def open_live(live_dir: str | os.PathLike | None):
    """A DVCLive logger writing into `live_dir` (a declared stage output), not into dvc.yaml."""
    if live_dir is None:
        return None
    from dvclive import Live
    from scmrepo.exceptions import SCMError

    from .errors import TinykdError

    try:
        return Live(str(live_dir), dvcyaml=None, save_dvc_exp=False, report=None)
    except SCMError as exc:
        # DVCLive reads the current git revision; a repository without commits has none.
        raise TinykdError(f"DVCLive cannot log in this git repository ({exc}); make a first commit") from None


def fit(model, data: dict, *, epochs: int, batch_size: int, learning_rate: float, augment: bool,
        seed: int, live_dir=None, verbose: int = 2):
    """Train a logits model with cross-entropy on data["train"], validating on data["val"]."""
    import keras

    x, y = data["train"]
    steps = int(np.ceil(len(x) / batch_size))
    model.compile(optimizer=optimizer(learning_rate, epochs, steps),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    train_ds = make_dataset(x, y, batch_size, shuffle=True, augment=augment, seed=seed)
    val = data.get("val")
    val_ds = make_dataset(*val, 512, shuffle=False, augment=False, seed=seed) if val and len(val[0]) else None
    live = open_live(live_dir)
    callbacks = []
    if live is not None:
        from dvclive.keras import DVCLiveCallback

        callbacks.append(DVCLiveCallback(live=live))
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, callbacks=callbacks, verbose=verbose)
    if live is not None:
        live.end()
    return history


def evaluate(model, x: np.ndarray, y: np.ndarray, *, probabilities: bool = False, batch_size: int = 512) -> dict:
    """Accuracy and mean cross-entropy of a float model on uint8 images."""
    outputs = predict(model, x, batch_size=batch_size)
    return score(outputs, y, probabilities=probabilities)


def predict(model, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    from .data import to_float

    out = [np.asarray(model(to_float(x[i:i + batch_size]), training=False))
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 0), np.float32)


def score(outputs: np.ndarray, y: np.ndarray, *, probabilities: bool) -> dict:
    """{"accuracy", "loss"} from logits (or probabilities), computed in float64 NumPy."""
    out = outputs.astype(np.float64)
    if probabilities:
        logp = np.log(np.clip(out, 1e-12, 1.0))
    else:
        m = out.max(axis=1, keepdims=True)
        logp = out - m - np.log(np.exp(out - m).sum(axis=1, keepdims=True))
    loss = float(-logp[np.arange(len(y)), y].mean()) if len(y) else float("nan")
    acc = float((out.argmax(axis=1) == y).mean()) if len(y) else float("nan")
    return {"accuracy": acc, "loss": loss}


def round_metrics(d: dict, digits: int = 6) -> dict:
    """Fixed precision so metrics files do not churn in the last float bits."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out[k] = round_metrics(v, digits)
        elif isinstance(v, float):
            out[k] = round(v, digits)
        else:
            out[k] = v
    return out


def load_data(data_dir: str | os.PathLike) -> tuple[dict, dict]:
    """({"train": (x, y), "val": ..., "test": ...}, dataset.json) from the fetch stage's output."""
    from .data import load_info, load_split

    data_dir = Path(data_dir)
    return {s: load_split(data_dir, s) for s in ("train", "val", "test")}, load_info(data_dir)
