"""Datasets: fetch official or local sources, split deterministically, store as arrays."""
from .fetch import fetch
from .store import load_info, load_split, to_float

__all__ = ["fetch", "load_info", "load_split", "to_float"]
