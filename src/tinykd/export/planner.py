"""Static arena planning: every buffer is a size and a lifetime (first and last layer
that touches it). Largest first, each placed at the lowest 16-byte-aligned offset where
it overlaps no already placed buffer whose lifetime intersects its own (TFLite Micro's
greedy-by-size planner). The high-water mark is the arena size."""
from __future__ import annotations

from dataclasses import dataclass

ALIGN = 16


@dataclass
class Buffer:
    name: str
    size: int
    first: int      # first layer index using it
    last: int       # last layer index using it (inclusive)
    offset: int = -1

    def lives_with(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


def _align(x: int) -> int:
    return (x + ALIGN - 1) // ALIGN * ALIGN


def plan(buffers: list[Buffer]) -> int:
    """Assign offsets in place; return the arena size in bytes."""
    order = sorted(buffers, key=lambda b: (-b.size, b.first, b.name))
    placed: list[Buffer] = []
    for buf in order:
        live = sorted((p for p in placed if p.lives_with(buf)), key=lambda p: p.offset)
        offset = 0
        for p in live:
            if p.offset - offset >= buf.size:
                break
            offset = max(offset, _align(p.offset + p.size))
        buf.offset = offset
        placed.append(buf)
    return max((b.offset + b.size for b in buffers), default=0)


def check(buffers: list[Buffer]) -> list[str]:
    """Pairs of simultaneously live buffers that overlap in memory (empty if the plan is sound)."""
    problems = []
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            if a.lives_with(b) and a.offset < b.offset + b.size and b.offset < a.offset + a.size and a.size and b.size:
                problems.append(f"{a.name} [{a.offset}, {a.offset + a.size}) overlaps "
                                f"{b.name} [{b.offset}, {b.offset + b.size})")
    return problems
