"""Architecture registry: `build(name, input_shape, num_classes)` returns an uncompiled Keras model.

Every registered architecture ends in logits (no softmax): distillation softens them with a
temperature and int8 export needs no softmax on the board.
"""
from __future__ import annotations

from typing import Callable

from . import course, students, teachers

ARCHS: dict[str, tuple[Callable, str]] = {
    "resnet9": (teachers.resnet9, "default teacher: ResNet-9 (Page's DAWNBench net) at 24-48-96-192 channels (~0.93M params), for SGD one-cycle"),
    "vgg": (teachers.vgg, "VGG-style teacher, 3 blocks of 2 convs (64/128/256) with batch norm and dropout (~1.15M params)"),
    "tiny_cnn": (students.tiny_cnn, "two small convs; a fast stand-in for tests and smoke runs"),
    "cnn_small": (students.cnn_small, "default student: 4 convs 16/32/32/64, fits the board (~43k params)"),
    "resnet8": (students.resnet8, "MLPerf Tiny ResNet-8: 3 residual stacks 16/32/64 (~78.7k params)"),
    "ex6": (course.ex6, "course exercise 6: Conv2D(12,3x3)-MaxPool-Flatten-Dense (20,410 params on 28x28x1)"),
    "mnist_cnn_teacher": (course.mnist_cnn_teacher, "course MNIST teacher: Conv32-Pool-Conv64-Pool-Dense128, dropout"),
    "mlp_784": (course.mlp_784, "course fully connected student: 784-784-10"),
}

# How each student is distilled when `kd.augment: auto` (the default): on crop + flip views or on
# the plain images, whichever gave the higher validation accuracy against the reference teacher
# (docs/results.md#how-the-distillation-defaults-were-chosen). cnn_small underfits augmented
# images and does better on the plain ones; ResNet-8 overfits the plain ones (84 % training
# accuracy). An architecture not listed is distilled as its baseline trains (`student.augment`).
DISTILL_AUGMENT: dict[str, bool] = {"cnn_small": False, "resnet8": True}


def names() -> list[str]:
    return sorted(ARCHS)


def build(name: str, input_shape, num_classes: int):
    from ..errors import ParamError

    if name not in ARCHS:
        raise ParamError("arch", name, "one of " + ", ".join(names()))
    return ARCHS[name][0](tuple(int(d) for d in input_shape), int(num_classes))


def distill_augment(setting, arch: str | None, student_augment: bool) -> bool:
    """`kd.augment` resolved: true/false as given; "auto" as DISTILL_AUGMENT says for `arch`, else
    (an unlisted or supplied student, arch None) as `student.augment`."""
    from ..errors import ParamError

    if isinstance(setting, bool):
        return setting
    if setting != "auto":
        raise ParamError("kd.augment", setting, "true, false or auto")
    return DISTILL_AUGMENT.get(arch, bool(student_augment))


def add_parser(sub) -> None:
    p = sub.add_parser("archs", help="list the model architectures")

    def run(args):
        for name in names():
            print(f"{name:18s} {ARCHS[name][1]}")

    p.set_defaults(func=run)
