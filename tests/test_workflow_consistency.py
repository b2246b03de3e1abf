"""dvc.yaml and workflow/Snakefile must describe the same pipeline: same commands, deps, outs, params.

Written over whatever stages exist, so it keeps holding as stages are added to both files.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import workflow_graph

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graphs(tool_env):
    dvc = workflow_graph.dvc_stages(REPO)
    proc = subprocess.run([sys.executable, workflow_graph.__file__, str(REPO)], cwd=REPO, env=tool_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = json.loads(proc.stdout.strip().splitlines()[-1])
    return dvc, [j for j in jobs if j["cmd"]]


def _match(dvc: dict, jobs: list[dict]) -> dict[str, dict]:
    by_cmd = {j["cmd"]: j for j in jobs}
    return {name: by_cmd.get(stage["cmd"]) for name, stage in dvc.items()}


def test_training_stages_present(graphs):
    dvc, jobs = graphs
    for name in ("fetch", "teacher", "baseline", "distill", "quantize@teacher", "quantize@baseline",
                 "quantize@student"):
        assert name in dvc
    assert {"fetch", "teacher", "baseline", "distill", "quantize"} <= {j["rule"] for j in jobs}


def test_same_stages_and_commands(graphs):
    dvc, jobs = graphs
    matched = _match(dvc, jobs)
    missing = sorted(name for name, job in matched.items() if job is None)
    assert not missing, f"dvc stages without a Snakemake job running the same command: {missing}"
    extra = sorted(j["cmd"] for j in jobs if j["cmd"] not in {s["cmd"] for s in dvc.values()})
    assert not extra, f"Snakemake jobs without a dvc stage: {extra}"
    # Stage names agree: quantize@student is a job of rule quantize.
    for name, job in matched.items():
        assert name.split("@")[0] == job["rule"], (name, job["rule"])


@pytest.mark.parametrize("field", ["deps", "outs", "params"])
def test_same_deps_outs_params(graphs, field):
    dvc, jobs = graphs
    problems = []
    for name, job in _match(dvc, jobs).items():
        if job is None:
            continue
        want, got = set(dvc[name][field]), set(job[field])
        if want != got:
            problems.append(f"{name}: only in dvc.yaml {sorted(want - got)}; only in Snakefile {sorted(got - want)}")
    assert not problems, "\n".join(problems)


def test_every_rule_has_a_log(graphs):
    _, jobs = graphs
    assert all(j["log"] for j in jobs), [j["rule"] for j in jobs if not j["log"]]


def test_snakemake_validates_params_with_the_schema(tmp_path):
    """The Snakefile's `validate` rejects what tinykd.params rejects (same schema)."""
    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    schema = REPO / "workflow" / "schemas" / "params.schema.yaml"
    config = yaml.safe_load((REPO / "params.yaml").read_text())
    validate(config, str(schema))
    config["kd"]["alpha"] = 2.0
    with pytest.raises(WorkflowError):
        validate(config, str(schema))
