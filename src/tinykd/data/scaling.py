"""How a model expects its pixels (params `teacher.input`, `student.input`).

One representation covers every convention: per channel c,

    x = (pixel - mean[c]) / std[c]        pixel = the uint8 value 0..255

with `mean` and `std` lists of 1 value (every channel) or one per channel, in pixel units:

    pixels / 255 (tinykd's default)          mean [0],       std [255]
    raw 0..255 pixels                         mean [0],       std [1]
    [-1, 1] (Keras "tf" preprocessing)        mean [127.5],   std [127.5]
    per-channel mean m / std s of [0, 1]      mean 255 * m,   std 255 * s
    images (torchvision's convention)

The default is computed as today's code did (float32 pixel / 255.0, nothing subtracted), so
results made before this key existed stay bit for bit the same. A mean of 0 skips the
subtraction and a std of 1 the division, for every model.

The same InputScaling is applied in training, to the teacher's cached outputs, in int8
calibration, in the host's int8 reference and in the host-side input quantization for the board.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ParamError

DEFAULT_MEAN = (0.0,)
DEFAULT_STD = (255.0,)


def _floats(key: str, value, positive: bool) -> tuple[float, ...]:
    what = "a list of positive finite numbers" if positive else "a list of finite numbers"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, (list, tuple)) or not value:
        raise ParamError(key, value, f"{what} (1 value for every channel, or one per channel)")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
            raise ParamError(key, list(value), what)
        if positive and float(v) <= 0:
            raise ParamError(key, list(value), f"{what} (a std of 0 or below has no meaning)")
        out.append(float(v))
    return tuple(out)


@dataclass(frozen=True)
class InputScaling:
    """x = (pixel - mean) / std per channel; mean, std: 1 value or one per channel."""

    mean: tuple[float, ...] = DEFAULT_MEAN
    std: tuple[float, ...] = DEFAULT_STD
    key: str = field(default="input", compare=False)   # the params key, for error messages

    def __post_init__(self):
        object.__setattr__(self, "mean", _floats(f"{self.key}.mean", self.mean, positive=False))
        object.__setattr__(self, "std", _floats(f"{self.key}.std", self.std, positive=True))

    @property
    def is_default(self) -> bool:
        return self.mean == DEFAULT_MEAN and self.std == DEFAULT_STD

    def check_channels(self, channels: int) -> "InputScaling":
        """Itself, after checking each list has 1 value or `channels` values."""
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, int(channels)):
                one = "1 value (every channel)" + (f" or {channels} (one per channel)" if channels != 1 else "")
                raise ParamError(f"{self.key}.{name}", list(values),
                                 f"{one}: the images have {channels} channel{'s' if channels != 1 else ''}")
        return self

    def _constants(self, values: tuple[float, ...]):
        return np.float32(values[0]) if len(values) == 1 else np.asarray(values, np.float32)

    def numpy(self, x: np.ndarray) -> np.ndarray:
        """uint8 pixels (..., C) -> the model's float32 input."""
        out = np.asarray(x).astype(np.float32)
        if any(m != 0.0 for m in self.mean):
            out = out - self._constants(self.mean)
        if any(s != 1.0 for s in self.std):
            out = out / self._constants(self.std)
        return out

    def tf(self, x):
        """The same as `numpy` on a TensorFlow tensor (uint8 or float pixels)."""
        import tensorflow as tf

        out = tf.cast(x, tf.float32)
        if any(m != 0.0 for m in self.mean):
            out = out - tf.constant(self._constants(self.mean))
        if any(s != 1.0 for s in self.std):
            out = out / tf.constant(self._constants(self.std))
        return out

    def value_range(self) -> tuple[float, float]:
        """(lowest, highest) input value any pixel 0..255 of any channel becomes: the range a
        per-tensor input quantizer must cover. (0.0, 1.0) for the default."""
        c = max(len(self.mean), len(self.std))
        ends = self.numpy(np.array([[0] * c, [255] * c], np.uint8))
        return float(ends.min()), float(ends.max())

    def per_channel(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """(mean, std) with as many values in both: 1 when both have 1, else the longer count,
        a single value repeated (what a C table of one row per channel needs)."""
        n = max(len(self.mean), len(self.std))
        return (self.mean * n if len(self.mean) == 1 else self.mean,
                self.std * n if len(self.std) == 1 else self.std)

    def as_dict(self) -> dict:
        return {"mean": list(self.mean), "std": list(self.std)}

    def describe(self) -> str:
        if self.is_default:
            return "pixels / 255"
        if self.mean == (0.0,) and self.std == (1.0,):
            return "raw 0..255 pixels"
        return f"(pixel - {list(self.mean)}) / {list(self.std)}"


DEFAULT = InputScaling()
# Pixel values as float32, unscaled: what the distillation datasets carry, each model then
# applying its own scaling (teacher and student may differ).
PIXELS = InputScaling((0.0,), (1.0,), key="pixels")


def from_params(value, key: str, channels: int | None = None) -> InputScaling:
    """The InputScaling of a params mapping such as p["teacher"]["input"] ({mean, std});
    `key` ("teacher.input") names it in errors; `channels` checks the list lengths."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ParamError(key, value, "a mapping with mean and std lists (x = (pixel - mean) / std)")
    unknown = sorted(set(value) - {"mean", "std"})
    if unknown:
        raise ParamError(f"{key}.{unknown[0]}", value[unknown[0]], f"a known key of {key}: mean, std")
    s = InputScaling(value.get("mean", DEFAULT_MEAN), value.get("std", DEFAULT_STD), key=key)
    return s.check_channels(channels) if channels is not None else s


def quantize_pixels(img_u8: np.ndarray, scale: float, zero_point: int, scaling: InputScaling | None = None
                    ) -> np.ndarray:
    """uint8 pixels -> the model's int8 input: its float input (`scaling`, None = pixels / 255)
    quantized with the input tensor's scale and zero point, rounding half to even as TFLite's
    QUANTIZE does on the host. One definition for the quantize stage's int8 metrics, the device
    evaluation's host side and `tinykd live`."""
    q = np.round(resolve(scaling).numpy(img_u8) / scale + zero_point)
    return np.clip(q, -128, 127).astype(np.int8)


def resolve(scaling: InputScaling | None) -> InputScaling:
    return DEFAULT if scaling is None else scaling


def pixel_table(scale: float, zero_point: int, scaling: InputScaling | None = None) -> np.ndarray:
    """quantize_pixels for every pixel value 0..255 of every channel: int8 (channels, 256), one
    row per channel (1 row when mean and std have 1 value each). The firmware's input tables
    (MLPerf front-end, `tinykd export --standalone`) hold exactly these values."""
    s = resolve(scaling)
    mean, _ = s.per_channel()
    pixels = np.repeat(np.arange(256, dtype=np.uint8)[:, None], len(mean), axis=1)
    return np.ascontiguousarray(quantize_pixels(pixels, scale, zero_point, s).T)
