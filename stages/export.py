"""Stage export@<model>: a deployed model's int8 .tflite -> C (build/<...>/model/). A model that
does not fit the board stops here with what is over; the footprint stage reports all three."""
from _common import stage


def arguments(ap) -> None:
    ap.add_argument("--model", required=True, help="int8 .tflite to export")
    ap.add_argument("--name", default="student", help="what the model is (student, baseline), for messages")
    ap.add_argument("--outdir", required=True, help="folder for the generated C")


def body(args, p: dict) -> None:
    from pathlib import Path

    from tinykd import params as P
    from tinykd.errors import ExportError
    from tinykd.export import export_model
    from tinykd.export.footprint import board, model_footprint, require_fit

    brd = board(P.get(p, "firmware.board"))
    if not Path(args.model).is_file():
        raise ExportError(f"{args.name} model {args.model!r} does not exist")
    blob = Path(args.model).read_bytes()
    require_fit(args.name, model_footprint(blob, brd), brd)
    info = export_model(blob, args.outdir)
    print(f"export {args.name}: {info['num_layers']} layers -> {args.outdir}")


def main() -> None:
    stage(__doc__, arguments, body, sections=["firmware"])


if __name__ == "__main__":
    main()
