"""The Snakefile's rules are made from dvc.yaml (workflow/rules/dvc.smk); these tests check that the
generated DAG is DVC's own reading of dvc.yaml: every stage is a rule of the same name running the
same command with the same inputs, outputs and params keys.

Written over whatever stages exist, so it keeps holding as stages are added to dvc.yaml. A second
project (a dvc.yaml of foreach/matrix forms the pipeline may grow into) checks the templating.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from support import workflow_graph

REPO = Path(__file__).resolve().parents[1]
TRAINING = ("teacher", "baseline", "distill", "quantize", "compress")


def _graphs(root: Path, env: dict):
    dvc = workflow_graph.dvc_stages(root)
    assert dvc, f"DVC read no stages from {root / 'dvc.yaml'}"
    proc = subprocess.run([sys.executable, workflow_graph.__file__, str(root)], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = json.loads(proc.stdout.strip().splitlines()[-1])
    return dvc, jobs


@pytest.fixture(scope="module")
def graphs(tool_env):
    return _graphs(REPO, tool_env)


def _compare(dvc: dict, jobs: list[dict]) -> list[str]:
    """Differences between DVC's stages and Snakemake's jobs, as readable lines."""
    by_rule = {j["rule"]: j for j in jobs if j["cmd"]}
    problems = [f"dvc stage {n} has no Snakemake rule" for n in sorted(set(dvc) - set(by_rule))]
    problems += [f"Snakemake rule {n} runs a command but is no dvc stage" for n in sorted(set(by_rule) - set(dvc))]
    for name in sorted(set(dvc) & set(by_rule)):
        stage, job = dvc[name], by_rule[name]
        if stage["cmd"] != job["cmd"]:
            problems.append(f"{name}: cmd differs: dvc {stage['cmd']!r}, Snakemake {job['cmd']!r}")
        for field in ("deps", "outs", "params"):
            want, got = set(stage[field]), set(job[field])
            if want != got:
                problems.append(f"{name} {field}: only in dvc.yaml {sorted(want - got)}; "
                                f"only in Snakemake {sorted(got - want)}")
    return problems


def test_every_stage_is_a_rule_with_the_same_command_inputs_outputs_params(graphs):
    dvc, jobs = graphs
    assert {"fetch", "teacher", "baseline", "distill", "quantize@student"} <= set(dvc)
    problems = _compare(dvc, jobs)
    assert not problems, "\n".join(problems)


def test_default_target_makes_every_stage_output(graphs):
    dvc, jobs = graphs
    made = {o for j in jobs for o in j["outs"]}
    missing = sorted({o for s in dvc.values() for o in s["outs"]} - made)
    assert not missing, f"outputs `snakemake` (rule all) does not make: {missing}"


def test_every_rule_logs_to_logs_stage(graphs):
    _, jobs = graphs
    wrong = [(j["rule"], j["log"]) for j in jobs if j["cmd"] and j["log"] != [f"logs/{j['rule']}.log"]]
    assert not wrong, wrong


def test_existing_folders_are_directory_outputs(graphs):
    """Snakemake must know which outputs are folders; where the main checkout has them, they agree."""
    _, jobs = graphs
    wrong = []
    for job in jobs:
        for out in job["outs"]:
            if (REPO / out).exists() and (REPO / out).is_dir() != (out in job["dir_outs"]):
                wrong.append(f"{job['rule']}: {out}")
    assert not wrong, wrong


def test_training_rules_take_every_core(graphs):
    """`--cores 2` must not run two trainings at once (TF already uses both cores)."""
    _, jobs = graphs
    wrong = [(j["rule"], j["threads"]) for j in jobs
             if j["cmd"] and j["threads"] != (2 if j["rule"].split("@")[0] in TRAINING else 1)]
    assert not wrong, wrong


TEMPLATES = """
vars:
  - extra: {scale: 3}
