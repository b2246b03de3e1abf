"""Stage compress: one compression method (ptq, qat, prune_unstructured, prune_structured, ppqat)
applied to the distilled student; writes its int8 .tflite and metrics."""
from _common import stage


def arguments(ap) -> None:
    ap.add_argument("--data", default="data")
    ap.add_argument("--model", required=True, help="trained float .keras model to compress")
    ap.add_argument("--method", required=True, help="ptq | qat | prune_unstructured | prune_structured | ppqat")
    ap.add_argument("--tflite", required=True, help="int8 .tflite to write")
    ap.add_argument("--metrics", required=True)


def body(args, p: dict) -> None:
    from tinykd import params as P
    from tinykd.compress import METHODS
    from tinykd.errors import ParamError

    if args.method not in METHODS:
        raise ParamError("--method", args.method, "one of " + ", ".join(METHODS))
    from tinykd import train
    from tinykd.atomic import write_bytes, write_json
    from tinykd.compress import compress
    from tinykd.data.scaling import from_params
    from tinykd.model_io import load_keras

    train.seed_everything(p["seed"])
    data, info = train.load_data(args.data)
    scaling = from_params(P.get(p, "student.input"), "student.input", info["shape"][-1])
    model = load_keras(args.model)
    blob, metrics = compress(args.method, model, data, p, scaling=scaling)
    write_bytes(args.tflite, blob)
    write_json(args.metrics, metrics)
    print(f"compress {args.method}: float {metrics['float_accuracy']:.4f} -> int8 {metrics['int8_accuracy']:.4f}, "
          f"{metrics['gzip_bytes']} gzip bytes (x{metrics['compression_factor']:.2f}), "
          f"int8 weight sparsity {metrics['int8_weight_sparsity']:.3f}")


def main() -> None:
    stage(__doc__, arguments, body, sections=["quantize", "compress", "prune"])


if __name__ == "__main__":
    main()
