"""Deterministic, stratified subsets and validation splits (same seed, same indices)."""
from __future__ import annotations

import numpy as np


def _per_class_take(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of round(N * fraction) examples, spread over classes in proportion.

    Per-class quotas use the largest-remainder method, so the total is exact and each class
    gets its share within one example.
    """
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    pools = []
    for cls in classes:
        idx = np.flatnonzero(labels == cls)
        pools.append(idx[rng.permutation(len(idx))])
    total = int(np.floor(len(labels) * fraction + 0.5))
    quotas = np.array([len(p) * fraction for p in pools])
    take = np.floor(quotas).astype(int)
    order = sorted(range(len(pools)), key=lambda i: (-(quotas[i] - take[i]), i))
    for i in order[: max(0, total - int(take.sum()))]:
        take[i] += 1
    chosen = [p[:n] for p, n in zip(pools, take)]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def stratified_subset(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """Sorted indices of `limit` examples keeping class proportions; all when limit is 0 or too big."""
    if limit <= 0 or limit >= len(labels):
        return np.arange(len(labels))
    return _per_class_take(labels, limit / len(labels), seed)


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices), both sorted, disjoint, covering all of `labels`."""
    if val_fraction <= 0:
        return np.arange(len(labels)), np.zeros(0, dtype=np.int64)
    val = _per_class_take(labels, val_fraction, seed)
    mask = np.ones(len(labels), dtype=bool)
    mask[val] = False
    return np.flatnonzero(mask), val
