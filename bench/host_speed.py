"""Stage speed: host inference speed of the teacher vs the student ("the student is N x faster"),
float32 and int8 .tflite on LiteRT, one thread, one image per call.

Timings depend on the machine and its load, so metrics/speed.json is the one metrics file that
is not byte-identical between runs."""
import argparse

from _common import run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="data")
    ap.add_argument("--teacher", required=True, help="teacher .keras (timed as a float32 .tflite)")
    ap.add_argument("--student", required=True, help="student .keras (timed as a float32 .tflite)")
    ap.add_argument("--teacher-tflite", required=True, help="teacher int8 .tflite")
    ap.add_argument("--student-tflite", required=True, help="student int8 .tflite")
    ap.add_argument("--samples", type=int, default=200, help="test images timed per model")
    ap.add_argument("--repeats", type=int, default=3, help="passes over the images; the median counts")
    ap.add_argument("--metrics", required=True)
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
        x, _ = load_split(Path(args.data), "test")
        report = speed_report({"teacher": args.teacher, "student": args.student},
                              {"teacher": args.teacher_tflite, "student": args.student_tflite},
                              x[: args.samples], args.repeats)
        write_json(args.metrics, report)
        print(f"speed: the student is {report['speedup_float']:.1f}x faster than the teacher in float32, "
              f"{report['speedup_int8']:.1f}x in int8 (host, LiteRT, 1 thread)")

    run(body)


if __name__ == "__main__":
    main()
