"""Host inference speed of the teacher vs the student ("the student is N x faster"), float32 and
int8 .tflite on LiteRT, one thread, one image per call:

    python -m bench.host_speed [--json out.json]     # after `make repro` (reads data/ and models/)

A benchmark, not a pipeline stage: host timings change with the machine and its load, and a
stage's outputs are pinned by md5 in dvc.lock, which must stay identical between reruns."""
import argparse
import sys


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="data")
    ap.add_argument("--teacher", default="models/teacher.keras", help="teacher .keras (timed as a float32 .tflite)")
    ap.add_argument("--student", default="models/student.keras", help="student .keras (timed as a float32 .tflite)")
    ap.add_argument("--teacher-tflite", default="models/teacher_int8.tflite", help="teacher int8 .tflite")
    ap.add_argument("--student-tflite", default="models/student_int8.tflite", help="student int8 .tflite")
    ap.add_argument("--samples", type=int, default=200, help="test images timed per model")
    ap.add_argument("--repeats", type=int, default=3, help="passes over the images; the median counts")
    ap.add_argument("--json", dest="metrics", default=None, help="also write the figures to this .json")
    args = ap.parse_args()

    def body():
        from pathlib import Path

        from tinykd.atomic import write_json
        from tinykd.compress.metrics import speed_report
        from tinykd.data import load_split
        from tinykd.errors import ParamError

        if args.samples < 1:
            raise ParamError("--samples", args.samples, "an integer >= 1")
        if args.repeats < 1:
            raise ParamError("--repeats", args.repeats, "an integer >= 1")
        for path in (args.teacher, args.student, args.teacher_tflite, args.student_tflite):
            if not Path(path).is_file():
                raise ParamError("model", path, "an existing file (run `make repro` first)")
        x, _ = load_split(Path(args.data), "test")
        report = speed_report({"teacher": args.teacher, "student": args.student},
                              {"teacher": args.teacher_tflite, "student": args.student_tflite},
                              x[: args.samples], args.repeats)
        if args.metrics:
            write_json(args.metrics, report)
        for model in ("teacher", "student"):
            print(f"{model}: {report[model + '_float_ms']:.3f} ms float32, "
                  f"{report[model + '_int8_ms']:.3f} ms int8 per image")
        print(f"speed: the student is {report['speedup_float']:.1f}x faster than the teacher in float32, "
              f"{report['speedup_int8']:.1f}x in int8 (host, LiteRT, 1 thread)")

    from tinykd.errors import TinykdError

    try:
        body()
    except TinykdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
