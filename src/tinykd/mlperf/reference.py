"""What the firmware computes around the model, reproduced on the host bit for bit.

- `input_table`: the ic01 pixel (uint8) to int8 input tables of firmware/app/mlperf_input.c,
  one per channel: tinykd.data.scaling.pixel_table, the host's own input quantization.
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

from ..data.scaling import InputScaling, pixel_table, quantize_pixels
from ..device import evaluate
from ..errors import DataError


def input_table(scale: float, zero_point: int, scaling: InputScaling | None = None) -> np.ndarray:
    """int8 input value for each channel and pixel value 0..255 (channels x 256), the values the
    firmware's tables must hold; `scaling` None = pixels / 255."""
    return pixel_table(scale, zero_point, scaling)


def input_mapping(scale: float, zero_point: int, scaling: InputScaling | None = None) -> str:
    """'subtract-128' when every channel's table is exactly p - 128 (the reference submissions'
    mapping), else 'quantize'; the firmware reports the same word in its `info` reply."""
    table = input_table(scale, zero_point, scaling).astype(np.int64)
    return "subtract-128" if (table == np.arange(256) - 128).all() else "quantize"


def table_hash(table: np.ndarray) -> str:
    """The firmware's input-table= value (mlperf_input_table_hash): FNV-1a 32 of the table bytes."""
    h = 2166136261
    for b in np.asarray(table, dtype=np.int8).view(np.uint8).reshape(-1).tolist():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return f"{h:08x}"


def dequantize(raw, scale: float, zero_point: int) -> np.ndarray:
    q = np.asarray(raw, dtype=np.int32) - int(zero_point)
    return q.astype(np.float32) * np.float32(scale)


def format_value(v) -> str:
    """printf("%.3f") of a float32 (Python's formatting rounds the exact binary value, as C does)."""
    return "%.3f" % float(np.float32(v))


def format_results(raw, scale: float, zero_point: int) -> list[str]:
    return [format_value(v) for v in dequantize(raw, scale, zero_point)]


class HostReference(evaluate.HostReference):
    """The model on the host's int8 interpreter, fed exactly what the firmware must feed its
    model: uint8 pixels quantized by the host's own arithmetic (quantize_pixels) with the model's
    `scaling` (None = pixels / 255; the firmware's INPUT_MEAN / INPUT_STD)."""

    def __init__(self, tflite: str | Path, scaling: InputScaling | None = None):
        super().__init__(tflite)
        self.scaling = scaling
        if scaling is not None:
            scaling.check_channels(int(self.inp["shape"][-1]))
        self.table = input_table(self.input_scale, self.input_zero_point, scaling)
        self.mapping = input_mapping(self.input_scale, self.input_zero_point, scaling)
        self.table_hash = table_hash(self.table)

    @property
    def input_bytes(self) -> int:
        return int(np.prod(self.inp["shape"]))

    def raw(self, pixels: bytes) -> np.ndarray:
        """int8 output for one image given as uint8 bytes (H, W, C)."""
        px = np.frombuffer(bytes(pixels), dtype=np.uint8)
        if px.size != self.input_bytes:
            raise DataError(f"image of {px.size} bytes; the model takes {self.input_bytes}")
        x = quantize_pixels(px.reshape(self.inp["shape"][1:]), self.input_scale, self.input_zero_point, self.scaling)
        return self.run(x)

    def results(self, pixels: bytes) -> list[str]:
        """The m-results-[...] values the device must print for this image."""
        return format_results(self.raw(pixels), self.output_scale, self.output_zero_point)