stages:
  plain:
    cmd: python stages/fetch.py --out out/plain.txt --seed ${seed} --scale ${extra.scale}
    deps: [stages/fetch.py, src/tinykd/data]
    params: [seed, kd.alpha]
    outs: [out/plain.txt]
  listed:
    foreach: [a, b]
    do:
      cmd: python stages/fetch.py --in out/plain.txt --out out/${item}.txt
      deps: [out/plain.txt, stages/fetch.py]
      outs:
        - out/${item}.txt:
            cache: false
  mapped:
    foreach:
      student: {dir: out/s}
      baseline: {dir: out/b}
    do:
      cmd:
        - python stages/fetch.py --in out/${key}.txt --out ${item.dir}
        - python stages/fetch.py --check ${item.dir}
      deps: [stages/fetch.py]
      params:
        - kd.temperature
      outs: ["${item.dir}"]
      metrics:
        - ${item.dir}.json:
            cache: false
  dicts:
    foreach:
      - {name: x, n: 1}
      - {name: y, n: 2}
    do:
      cmd: python stages/fetch.py --n ${item.n} --out out/d_${item.name}.txt
      deps: [stages/fetch.py, out/a.txt]
      outs: ["out/d_${item.name}.txt"]
  grid:
    matrix:
      size: [1, 2]
      mode: [fast, true]
    cmd: python stages/fetch.py --size ${item.size} --mode ${item.mode} --out out/g_${key}.txt
    deps: [stages/fetch.py]
    outs: ["out/g_${key}.txt"]
  collect:
    cmd: python stages/report.py --in out --out summary.txt
    deps: [stages/report.py, out]
    outs: [summary.txt]
"""


def test_dvc_templating_becomes_the_same_rules(tmp_path, tool_env):
    """foreach over a list, a mapping and a list of mappings, matrix, ${key}/${item.x}/${params},
    vars, list commands, metrics, a folder dep holding other stages' outputs: the generated rules
    are what DVC itself reads from the same dvc.yaml (stage names included)."""
    proj = tmp_path / "proj"
    for name in ("workflow", "stages", "src", "firmware", "sweeps"):
        shutil.copytree(REPO / name, proj / name, ignore=shutil.ignore_patterns(
            "__pycache__", "*.pyc", "*.o", "*.d", "*.elf", "*.map", "*.bin", "build"))
    shutil.copy2(REPO / "params.yaml", proj / "params.yaml")
    # The pipeline's own stages plus the templated ones (the Snakefile's other rules need the former).
    doc = yaml.safe_load((REPO / "dvc.yaml").read_text())
    extra = yaml.safe_load(TEMPLATES)
    doc["vars"] = extra["vars"]
    doc["stages"].update(extra["stages"])
    (proj / "dvc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    subprocess.run(["dvc", "init", "-q", "--no-scm"], cwd=proj, env=tool_env, check=True, capture_output=True)
    dvc, jobs = _graphs(proj, tool_env)
    assert set(dvc) - set(workflow_graph.dvc_stages(REPO)) == {
        "plain", "listed@a", "listed@b", "mapped@student", "mapped@baseline", "dicts@0", "dicts@1",
        "grid@1-fast", "grid@1-true", "grid@2-fast", "grid@2-true", "collect"}, sorted(dvc)
    problems = _compare(dvc, jobs)
    assert not problems, "\n".join(problems)
    by_rule = {j["rule"]: j for j in jobs}
    assert by_rule["mapped@student"]["dir_outs"] == ["out/s"]
    assert "out/g_2-true.txt" in by_rule["collect"]["deps"]
    # A group is a target, like `dvc repro listed`.
    plan = subprocess.run(["snakemake", "--cores", "1", "-n", "listed"], cwd=proj, env=tool_env,
                          capture_output=True, text=True, timeout=300)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "listed@a" in plan.stdout and "listed@b" in plan.stdout and "dicts@0" not in plan.stdout
    params = yaml.safe_load((proj / "params.yaml").read_text())
    assert dvc["plain"]["cmd"].endswith(f"--seed {params['seed']} --scale 3")


def test_snakemake_validates_params_with_the_schema(tmp_path):
    """The Snakefile's `validate` rejects what tinykd.params rejects (same schema)."""
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    schema = REPO / "workflow" / "schemas" / "params.schema.yaml"
    config = yaml.safe_load((REPO / "params.yaml").read_text())
    validate(config, str(schema))
    config["kd"]["alpha"] = 2.0
    with pytest.raises(WorkflowError):
        validate(config, str(schema))
