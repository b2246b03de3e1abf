"""Static arena planning: every buffer is a size and a lifetime (first and last layer
that touches it). Largest first, each placed at the lowest 16-byte-aligned offset where
it overlaps no already placed buffer whose lifetime intersects its own (TFLite Micro's
greedy-by-size planner). The high-water mark is the arena size.

A buffer shared in place by several tensors (inplace.py: a pooling's output over its input)
keeps one offset but lists each tensor's own span as `parts` (first, last, size): once the
big input is dead only the small output's bytes are taken, so the memory above them is free
for later layers."""
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
    parts: tuple = ()   # (first, last, size) per tensor sharing the buffer; empty: one part

    def spans(self) -> tuple:
        return self.parts or ((self.first, self.last, self.size),)

    def size_at(self, pos: int) -> int:
        """Bytes from `offset` in use at layer `pos` (0 when not live)."""
        return max((s for f, la, s in self.spans() if f <= pos <= la), default=0)

    def lives_with(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


def _align(x: int) -> int:
    return (x + ALIGN - 1) // ALIGN * ALIGN


def _conflicts(buf: Buffer, other: Buffer) -> list[tuple[int, int]]:
    """(size of buf, size of other) for every pair of their parts that are live together."""
    return [(s1, s2) for f1, l1, s1 in buf.spans() for f2, l2, s2 in other.spans()
            if f1 <= l2 and f2 <= l1 and s1 and s2]


# Placement orders tried; the smallest arena wins (ties: the first). Largest first is TFLite
# Micro's; with in-place parts a big short-lived scratch placed first can push a long-lived
# buffer up, which the second order (by first use, then size) avoids.
ORDERS = (lambda b: (-b.size, b.first, b.name), lambda b: (b.first, -b.size, b.name))


def plan(buffers: list[Buffer]) -> int:
    """Assign offsets in place; return the arena size in bytes."""
    best = None
    for key in ORDERS:
        arena = _place(buffers, key)
        if best is None or arena < best[0]:
            best = (arena, [b.offset for b in buffers])
    for b, off in zip(buffers, best[1]):
        b.offset = off
    return best[0]


def _place(buffers: list[Buffer], key) -> int:
    order = sorted(buffers, key=key)
    placed: list[Buffer] = []
    for buf in order:
        # forbidden offsets: (p.offset - mine, p.offset + theirs) for each clash with a placed p
        blocks = sorted((p.offset - s1, p.offset + s2) for p in placed if p.lives_with(buf)
                        for s1, s2 in _conflicts(buf, p))
        offset = 0
        for lo, hi in blocks:
            if offset <= lo:
                break
            if offset < hi:
                offset = _align(hi)
        buf.offset = offset
        placed.append(buf)
    return max((b.offset + s for b in buffers for _, _, s in b.spans()), default=0)


def check(buffers: list[Buffer]) -> list[str]:
    """Pairs of simultaneously live buffers that overlap in memory (empty if the plan is sound)."""
    problems = []
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            for sa, sb in _conflicts(a, b):
                if a.offset < b.offset + sb and b.offset < a.offset + sa:
                    problems.append(f"{a.name} [{a.offset}, {a.offset + sa}) overlaps "
                                    f"{b.name} [{b.offset}, {b.offset + sb})")
    return problems
