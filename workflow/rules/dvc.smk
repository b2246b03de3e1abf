# One rule per dvc.yaml stage, built from dvc.yaml when the Snakefile is parsed: dvc.yaml is the only
# definition of the pipeline, so the two tools cannot drift apart. Each rule is named like the DVC
# stage (quantize@student: `snakemake quantize@student` as `dvc repro quantize@student`) and has
#   input   the stage's deps: folders of repository files expanded to their files (Snakemake
#           tracks files), other stages' outputs as declared;
#   output  the stage's outs, metrics and plots; directory() when the path is a folder (an existing
#           folder, or a not yet existing path without a suffix);
#   params  the values of the stage's params keys (a changed value reruns the rule);
#   shell   the stage's cmd, its output to logs/<stage>.log.
# A foreach/matrix group also becomes a target named after it (`snakemake compress` runs the five
# compress@<method> rules, as `dvc repro compress` does).
# Stages that train or run a TF model: each takes every core (TF uses them all), so `--cores 2`
# never runs two of them at once. Matched by stage name before the `@`.
TRAINING_STAGES = ("teacher", "baseline", "distill", "quantize", "compress")

DVC_STAGES, DVC_GROUPS = dvc_stages()
PRODUCED = {o for s in DVC_STAGES.values() for o in s["outs"]}
_bases = {n.split("@")[0] for n in DVC_STAGES}
if set(TRAINING_STAGES) - _bases:
    raise WorkflowError(f"TRAINING_STAGES names stages dvc.yaml does not have: {sorted(set(TRAINING_STAGES) - _bases)}")


for _name, _spec in DVC_STAGES.items():

    rule:
        name:
            _name
        input:
            stage_inputs(_spec["deps"], PRODUCED),
        output:
            stage_outputs(_spec["outs"]),
        params:
            **stage_params(_name, _spec["params"]),
        threads: _cores() if _name.split("@")[0] in TRAINING_STAGES else 1
        log:
            f"logs/{_name}.log",
        shell:
            stage_shell(_spec["cmd"])


for _group, _members_of in DVC_GROUPS.items():

    rule:
        name:
            _group
        input:
            [o for m in _members_of for o in DVC_STAGES[m]["outs"]],


ALL_TARGETS += [o for s in DVC_STAGES.values() for o in s["outs"]]
