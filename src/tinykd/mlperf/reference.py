"""What the firmware computes around the model, reproduced on the host bit for bit.

- `input_table`: the ic01 pixel (uint8) to int8 input mapping of firmware/app/mlperf_input.c.
- `dequantize` / `format_results`: the m-results-[...] text, `(q - zero_point) * scale` in
  single precision printed like the reference submission's `%0.3f`.
- `HostReference`: the same .tflite on the host int8 interpreter (ai_edge_litert with its
  reference kernels, which TFLite Micro and tinykd's engine match bit for bit; the default
  XNNPACK delegate rounds some int8 ops differently, e.g. ResNet-8's residual ADDs, by +-1),
  giving the vector the device must print for the same image.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..device import evaluate
from ..errors import DataError

# tinykd's models take pixels / 255 (tinykd.data.store.normalize); the firmware's default.
PIXEL_TO_REAL = np.float32(1.0) / np.float32(255.0)


def input_table(scale: float, zero_point: int, pixel_to_real: float = PIXEL_TO_REAL) -> np.ndarray:
    """int8 input value for each pixel value 0..255, step for step as the firmware computes it."""
    p = np.arange(256, dtype=np.float32)
    real = p * np.float32(pixel_to_real)
    steps = np.clip(real / np.float32(scale), np.float32(-65536.0), np.float32(65536.0))
    half = np.float32(0.5)
    rounded = np.where(steps >= 0, np.trunc(steps + half), -np.trunc(half - steps)).astype(np.int64)
    return np.clip(int(zero_point) + rounded, -128, 127).astype(np.int8)


def input_mapping(scale: float, zero_point: int, pixel_to_real: float = PIXEL_TO_REAL) -> str:
    """'subtract-128' when the table is exactly p - 128 (the reference submissions' mapping),
    else 'quantize'; the firmware reports the same word in its `info` reply."""
    table = input_table(scale, zero_point, pixel_to_real)
    same = np.array_equal(table.astype(np.int64), np.arange(256) - 128)
    return "subtract-128" if same else "quantize"


def dequantize(raw, scale: float, zero_point: int) -> np.ndarray:
    q = np.asarray(raw, dtype=np.int32) - int(zero_point)
    return q.astype(np.float32) * np.float32(scale)


def format_value(v) -> str:
    """printf("%.3f") of a float32 (Python's formatting rounds the exact binary value, as C does)."""
    return "%.3f" % float(np.float32(v))


def format_results(raw, scale: float, zero_point: int) -> list[str]:
    return [format_value(v) for v in dequantize(raw, scale, zero_point)]


class HostReference(evaluate.HostReference):
    """The model on the host's int8 interpreter, fed exactly what the firmware feeds its model:
    uint8 pixels through the same input table."""

    def __init__(self, tflite: str | Path):
        super().__init__(tflite)
        self.table = input_table(self.input_scale, self.input_zero_point)
        self.mapping = input_mapping(self.input_scale, self.input_zero_point)

    @property
    def input_bytes(self) -> int:
        return int(np.prod(self.inp["shape"]))

    def raw(self, pixels: bytes) -> np.ndarray:
        """int8 output for one image given as uint8 bytes (H, W, C)."""
        px = np.frombuffer(bytes(pixels), dtype=np.uint8)
        if px.size != self.input_bytes:
            raise DataError(f"image of {px.size} bytes; the model takes {self.input_bytes}")
        return self.run(self.table[px])

    def results(self, pixels: bytes) -> list[str]:
        """The m-results-[...] values the device must print for this image."""
        return format_results(self.raw(pixels), self.output_scale, self.output_zero_point)
