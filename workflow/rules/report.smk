# report: reports/report.md + figures from every stage's metrics (the same command as dvc.yaml).
# sweeps/ holds git-tracked sweep summaries (`tinykd sweep collect`), not outputs of any rule.

rule report:
    input:
        code("stages/report.py", "src/tinykd/report", "src/tinykd/sweep_report.py", "src/tinykd/compress/report.py"),
        expand("metrics/{name}.json", name=["teacher", "baseline", "distill", "quantize_teacher", "quantize_baseline",
                                            "quantize_student", "footprint", "firmware", "device"]),
        "plots/device",
        "dvclive/teacher",
        "dvclive/baseline",
        "dvclive/distill",
        "data/dataset.json",
        expand("metrics/compress/{method}.json", method=COMPRESS_METHODS),
        code("sweeps"),
    output:
        directory("reports"),
    log:
        "logs/report.log",
    shell:
        "python stages/report.py --metrics metrics --live dvclive --device-plots plots/device"
        " --dataset data/dataset.json --sweep sweeps --out reports > {log} 2>&1"


ALL_TARGETS += ["reports"]
