"""Training speed: teacher and student epochs with and without augmentation (the batch-level
augmentation must keep >= 80 % of the plain images/s), and a distillation epoch with augmentation,
teacher outputs cached on fixed views vs computed online, against the baseline epoch (<= 1.3x).

    python -m bench.train_speed [--data data] [--images 5000] [--teacher resnet9] [--student cnn_small]
                                [--no-kd]

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


def time_fit(x, y, arch, batch, augment: bool) -> float:
    """Seconds of the second epoch of plain cross-entropy training (the input pipeline included)."""
    import keras

    from tinykd import models, train

    train.seed_everything(0)
    model = models.build(arch, x.shape[1:], 10)
    model.compile(optimizer=train.optimizer(1e-3, 2, 1),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    timer = EpochTimer()
    model.fit(train.make_dataset(x, y, batch, shuffle=True, augment=augment, seed=0), epochs=2, verbose=0,
              callbacks=[timer.callback])
    return timer.times[-1]


def time_kd(x, y, teacher_arch, student_arch, batch, mode: str, views: int = 8) -> tuple[float, float]:
    """(epoch seconds, one-time teacher pass seconds) for `mode` views | online, with augmentation."""
    from tinykd import distill, models, train

    train.seed_everything(0)
    teacher = models.build(teacher_arch, x.shape[1:], 10)
    student = models.build(student_arch, x.shape[1:], 10)
    d = distill.Distiller(student, teacher if mode == "online" else None, alpha=0.1, temperature=4.0)
    d.compile(optimizer=train.optimizer(1e-3, 2, 1))
    pre = 0.0
    if mode == "views":
        start = time.perf_counter()
        outs, params = distill.teacher_views(teacher, x, views=views, seed=0)
        pre = time.perf_counter() - start
        ds = distill.views_dataset(x, y, outs, params, batch, seed=0)
    else:
        ds = train.make_dataset(x, y, batch, shuffle=True, augment=True, seed=0)
    timer = EpochTimer()
    d.fit(ds, epochs=2, verbose=0, callbacks=[timer.callback])
    return timer.times[-1], pre


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("data"))
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--teacher", default="resnet9")
    ap.add_argument("--student", default="cnn_small")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument("--no-kd", action="store_true", help="only the augmented / plain epochs (a quicker run)")
    args = ap.parse_args(argv)

    x, y, origin = load_images(args.data, args.images)
    n = len(x)
    scale = FULL_SPLIT / n
    print(f"images: {n} from {origin}; teacher {args.teacher}, student {args.student}, batch {args.batch}, "
          f"{os.cpu_count()} CPUs")
    t_plain = time_fit(x, y, args.teacher, args.batch, augment=False)
    t_aug = time_fit(x, y, args.teacher, args.batch, augment=True)
    s_plain = time_fit(x, y, args.student, args.batch, augment=False)
    s_aug = time_fit(x, y, args.student, args.batch, augment=True)
    rows = [(f"teacher {args.teacher} epoch, no augmentation", t_plain),
            (f"teacher {args.teacher} epoch, augmented", t_aug),
            (f"baseline {args.student} epoch, no augmentation", s_plain),
            (f"baseline {args.student} epoch, augmented", s_aug)]
    if not args.no_kd:
        kd_views, pre = time_kd(x, y, args.teacher, args.student, args.batch, "views", args.views)
        kd_online, _ = time_kd(x, y, args.teacher, args.student, args.batch, "online")
        rows += [(f"KD epoch, augmented, {args.views} cached teacher views", kd_views),
                 ("KD epoch, augmented, online teacher", kd_online),
                 (f"  one-time teacher pass over {args.views} views", pre)]
    print(f"{'':52s} {'seconds':>9s} {'images/s':>9s} {'per 45k epoch':>14s}")
    for label, sec in rows:
        print(f"{label:52s} {sec:9.2f} {n / sec:9.0f} {sec * scale:12.1f} s")
    print(f"augmented / plain images/s: teacher {t_plain / t_aug:.0%}, student {s_plain / s_aug:.0%} (target >= 80 %)")
    if args.no_kd:
        return
    print(f"KD epoch / baseline epoch (both augmented): cached views {kd_views / s_aug:.2f}x (target <= 1.3x), "
          f"online teacher {kd_online / s_aug:.2f}x")


if __name__ == "__main__":
    main()
