# Deploy path: export (C generation + footprint report), then build / flash / evaluate
# (firmware rules) — the same commands as dvc.yaml.

rule export:
    input:
        code("stages/export.py", "src/tinykd/export"),
        student="models/student_int8.tflite",
        teacher="models/teacher_int8.tflite",
        baseline="models/baseline_int8.tflite",
    output:
        directory("build/model"),
        "metrics/footprint.json",
    params:
        **param_values("export.board"),
    log:
        "logs/export.log",
    shell:
        "python stages/export.py --params params.yaml --student models/student_int8.tflite"
        " --teacher models/teacher_int8.tflite --baseline models/baseline_int8.tflite"
        " --outdir build/model --footprint metrics/footprint.json > {log} 2>&1"


ALL_TARGETS += ["metrics/footprint.json"]
