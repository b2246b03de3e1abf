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


# ---- firmware: build / flash / evaluate (same commands as dvc.yaml) ----

rule build:
    input:
        code("stages/build.py", "src/tinykd/device", "firmware/Makefile", "firmware/app",
             "firmware/boards", "firmware/nn"),
        model="build/model",
    output:
        directory("build/firmware"),
        "metrics/firmware.json",
    params:
        **param_values("firmware.baud", "firmware.protocol", "export.board"),
    log:
        "logs/build.log",
    shell:
        "python stages/build.py --params params.yaml --firmware-src firmware --model-dir build/model"
        " --out build/firmware --metrics metrics/firmware.json > {log} 2>&1"


rule flash:
    input:
        code("stages/flash.py", "src/tinykd/device"),
        firmware="build/firmware",
    output:
        directory("build/flash"),
    params:
        **param_values("device.backend"),
    log:
        "logs/flash.log",
    shell:
        "python stages/flash.py --params params.yaml --firmware build/firmware --out build/flash > {log} 2>&1"


rule evaluate:
    input:
        code("stages/evaluate.py", "src/tinykd/device"),
        flash="build/flash",
        model="build/model",
        tflite="models/student_int8.tflite",
        test="data/test.npz",
        info="data/dataset.json",
    output:
        "metrics/device.json",
        directory("plots/device"),
    params:
        **param_values("seed", "firmware.baud", "device.backend", "device.port", "device.timeout_s",
                       "device.retries", "evaluate.samples", "evaluate.transport"),
    log:
        "logs/evaluate.log",
    shell:
        "python stages/evaluate.py --params params.yaml --flash build/flash --model-dir build/model"
        " --tflite models/student_int8.tflite --data data --metrics metrics/device.json"
        " --plots plots/device > {log} 2>&1"


ALL_TARGETS += ["metrics/firmware.json", "metrics/device.json"]
