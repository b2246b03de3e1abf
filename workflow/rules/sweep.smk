# Sweeps with wildcards: the Snakemake twin of `tinykd sweep queue grid|eskd` (queued DVC experiments).
#
#   snakemake --cores 2 sweep          T x alpha grid of params.yaml `sweep:` (one folder per point)
#   snakemake --cores 2 sweep_eskd     ESKD: teachers trained k epochs (sweep.teacher_epochs), each distilled
#
# Every grid point lives in its own folder, build/sweep/grid/T{T}-a{alpha}/ (params.yaml with the point's
# overrides, student.keras, distill.json, student_int8.tflite, quantize.json, dvclive/), and reuses the
# main pipeline's data/ and models/teacher.keras (and metrics/baseline.json for the reference line),
# so the points are independent jobs. The same targets go to a SLURM cluster unchanged, with the
# cluster's requests (threads, mem_mb, runtime, retries) in workflow/profiles/slurm/config.yaml:
#   snakemake sweep --profile workflow/profiles/slurm --jobs 30 \
#       --default-resources slurm_account=<account> slurm_partition=<partition>
# (docs/sweeps.md; tests/test_sweep_slurm.py runs it on a local SLURM). A point's files are all
# declared outputs of its jobs, so a job the scheduler kills (time limit) leaves no partial point:
# Snakemake deletes the outputs of a failed job.
# The sweep targets are not part of the default target (`all`): they are not stages of dvc.yaml.

_SWEEP = config.get("sweep") or {}
# Wildcard values as in the folder names: 4.0 -> "4", 0.5 -> "0.5".
SWEEP_T = [f"{float(t):g}" for t in _SWEEP.get("temperatures", [1, 2, 4, 16, 32, 64])]
SWEEP_ALPHA = [f"{float(a):g}" for a in _SWEEP.get("alphas", [0.1, 0.3, 0.5, 0.7, 0.9])]
SWEEP_K = [str(int(k)) for k in _SWEEP.get("teacher_epochs", [1, 2, 5, 10, 20])]
GRID = "build/sweep/grid"
ESKD = "build/sweep/eskd"
SWEEP_FIGURES = ["accuracy_vs_T.png", "accuracy_vs_T.svg", "heatmap.png", "heatmap.svg"]
# The code the points run is the code of the DVC stages they repeat (their repository deps).
_DISTILL_CODE = dvc_code("distill")
_QUANTIZE_CODE = dvc_code("quantize@student")
_TEACHER_CODE = dvc_code("teacher")
_TABLE_CODE = code("src/tinykd/experiments", "src/tinykd/report")

# Seconds of work each: run beside Snakemake, not as cluster jobs.
localrules:
    sweep_params,
    sweep_table,
    sweep,
    eskd_params,
    eskd_table,
    sweep_eskd,


wildcard_constraints:
    T=r"[0-9]+(\.[0-9]+)?",
    alpha=r"[0-9]+(\.[0-9]+)?",
    k=r"[0-9]+",


rule sweep_params:
    input:
        "params.yaml",
        _TABLE_CODE,
    output:
        f"{GRID}/T{{T}}-a{{alpha}}/params.yaml",
    log:
        f"logs/sweep/grid/T{{T}}-a{{alpha}}/params.log",
    shell:
        "tinykd sweep derive-params --params params.yaml --set kd.temperature={wildcards.T}"
        " --set kd.alpha={wildcards.alpha} --out {output} > {log} 2>&1"


rule sweep_distill:
    input:
        _DISTILL_CODE,
        DATA,
        teacher="models/teacher.keras",
        params=f"{GRID}/T{{T}}-a{{alpha}}/params.yaml",
    output:
        model=f"{GRID}/T{{T}}-a{{alpha}}/student.keras",
        live=directory(f"{GRID}/T{{T}}-a{{alpha}}/dvclive"),
        metrics=f"{GRID}/T{{T}}-a{{alpha}}/distill.json",
    threads: 1
    log:
        f"logs/sweep/grid/T{{T}}-a{{alpha}}/distill.log",
    shell:
        "python stages/distill.py --params {input.params} --data data --teacher {input.teacher}"
        " --model {output.model} --metrics {output.metrics} --live {output.live} > {log} 2>&1"


