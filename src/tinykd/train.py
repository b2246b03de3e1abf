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


OPTIMIZERS = ("adam", "sgd")


def _pad(shape) -> int:
    return max(2, int(shape[0]) // 8)


def augment_params(n: int, shape, seed: int, view: int) -> np.ndarray:
    """Crop offsets and flips for `n` images: int32 (n, 3) rows of (dy, dx, flip).

    Fixed by (seed, view), so cached teacher outputs can be computed on exactly the views the
    student is later shown.
    """
    pad = _pad(shape)
    rng = np.random.default_rng([int(seed), int(view), 0x6B64])
    p = np.zeros((n, 3), np.int32)
    p[:, :2] = rng.integers(0, 2 * pad + 1, (n, 2))
    if int(shape[-1]) == 3:
        p[:, 2] = rng.integers(0, 2, n)
    return p


def _reflect_map(n: int, pad: int) -> np.ndarray:
    """Index into an axis of length `n` of each position of that axis reflect-padded by `pad`
    (the edge not repeated, as tf.pad's REFLECT): position j of the padded axis is pixel
    map[j] of the image."""
    if not 0 < pad < n:
        raise ValueError(f"images of {n} pixels along an axis are too small for a crop padding of {pad} "
                         f"(need more than {pad})")
    j = np.abs(np.arange(-pad, n + pad))
    return np.where(j > n - 1, 2 * (n - 1) - j, j).astype(np.int32)


def apply_augment(x, params):
    """Random-crop-after-reflect-padding and horizontal flip of a whole batch (n, h, w, c) at once.

    Crop and flip only select pixels, so they are done on the uint8 pixels, before the input
    scaling (elementwise, so the result is bit for bit that of scaling first): no padded copy
    is made, each output pixel is looked up through the reflect index map of its row and column.
    One gather per axis for the batch instead of a crop and a flip per image: the per-image
    tf.data map was the training pipeline's bottleneck on 2 cores, and so was padding and
    gathering float batches after scaling.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    h, w = int(x.shape[1]), int(x.shape[2])
    pad = _pad(x.shape[1:])
    params = tf.cast(params, tf.int32)
    rows = tf.gather(_reflect_map(h, pad), params[:, 0:1] + tf.range(h)[None, :])
    flip = params[:, 2:3] > 0
    cols = tf.gather(_reflect_map(w, pad),
                     params[:, 1:2] + tf.where(flip, tf.range(w - 1, -1, -1)[None, :], tf.range(w)[None, :]))
    x = tf.gather(x, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def _random_params(batch, shape, seed):
    """augment_params drawn inside the graph, per batch, from a stateless seed pair."""
    import tensorflow as tf

    pad = _pad(shape)
    n = tf.shape(batch)[0]
    off = tf.random.stateless_uniform((n, 2), seed=seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32)
    if int(shape[-1]) == 3:
        flip = tf.random.stateless_uniform((n, 1), seed=seed[::-1], minval=0, maxval=2, dtype=tf.int32)
    else:
        flip = tf.zeros((n, 1), tf.int32)
    return tf.concat([off, flip], axis=1)


def make_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool, augment: bool,
                 seed: int, extra: np.ndarray | None = None, views: np.ndarray | None = None,
                 scaling=None):
    """tf.data pipeline of (image float, label[, extra]) batches, deterministic for a seed.

    Images are uint8 pixels turned into the model's input by `scaling` (a
    tinykd.data.scaling.InputScaling; None = pixels / 255).

    `extra` rides along per example (cached teacher outputs), so it stays paired under shuffling.
    `views` (n, 3) gives fixed augmentation parameters per example (see augment_params) instead of
    random ones; with `augment` and no `views` every batch draws new ones. Images are shuffled,
    batched, then augmented (as uint8) and converted a whole batch at a time.
    """
    import tensorflow as tf

    from .data.scaling import resolve

    scaling = resolve(scaling)
    shape = tuple(x.shape[1:])
    parts = [x, y]
    if extra is not None:
        parts.append(extra)
    if views is not None:
        parts.append(views)
    ds = tf.data.Dataset.from_tensor_slices(tuple(parts))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)

    def to_float(img, *rest):
        return (scaling.tf(img), *rest)

    if views is not None:
        ds = ds.map(lambda *el: (scaling.tf(apply_augment(el[0], el[-1])), *el[1:-1]),
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    elif augment:
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        ds = tf.data.Dataset.zip((ds, seeds)).map(
            lambda el, s: (scaling.tf(apply_augment(el[0], _random_params(el[0], shape, s))), *el[1:]),
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    else:
        ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def _one_cycle(peak: float, total_steps: int, warmup: float = 0.2):
    """Linear warm-up from 0 to `peak` over the first `warmup` of the steps, then linear to 0."""
    total = float(max(1, total_steps))
    return _schedule_class()(peak=float(peak), total=total, up=max(1.0, warmup * total))


_ONE_CYCLE = None


def _schedule_class():
    """The one-cycle schedule class, registered with Keras (built lazily: the keras import is slow).

    Registered and with a full get_config because Keras serializes the optimizer with the model:
    clone_model (model_io.strip_training_state) must be able to rebuild it.
    """
    global _ONE_CYCLE
    if _ONE_CYCLE is None:
        import keras
        from keras import ops

        @keras.saving.register_keras_serializable(package="tinykd")
        class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
            def __init__(self, peak: float, total: float, up: float):
                self.peak, self.total, self.up = float(peak), float(total), float(up)

            def __call__(self, step):
                step = ops.cast(step, "float32")
                rise = step / self.up
                fall = (self.total - step) / max(1.0, self.total - self.up)
                return self.peak * ops.maximum(0.0, ops.minimum(rise, fall))

            def get_config(self):
                return {"peak": self.peak, "total": self.total, "up": self.up}

        _ONE_CYCLE = OneCycle
    return _ONE_CYCLE


def optimizer(learning_rate: float, epochs: int, steps_per_epoch: int, name: str = "adam"):
    """adam: Adam with a cosine decay to 0. sgd: SGD, Nesterov momentum 0.9, one-cycle schedule
    (linear up for the first 20 % of steps, linear down to 0), as fast CIFAR ResNet recipes use."""
    import keras

    steps = max(1, epochs * steps_per_epoch)
    if name == "sgd":
        return keras.optimizers.SGD(_one_cycle(float(learning_rate), steps), momentum=0.9, nesterov=True)
    if name != "adam":
        from .errors import ParamError

        raise ParamError("optimizer", name, "one of " + ", ".join(OPTIMIZERS))
    schedule = keras.optimizers.schedules.CosineDecay(float(learning_rate), steps)
    return keras.optimizers.Adam(schedule)


def open_live(live_dir: str | os.PathLike | None, resume: bool = False):
    """A DVCLive logger writing into `live_dir` (a declared stage output), not into dvc.yaml;
    with `resume`, continuing the steps already logged there."""
    if live_dir is None:
        return None
    from dvclive import Live
    from scmrepo.exceptions import SCMError

    from .errors import TinykdError

    try:
        return Live(str(live_dir), dvcyaml=None, save_dvc_exp=False, report=None, resume=resume)
    except SCMError as exc:
        # DVCLive reads the current git revision; a repository without commits has none.
        raise TinykdError(f"DVCLive cannot log in this git repository ({exc}); make a first commit") from None


def fit(model, data: dict, *, epochs: int, batch_size: int, learning_rate: float, augment: bool,
        seed: int, live_dir=None, verbose: int = 2, optimizer_name: str = "adam", scaling=None,
        resume_dir=None):
    """Train a logits model with cross-entropy on data["train"], validating on data["val"];
    `scaling` (InputScaling, None = pixels / 255) is how the model takes its pixels.

    With `resume_dir` (see tinykd.resume) the state after each epoch is kept there and a run
    killed mid-way continues from its last completed epoch when started again with the same
    settings, to the same final weights as an uninterrupted run."""
    import keras

    from .data.scaling import resolve

    x, y = data["train"]
    steps = int(np.ceil(len(x) / batch_size))
    model.compile(optimizer=optimizer(learning_rate, epochs, steps, optimizer_name),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    train_ds = make_dataset(x, y, batch_size, shuffle=True, augment=augment, seed=seed, scaling=scaling)
    val = data.get("val")
    val_ds = (make_dataset(*val, 512, shuffle=False, augment=False, seed=seed, scaling=scaling)
              if val and len(val[0]) else None)
    resume = None
    if resume_dir is not None:
        from . import resume as R

        config = {"fit": [epochs, batch_size, float(learning_rate), bool(augment), int(seed), optimizer_name],
                  "scaling": resolve(scaling).as_dict()}
        resume = R.Resume(resume_dir, R.fingerprint(config, model, [x, y, *(val or ())]), live_dir)
    return _fit(model, train_ds, val_ds, epochs=epochs, live_dir=live_dir, verbose=verbose, resume=resume)


def _fit(model, train_ds, val_ds, *, epochs: int, live_dir, verbose: int, resume):
    """model.fit with DVCLive logging and, with `resume` (a tinykd.resume.Resume), the backup."""
    start = resume.start() if resume is not None else 0
    if resume is not None:
        train_ds = resume.track(train_ds)
    live = open_live(live_dir, resume=start > 0)
    callbacks = []
    if live is not None:
        from dvclive.keras import DVCLiveCallback

        callbacks.append(DVCLiveCallback(live=live))
    if resume is not None:
        callbacks.append(resume.callback())   # after DVCLive: its copy holds the epoch just logged
    history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=start,
                        callbacks=callbacks, verbose=verbose)
    if live is not None:
        live.end()
    if resume is not None:
        resume.finish()
    return history


def evaluate(model, x: np.ndarray, y: np.ndarray, *, probabilities: bool = False, batch_size: int = 512,
             scaling=None) -> dict:
    """Accuracy and mean cross-entropy of a float model on uint8 images."""
    outputs = predict(model, x, batch_size=batch_size, scaling=scaling)
    return score(outputs, y, probabilities=probabilities)


def predict(model, x: np.ndarray, batch_size: int = 512, scaling=None) -> np.ndarray:
    """The model's outputs on uint8 images, each turned into its input by `scaling`
    (InputScaling; None = pixels / 255)."""
    from .data.scaling import resolve

    scaling = resolve(scaling)
    out = [np.asarray(model(scaling.numpy(x[i:i + batch_size]), training=False))
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
