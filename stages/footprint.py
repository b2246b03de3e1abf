"""Stage footprint: flash, arena (RAM) and MACs of teacher, baseline and student against the board
(metrics/footprint.json). Only reported here: a model that must run on the board is refused by its
own export stage."""
import argparse

from _common import run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--student", required=True, help="int8 .tflite")
    ap.add_argument("--teacher", required=True, help="int8 .tflite")
    ap.add_argument("--baseline", required=True, help="int8 .tflite")
    ap.add_argument("--out", required=True, help="footprint metrics .json to write")
    args = ap.parse_args()

    def body():
        from pathlib import Path

        from tinykd import params as P
        from tinykd.atomic import write_json
        from tinykd.errors import ExportError
        from tinykd.export.footprint import board, report

        p = P.load(args.params, sections=["firmware"])
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

    run(body)


if __name__ == "__main__":
    main()
