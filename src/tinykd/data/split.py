"""Deterministic, stratified subsets and validation splits (same seed, same indices)."""
from __future__ import annotations

import numpy as np


def _per_class_take(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of about `fraction` of each class (at least one per class when fraction > 0)."""
    rng = np.random.default_rng(seed)
    chosen = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        idx = idx[rng.permutation(len(idx))]
        n = int(round(len(idx) * fraction))
        if fraction > 0 and len(idx) > 1:
            n = min(max(n, 1), len(idx) - 1) if fraction < 1 else len(idx)
        chosen.append(idx[:n])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def stratified_subset(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of `limit` examples keeping class proportions; all when limit is 0 or too big."""
    if limit <= 0 or limit >= len(labels):
        return np.arange(len(labels))
    idx = _per_class_take(labels, limit / len(labels), seed)
    # Rounding per class can miss the exact count; top up or trim deterministically.
    rng = np.random.default_rng(seed + 1)
    if len(idx) > limit:
        idx = np.sort(rng.choice(idx, size=limit, replace=False))
    elif len(idx) < limit:
        rest = np.setdiff1d(np.arange(len(labels)), idx)
        idx = np.sort(np.concatenate([idx, rng.choice(rest, size=limit - len(idx), replace=False)]))
    return idx


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices), both sorted, disjoint, covering all of `labels`."""
    if val_fraction <= 0:
        return np.arange(len(labels)), np.zeros(0, dtype=np.int64)
    val = _per_class_take(labels, val_fraction, seed)
    mask = np.ones(len(labels), dtype=bool)
    mask[val] = False
    return np.flatnonzero(mask), val
