# Compression beyond PTQ: the same commands as dvc.yaml's compress@<method> stages.
# Part of `all` (as `dvc repro` runs every stage); alone: `snakemake --cores 2 compress_all`
# (or `dvc repro compress`).

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


rule compress_all:
    input:
        expand("metrics/compress/{method}.json", method=COMPRESS_METHODS),


ALL_TARGETS += expand("metrics/compress/{method}.json", method=COMPRESS_METHODS)
