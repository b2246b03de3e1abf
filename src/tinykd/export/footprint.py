"""Footprint of int8 models against a target board, before any firmware is built.

The board's memories and reserves come from its description (firmware/boards/<board>/board.yaml,
tinykd.device.board). The arena must fit in one RAM region (SRAM1 and SRAM2 of the
B-L475E-IOT01A are not contiguous): the link script puts the model arena (.bss) in the
board's arena_region and the stack and I/O buffers in the other, so the budgets are:
  flash: flash_bytes minus firmware_flash_reserve (vector table, startup, UART protocol, libc
         pieces and the kernels: all reference kernels are 4.5 KB with arm-none-eabi-gcc
         -Os; the rest of the reserve leaves room for optimized kernels) -> model constants
         (model_data.c, exactly weight_bytes) + generated code (CODE_BYTES_PER_LAYER);
  arena: the arena region minus firmware_ram_reserve for the firmware's own .data/.bss.
Measured: the firmware with an exported ResNet-8 (reference kernels) uses 89,944 B of
flash of which 81,472 B are the model's constants, and 50,224 B of SRAM1 of which
49,152 B are the arena; so the B-L475E-IOT01A's reserves hold with a wide margin.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ExportError, TinykdError
from .fold import fold_constants, strip_float_io
from .planner import Buffer, plan
from .reader import Graph, read_tflite

# Generated model.c spends flash on each layer's parameter structs and call: measured
# 163-170 bytes per layer (cnn_small, ResNet-8; arm-none-eabi-gcc -Os); with margin:
CODE_BYTES_PER_LAYER = 256


@dataclass(frozen=True)
class Board:
    name: str
    flash_bytes: int
    firmware_flash_reserve: int
    arena_region: str
    regions: dict            # name -> (origin, bytes)
    firmware_ram_reserve: int   # bytes of arena_region used by the firmware itself

    @property
    def flash_budget(self) -> int:
        return self.flash_bytes - self.firmware_flash_reserve

    @property
    def arena_budget(self) -> int:
        return self.regions[self.arena_region][1] - self.firmware_ram_reserve

    def as_dict(self) -> dict:
        return {
            "name": self.name, "flash_bytes": self.flash_bytes,
            "firmware_flash_reserve": self.firmware_flash_reserve, "flash_budget": self.flash_budget,
            "arena_region": self.arena_region, "firmware_ram_reserve": self.firmware_ram_reserve,
            "arena_budget": self.arena_budget,
            "regions": {k: {"origin": f"0x{o:08X}", "bytes": b} for k, (o, b) in sorted(self.regions.items())},
        }


def board(name: str, param: str = "firmware.board") -> Board:
    """The footprint budgets of board `name` (a folder under firmware/boards/ with a board.yaml)."""
    from ..device import board as B

    d = B.load(name, param=param)
    return Board(d.key, d.regions["flash"][1], d.firmware_flash_reserve, d.arena_region.upper(),
                 {r.upper(): d.regions[r] for r in B.REGIONS if r != "flash"}, d.firmware_ram_reserve)


def _generic(graph: Graph) -> tuple[int, int, int, int]:
    """Weights, arena, MACs and op count for a graph the engine cannot export (e.g. a
    teacher with unsupported operators): every constant is a weight, every other tensor
    an arena buffer live from its producer to its last consumer."""
    t = graph.tensors
    weights = sum(x.nbytes for x in t if x.is_const)
    life: dict[int, list[int]] = {}
    macs = 0
    for pos, op in enumerate(graph.ops):
        for i in op.inputs + op.outputs:
            if i >= 0 and not t[i].is_const:
                span = life.setdefault(i, [pos, pos])
                span[0], span[1] = min(span[0], pos), max(span[1], pos)
        if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(op.inputs) > 1:
            f = t[op.inputs[1]]
            out = t[op.outputs[0]]
            per_out = int(np.prod(f.shape[1:])) if op.name != "DEPTHWISE_CONV_2D" else int(np.prod(f.shape[1:3]))
            macs += out.size * per_out
    for i in graph.inputs + graph.outputs:
        life.setdefault(i, [0, max(len(graph.ops) - 1, 0)])
    bufs = [Buffer(str(i), t[i].nbytes, a, b) for i, (a, b) in life.items()]
    return weights, plan(bufs), macs, len(graph.ops)


def model_footprint(blob: bytes, brd: Board) -> dict:
    """Weights, arena, MACs of one model and whether it fits the board."""
    from . import load_program

    result: dict = {"tflite_bytes": len(blob)}
    try:
        prog = load_program(blob)
        weights, arena, macs, layers = prog.weight_bytes, prog.arena_bytes, prog.macs, len(prog.layers)
        result.update(exportable=True, unsupported=None,
                      io_bytes=int(prog.input.size + prog.output.size))
    except TinykdError as exc:
        graph = read_tflite(blob)
        fold_constants(graph)
        strip_float_io(graph)
        weights, arena, macs, layers = _generic(graph)
        result.update(exportable=False, unsupported=str(exc), io_bytes=None)
    flash = weights + layers * CODE_BYTES_PER_LAYER
    result.update(weight_bytes=int(weights), arena_bytes=int(arena), macs=int(macs), layers=int(layers),
                  flash_bytes=int(flash), flash_over=int(max(0, flash - brd.flash_budget)),
                  arena_over=int(max(0, arena - brd.arena_budget)))
    result["fits_flash"] = result["flash_over"] == 0
    result["fits_ram"] = result["arena_over"] == 0
    result["fits"] = result["fits_flash"] and result["fits_ram"]
    result["arena_fits_regions"] = sorted(k for k, (_, b) in brd.regions.items() if arena <= b)
    return result


def require_fit(name: str, fp: dict, brd: Board) -> None:
    """Raise ExportError if a model that must be deployed does not fit."""
    if not fp.get("exportable", True):
        raise ExportError(f"{name}: {fp['unsupported']}")
    if not fp["fits"]:
        parts = []
        if fp["flash_over"]:
            parts.append(f"flash: {fp['flash_bytes']} bytes needed, budget {brd.flash_budget}")
        if fp["arena_over"]:
            parts.append(f"{brd.arena_region} arena: {fp['arena_bytes']} bytes needed, budget {brd.arena_budget}")
        over = fp["flash_over"] + fp["arena_over"]
        raise ExportError(f"{name} does not fit: {over} bytes over on {brd.name} ({'; '.join(parts)})")


def report(models: dict[str, bytes], brd: Board) -> dict:
    """footprint.json content for {name: tflite bytes}."""
    return {"board": brd.as_dict(),
            "models": {name: model_footprint(blob, brd) for name, blob in sorted(models.items())}}
