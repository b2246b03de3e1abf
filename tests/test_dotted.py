"""tinykd.dotted: the one implementation of dotted params keys (params, presets, sweeps, Snakefile)."""
from __future__ import annotations

import pytest
import yaml

from tinykd import dotted


def test_get_follows_sections_and_list_indexes():
    tree = {"kd": {"alpha": 0.5, "nested": {"x": None}}, "sweep": {"alphas": [0.1, 0.3]}}
    assert dotted.get(tree, "kd.alpha") == 0.5
    assert dotted.get(tree, "kd.nested.x", "default") is None  # present, even if None
    assert dotted.get(tree, "sweep.alphas.1") == 0.3
    assert dotted.get(tree, "kd.beta", None) is None and dotted.get(tree, "sweep.alphas.2", 7) == 7
    with pytest.raises(KeyError, match="kd.alpha.x"):
        dotted.get(tree, "kd.alpha.x")


def test_flatten_and_merge_round_trip():
    base = {"kd": {"alpha": 0.5, "temperature": 4}, "seed": 1}
    overlay = {"kd": {"alpha": 0.1}, "new": {"deep": {"key": [1, 2]}}}
    assert dotted.flatten(overlay) == [("kd.alpha", 0.1), ("new.deep.key", [1, 2])]
    merged = dotted.merge(base, overlay)
    assert merged == {"kd": {"alpha": 0.1, "temperature": 4}, "seed": 1, "new": {"deep": {"key": [1, 2]}}}
    assert base["kd"]["alpha"] == 0.5  # a copy: the base is not changed


def test_assign_reports_changes_and_refuses_missing_sections_when_asked():
    tree = {"kd": {"alpha": 0.5}, "seed": 1}
    assert dotted.assign(tree, "kd.alpha", 0.5) is False
    assert dotted.assign(tree, "kd.alpha", 0.2) is True and tree["kd"]["alpha"] == 0.2
    with pytest.raises(KeyError):
        dotted.assign(tree, "teacher.epochs", 3, create=False)
    with pytest.raises(KeyError):
        dotted.assign(tree, "seed.x", 3)  # a value is not a section
    assert dotted.assign(tree, "teacher.epochs", 3) and tree["teacher"] == {"epochs": 3}


@pytest.mark.parametrize("value", ["", "a b", "key: v", "plain", True, False, 3, 0.1, 1e-05, 4.0,
                                   0.30000000000000004, 2.5e-10, 1e22, float("inf"), [1, "x y", 2.5], []])
def test_cli_value_parses_back_to_the_same_value(value):
    """What `dvc exp run -S key=value` (YAML) reads back is the value itself, floats exactly."""
    assert yaml.safe_load(dotted.cli_value(value)) == value
