# Compression beyond PTQ: the same commands as dvc.yaml's compress@<method> and speed stages.
# Part of `all` (as `dvc repro` runs every stage); alone: `snakemake --cores 2 compress_all`
# (or `dvc repro compress speed`).

COMPRESS_METHODS = ["ptq", "qat", "prune_unstructured", "prune_structured", "ppqat"]


rule compress:
    input:
        code("stages/compress.py", "src/tinykd/compress", "src/tinykd/quantize.py", "src/tinykd/train.py",
             "src/tinykd/export"),
        DATA,
        "models/student.keras",
    output:
        "models/compress/{method}_int8.tflite",
        "metrics/compress/{method}.json",
    wildcard_constraints:
        method="|".join(COMPRESS_METHODS),
    params:
        **param_values("seed", "quantize.representative_samples", "compress", "prune"),
    log:
        "logs/compress_{method}.log",
    shell:
        "python stages/compress.py --params params.yaml --data data --model models/student.keras"
        " --method {wildcards.method} --tflite models/compress/{wildcards.method}_int8.tflite"
        " --metrics metrics/compress/{wildcards.method}.json > {log} 2>&1"


rule speed:
    input:
        code("stages/speed.py", "src/tinykd/compress/metrics.py"),
        "data/test.npz",
        "models/teacher.keras",
        "models/student.keras",
        "models/teacher_int8.tflite",
        "models/student_int8.tflite",
    output:
        "metrics/speed.json",
    log:
        "logs/speed.log",
    shell:
        "python stages/speed.py --data data --teacher models/teacher.keras --student models/student.keras"
        " --teacher-tflite models/teacher_int8.tflite --student-tflite models/student_int8.tflite"
        " --samples 200 --metrics metrics/speed.json > {log} 2>&1"


rule compress_all:
    input:
        expand("metrics/compress/{method}.json", method=COMPRESS_METHODS),
        "metrics/speed.json",


ALL_TARGETS += expand("metrics/compress/{method}.json", method=COMPRESS_METHODS) + ["metrics/speed.json"]
