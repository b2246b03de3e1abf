"""Stage quantize: full-int8 post-training quantization of one model; float vs int8 metrics.

A model file that already is a full-int8 .tflite (the distill stage writes a student supplied
that way, `student.source: x.tflite`, to models/student.keras unchanged) is checked against the
dataset and copied byte for byte instead: no float model, so the float metrics are null."""
from _common import stage

INPUT_KEYS = ("teacher.input", "student.input")


def supplied_int8(args, data: dict, info: dict, scaling) -> None:
    """Pass a supplied int8 .tflite on unquantized, with its int8 test metrics."""
    from pathlib import Path

    from tinykd import train
    from tinykd.atomic import write_bytes, write_json
    from tinykd.quantize import check_int8_tflite, run_tflite

    blob = Path(args.model).read_bytes()
    io = check_int8_tflite(blob, "model", args.model, info["shape"], info["num_classes"])
    probs = io["output_zero_point"] == -128 and abs(io["output_scale"] - 1 / 256) < 1e-9
    xt, yt = data["test"]
    outputs, io = run_tflite(blob, xt, scaling=scaling)
    scores = train.score(outputs, yt, probabilities=probs)
    write_bytes(args.tflite, blob)
    metrics = {"float_accuracy": None, "float_loss": None, "int8_accuracy": scores["accuracy"],
               "int8_loss": scores["loss"], "accuracy_drop": None, "supplied_int8": True,
               "keras_bytes": None, "tflite_bytes": len(blob), "representative_samples": 0,
               "test_samples": int(len(yt)), **io}
    write_json(args.metrics, train.round_metrics(metrics))
    print(f"quantize {args.model}: already a full-int8 .tflite (supplied), copied; int8 "
          f"{scores['accuracy']:.4f}, {len(blob)} bytes")


def arguments(ap) -> None:
    ap.add_argument("--data", default="data")
    ap.add_argument("--model", required=True, help=".keras model to quantize")
    ap.add_argument("--tflite", required=True, help="int8 .tflite to write")
    ap.add_argument("--metrics", required=True)
    ap.add_argument("--input", default="student.input", choices=INPUT_KEYS,
                    help="the params key saying how this model takes its pixels [student.input]")


def body(args, p: dict) -> None:
    import os
    from pathlib import Path

    from tinykd import params as P
    from tinykd import train
    from tinykd.atomic import write_bytes, write_json
    from tinykd.data.scaling import from_params
    from tinykd.model_io import ends_in_softmax, load_keras
    from tinykd.quantize import convert_int8, representative_indices, run_tflite
    from tinykd.teacher import is_tflite

    train.seed_everything(p["seed"])
    data, info = train.load_data(args.data)
    scaling = from_params(P.get(p, args.input), args.input, info["shape"][-1])
    if Path(args.model).is_file() and is_tflite(Path(args.model).read_bytes()[:8]):
        return supplied_int8(args, data, info, scaling)
    model = load_keras(args.model)
    x_train = data["train"][0]
    calib = x_train[representative_indices(len(x_train), p["quantize"]["representative_samples"], p["seed"])]
    blob = convert_int8(model, calib, scaling)
    xt, yt = data["test"]
    softmax = ends_in_softmax(model)
    float_scores = train.evaluate(model, xt, yt, probabilities=softmax, scaling=scaling)
    outputs, io = run_tflite(blob, xt, scaling=scaling)
    int8_scores = train.score(outputs, yt, probabilities=softmax)
    write_bytes(args.tflite, blob)
    metrics = {
        "float_accuracy": float_scores["accuracy"], "float_loss": float_scores["loss"],
        "int8_accuracy": int8_scores["accuracy"], "int8_loss": int8_scores["loss"],
        "accuracy_drop": float_scores["accuracy"] - int8_scores["accuracy"],
        "params": int(model.count_params()), "keras_bytes": os.path.getsize(args.model),
        "tflite_bytes": len(blob), "representative_samples": int(len(calib)), "test_samples": int(len(yt)),
        **io,
    }
    write_json(args.metrics, train.round_metrics(metrics))
    print(f"quantize {args.model}: float {float_scores['accuracy']:.4f} -> int8 {int8_scores['accuracy']:.4f}, "
          f"{len(blob)} bytes")


def main() -> None:
    stage(__doc__, arguments, body, sections=["quantize"])


if __name__ == "__main__":
    main()
