# fetch -> teacher -> baseline -> distill -> quantize: the same commands as dvc.yaml.

rule fetch:
    input:
        code("stages/fetch.py", "src/tinykd/data"),
    output:
        DATA,
    params:
        **param_values("seed", "dataset.name", "dataset.source", "dataset.sha256", "dataset.val_split",
                       "dataset.limit_train", "dataset.limit_test"),
    log:
        "logs/fetch.log",
    shell:
        "python stages/fetch.py --params params.yaml --out data > {log} 2>&1"


rule teacher:
    input:
        code("stages/teacher.py", "src/tinykd/teacher.py", "src/tinykd/train.py", "src/tinykd/model_io.py",
             "src/tinykd/models", "src/tinykd/data/store.py", "src/tinykd/params.py"),
        DATA,
    output:
        "models/teacher.keras",
        directory("dvclive/teacher"),
        "metrics/teacher.json",
    params:
        **param_values("seed", "teacher.source", "teacher.sha256", "teacher.arch", "teacher.epochs",
                       "teacher.batch_size", "teacher.learning_rate", "teacher.optimizer", "teacher.augment"),
    log:
        "logs/teacher.log",
    shell:
        "python stages/teacher.py --params params.yaml --data data --model models/teacher.keras"
        " --metrics metrics/teacher.json --live dvclive/teacher > {log} 2>&1"


rule baseline:
    input:
        code("stages/baseline.py", "src/tinykd/train.py", "src/tinykd/model_io.py", "src/tinykd/models",
             "src/tinykd/data/store.py", "src/tinykd/params.py"),
        DATA,
    output:
        "models/baseline.keras",
        directory("dvclive/baseline"),
        "metrics/baseline.json",
    params:
        **param_values("seed", "student.arch", "student.epochs", "student.batch_size", "student.learning_rate",
                       "student.optimizer", "student.augment"),
    log:
        "logs/baseline.log",
    shell:
        "python stages/baseline.py --params params.yaml --data data --model models/baseline.keras"
        " --metrics metrics/baseline.json --live dvclive/baseline > {log} 2>&1"


rule distill:
    input:
        code("stages/distill.py", "src/tinykd/distill.py", "src/tinykd/teacher.py", "src/tinykd/quantize.py",
             "src/tinykd/train.py", "src/tinykd/model_io.py", "src/tinykd/models", "src/tinykd/data/store.py",
             "src/tinykd/params.py"),
        DATA,
        "models/teacher.keras",
        "metrics/baseline.json",
    output:
        "models/student.keras",
        directory("dvclive/distill"),
        "metrics/distill.json",
    params:
        **param_values("seed", "student.source", "student.sha256", "student.arch", "kd.alpha", "kd.temperature",
                       "kd.teacher_outputs", "kd.epochs", "kd.batch_size", "kd.learning_rate", "kd.optimizer", "kd.augment", "kd.views"),
    log:
        "logs/distill.log",
    shell:
        "python stages/distill.py --params params.yaml --data data --teacher models/teacher.keras"
        " --model models/student.keras --metrics metrics/distill.json --live dvclive/distill"
        " --baseline-metrics metrics/baseline.json > {log} 2>&1"


rule quantize:
    input:
        code("stages/quantize.py", "src/tinykd/quantize.py", "src/tinykd/train.py", "src/tinykd/model_io.py",
             "src/tinykd/data/store.py", "src/tinykd/params.py"),
        DATA,
        "models/{model}.keras",
    output:
        "models/{model}_int8.tflite",
        "metrics/quantize_{model}.json",
    wildcard_constraints:
        model="teacher|baseline|student",
    params:
        **param_values("seed", "quantize.representative_samples"),
    log:
        "logs/quantize_{model}.log",
    shell:
        "python stages/quantize.py --params params.yaml --data data --model models/{wildcards.model}.keras"
        " --tflite models/{wildcards.model}_int8.tflite --metrics metrics/quantize_{wildcards.model}.json > {log} 2>&1"


ALL_TARGETS += expand("metrics/{stage}.json", stage=["teacher", "baseline", "distill"])
ALL_TARGETS += expand("metrics/quantize_{model}.json", model=["teacher", "baseline", "student"])
