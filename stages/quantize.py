"""Stage quantize: full-int8 post-training quantization of one model; float vs int8 metrics."""
import argparse

from _common import run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--data", default="data")
    ap.add_argument("--model", required=True, help=".keras model to quantize")
    ap.add_argument("--tflite", required=True, help="int8 .tflite to write")
    ap.add_argument("--metrics", required=True)
    args = ap.parse_args()

    def body():
        import os

        from tinykd import params as P
        from tinykd.atomic import write_bytes, write_json

        p = P.load(args.params, sections=["quantize"])
        from tinykd import train
        from tinykd.model_io import ends_in_softmax, load_keras
        from tinykd.quantize import convert_int8, representative_indices, run_tflite

        train.seed_everything(p["seed"])
        data, info = train.load_data(args.data)
        model = load_keras(args.model)
        x_train = data["train"][0]
        calib = x_train[representative_indices(len(x_train), p["quantize"]["representative_samples"], p["seed"])]
        blob = convert_int8(model, calib)
        xt, yt = data["test"]
        softmax = ends_in_softmax(model)
        float_scores = train.evaluate(model, xt, yt, probabilities=softmax)
        outputs, io = run_tflite(blob, xt)
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

    run(body)


if __name__ == "__main__":
    main()