rule sweep_quantize:
    input:
        _QUANTIZE_CODE,
        DATA,
        params=f"{GRID}/T{{T}}-a{{alpha}}/params.yaml",
        model=f"{GRID}/T{{T}}-a{{alpha}}/student.keras",
    output:
        tflite=f"{GRID}/T{{T}}-a{{alpha}}/student_int8.tflite",
        metrics=f"{GRID}/T{{T}}-a{{alpha}}/quantize.json",
    threads: 1
    log:
        f"logs/sweep/grid/T{{T}}-a{{alpha}}/quantize.log",
    shell:
        "python stages/quantize.py --params {input.params} --data data --model {input.model}"
        " --tflite {output.tflite} --metrics {output.metrics} > {log} 2>&1"


rule sweep_table:
    input:
        _TABLE_CODE,
        expand(f"{GRID}/T{{T}}-a{{alpha}}/{{f}}", T=SWEEP_T, alpha=SWEEP_ALPHA, f=["distill.json", "quantize.json"]),
        teacher="metrics/teacher.json",
        baseline="metrics/baseline.json",
    output:
        f"{GRID}/results.csv",
        f"{GRID}/results.md",
        expand(f"{GRID}/{{fig}}", fig=SWEEP_FIGURES),
    log:
        "logs/sweep/grid/table.log",
    shell:
        "tinykd sweep collect --from-dirs build/sweep/grid --teacher-metrics {input.teacher}"
        " --baseline-metrics {input.baseline} --out build/sweep/grid > {log} 2>&1"


rule sweep:
    input:
        rules.sweep_table.output,


# ESKD: one teacher per k, each distilled with params.yaml's kd settings.
rule eskd_params:
    input:
        "params.yaml",
        _TABLE_CODE,
    output:
        f"{ESKD}/k{{k}}/params.yaml",
    log:
        f"logs/sweep/eskd/k{{k}}/params.log",
    shell:
        "tinykd sweep derive-params --params params.yaml --set teacher.epochs={wildcards.k} --out {output} > {log} 2>&1"


rule eskd_teacher:
    input:
        _TEACHER_CODE,
        DATA,
        params=f"{ESKD}/k{{k}}/params.yaml",
    output:
        model=f"{ESKD}/k{{k}}/teacher.keras",
        live=directory(f"{ESKD}/k{{k}}/dvclive_teacher"),
        metrics=f"{ESKD}/k{{k}}/teacher.json",
    threads: 1
    log:
        f"logs/sweep/eskd/k{{k}}/teacher.log",
    shell:
        "python stages/teacher.py --params {input.params} --data data --model {output.model}"
        " --metrics {output.metrics} --live {output.live} > {log} 2>&1"


use rule sweep_distill as eskd_distill with:
    input:
        _DISTILL_CODE,
        DATA,
        teacher=f"{ESKD}/k{{k}}/teacher.keras",
        params=f"{ESKD}/k{{k}}/params.yaml",
    output:
        model=f"{ESKD}/k{{k}}/student.keras",
        live=directory(f"{ESKD}/k{{k}}/dvclive"),
        metrics=f"{ESKD}/k{{k}}/distill.json",
    log:
        f"logs/sweep/eskd/k{{k}}/distill.log",


use rule sweep_quantize as eskd_quantize with:
    input:
        _QUANTIZE_CODE,
        DATA,
        params=f"{ESKD}/k{{k}}/params.yaml",
        model=f"{ESKD}/k{{k}}/student.keras",
    output:
        tflite=f"{ESKD}/k{{k}}/student_int8.tflite",
        metrics=f"{ESKD}/k{{k}}/quantize.json",
    log:
        f"logs/sweep/eskd/k{{k}}/quantize.log",


rule eskd_table:
    input:
        _TABLE_CODE,
        expand(f"{ESKD}/k{{k}}/{{f}}", k=SWEEP_K, f=["teacher.json", "distill.json", "quantize.json"]),
        baseline="metrics/baseline.json",
    output:
        f"{ESKD}/results.csv",
        f"{ESKD}/results.md",
        f"{ESKD}/accuracy_vs_teacher_epochs.png",
        f"{ESKD}/accuracy_vs_teacher_epochs.svg",
    log:
        "logs/sweep/eskd/table.log",
    shell:
        "tinykd sweep collect --from-dirs build/sweep/eskd --baseline-metrics {input.baseline}"
        " --out build/sweep/eskd > {log} 2>&1"


rule sweep_eskd:
    input:
        rules.eskd_table.output,
