"""Stage footprint: flash, arena (RAM) and MACs of teacher, baseline and student against the board
(metrics/footprint.json). Only reported here: a model that must run on the board is refused by its
own export stage."""
from _common import stage


def arguments(ap) -> None:
    ap.add_argument("--student", required=True, help="int8 .tflite")
    ap.add_argument("--teacher", required=True, help="int8 .tflite")
    ap.add_argument("--baseline", required=True, help="int8 .tflite")
    ap.add_argument("--out", required=True, help="footprint metrics .json to write")


def body(args, p: dict) -> None:
    from pathlib import Path

    from tinykd import params as P
    from tinykd.atomic import write_json
    from tinykd.errors import ExportError
    from tinykd.export.footprint import board, report

    brd = board(P.get(p, "firmware.board"))
    blobs = {}
    for name, path in (("student", args.student), ("teacher", args.teacher), ("baseline", args.baseline)):
        if not Path(path).is_file():
            raise ExportError(f"{name} model {path!r} does not exist")
        blobs[name] = Path(path).read_bytes()
    fp = report(blobs, brd)
    write_json(args.out, fp)
    for name, m in sorted(fp["models"].items()):
        print(f"footprint {name}: {m['weight_bytes']} weight bytes, {m['arena_bytes']} arena bytes, "
              f"{m['macs']} MACs, fits {brd.name}: {m['fits']}")


def main() -> None:
    stage(__doc__, arguments, body, sections=["firmware"])


if __name__ == "__main__":
    main()
