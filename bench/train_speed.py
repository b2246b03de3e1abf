"""Training speed: a knowledge-distillation epoch with cached vs online teacher outputs, and a
baseline (plain cross-entropy) epoch of the same student.

    python -m bench.train_speed [--data data] [--images 5000] [--teacher vgg] [--student cnn_small]

Uses the prepared dataset in --data if the fetch stage has run, else the shared CIFAR-10 copy
(read with the image-folder reader), else CIFAR-shaped random images (speed does not depend on
the pixel values, nor on the teacher's weights: an untrained `--teacher` architecture is timed).
Each figure is the second of two epochs (the first includes tracing), on --images training images,
and is also given per full 45,000-image CIFAR-10 training split.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cifar10-jpeg-q75.tar.gz"
FULL_SPLIT = 45_000


def load_images(data: Path, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    from tinykd.data import formats, load_split

    if (data / "train.npz").is_file():
        x, y = load_split(data, "train")
        origin = f"{data}/train.npz"
    elif SHARED.is_file():
        (x, y), _, _ = formats.read_image_folder(SHARED)
        origin = str(SHARED)
    else:
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), rng.integers(0, 10, n)
        origin = "random CIFAR-shaped images"
    return x[:n], y[:n], origin


class EpochTimer:
    def __init__(self):
        import keras

        outer = self

        class _CB(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                outer.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                outer.times.append(time.perf_counter() - outer.start)

        self.times: list[float] = []
        self.callback = _CB()


def time_baseline(x, y, arch, batch) -> float:
    import keras

    from tinykd import models, train

    train.seed_everything(0)
    model = models.build(arch, x.shape[1:], 10)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    timer = EpochTimer()
    model.fit(train.make_dataset(x, y, batch, shuffle=True, augment=False, seed=0), epochs=2, verbose=0,
              callbacks=[timer.callback])
    return timer.times[-1]


def time_kd(x, y, teacher_arch, student_arch, batch, cached: bool) -> tuple[float, float]:
    """(epoch seconds, one-time teacher pass seconds — 0 when online)."""
    import keras

    from tinykd import models, train
    from tinykd.distill import Distiller

    train.seed_everything(0)
    teacher = models.build(teacher_arch, x.shape[1:], 10)
    student = models.build(student_arch, x.shape[1:], 10)
    d = Distiller(student, None if cached else teacher, alpha=0.4, temperature=3.0)
    d.compile(optimizer=keras.optimizers.Adam(1e-3))
    pre = 0.0
    extra = None
    if cached:
        start = time.perf_counter()
        extra = train.predict(teacher, x)
        pre = time.perf_counter() - start
    timer = EpochTimer()
    d.fit(train.make_dataset(x, y, batch, shuffle=True, augment=False, seed=0, extra=extra), epochs=2,
          verbose=0, callbacks=[timer.callback])
    return timer.times[-1], pre


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data"))
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--teacher", default="vgg")
    ap.add_argument("--student", default="cnn_small")
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args(argv)

    x, y, origin = load_images(args.data, args.images)
    n = len(x)
    scale = FULL_SPLIT / n
    print(f"images: {n} from {origin}; teacher {args.teacher}, student {args.student}, batch {args.batch}, "
          f"{os.cpu_count()} CPUs")
    base = time_baseline(x, y, args.student, args.batch)
    cached, pre = time_kd(x, y, args.teacher, args.student, args.batch, cached=True)
    online, _ = time_kd(x, y, args.teacher, args.student, args.batch, cached=False)
    rows = [("baseline epoch (CE only)", base), ("KD epoch, cached teacher outputs", cached),
            ("KD epoch, online teacher (every batch)", online), ("  one-time teacher pass for the cache", pre)]
    print(f"{'':42s} {'seconds':>9s} {'images/s':>9s} {'per 45k epoch':>14s}")
    for label, sec in rows:
        print(f"{label:42s} {sec:9.2f} {n / sec:9.0f} {sec * scale:12.1f} s")
    print(f"online / cached KD epoch: {online / cached:.2f}x; cached KD / baseline: {cached / base:.2f}x")


if __name__ == "__main__":
    main()
