"""Dotted params keys ("kd.alpha" = params["kd"]["alpha"]): the one implementation behind
params.get, presets (flatten, merge, apply), sweeps (-S overrides, result columns) and the
Snakefile (rule params, dvc.yaml interpolation), so a key means the same thing everywhere."""
from __future__ import annotations

import copy
import json
from typing import Any

MISSING = object()


def get(tree, key: str, default: Any = MISSING) -> Any:
    """The value at `key`; a list is indexed by a numeric part ("sweep.alphas.0"). A missing key
    returns `default`, or raises KeyError(key) without one."""
    node = tree
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif default is MISSING:
            raise KeyError(key)
        else:
            return default
    return node


def flatten(tree: dict, prefix: str = "") -> list[tuple[str, Any]]:
    """{"kd": {"alpha": 0.5}} -> [("kd.alpha", 0.5)], in the mapping's order (lists stay values)."""
    out = []
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out += flatten(value, dotted + ".")
        else:
            out.append((dotted, value))
    return out


def assign(tree, key: str, value: Any, create: bool = True) -> bool:
    """Set `key` to `value` in place; returns whether it changed. Missing sections are created
    (with `create`; the same mapping type as `tree`'s, so a ruamel document keeps its comments),
    else KeyError(key) names a key whose section does not exist."""
    node = tree
    parts = key.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            if not create or part in node:
                raise KeyError(key)
            node[part] = type(tree)()
        node = node[part]
    changed = parts[-1] not in node or node[parts[-1]] != value
    node[parts[-1]] = value
    return changed


def merge(base: dict, overlay: dict) -> dict:
    """A deep copy of `base` with every key of `overlay` set (sections merged, values replaced)."""
    out = copy.deepcopy(base)
    for key, value in flatten(overlay):
        assign(out, key, value)
    return out


def cli_value(value: Any) -> str:
    """A value as `dvc exp run -S key=value` (and `--set key=value`) parses it back: YAML flow
    style, so strings, booleans, lists and floats round-trip exactly."""
    if isinstance(value, str):
        return json.dumps(value) if value == "" or ":" in value or " " in value else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ",".join(cli_value(v) for v in value) + "]"
    if isinstance(value, float):
        text = repr(value)  # the shortest text that reads back as the same double
        if text in ("inf", "-inf", "nan"):
            return text.replace("inf", ".inf").replace("nan", ".nan")
        mantissa, e, exponent = text.partition("e")
        # YAML 1.1 (PyYAML, the Snakemake sweep's --set) reads 1e-05 as a string: give it a point.
        return f"{mantissa}.0e{exponent}" if e and "." not in mantissa else text
    return str(value)
