"""`tinykd mlperf`: run the MLPerf Tiny ic01 benchmark modes against a board or the QEMU board.

  tinykd mlperf performance --elf build/firmware/tinykd.elf --dataset data/test.npz
  tinykd mlperf accuracy --port /dev/ttyACM0 --dataset ~/eembc/datasets/ic01 --tflite models/student_int8.tflite
  tinykd mlperf dataset --dataset data/test.npz --out build/mlperf/ic01   # for the benchmark's runners

The firmware must be built with `firmware.protocol: mlperf` (make PROTOCOL=mlperf).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from ..errors import DeviceError, ParamError
from . import runner
from .client import Device
from .datasets import load_samples


def add_parser(sub) -> None:
    p = sub.add_parser("mlperf", help="MLPerf Tiny ic01 performance / accuracy run over the benchmark's UART protocol",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["performance", "accuracy", "dataset"],
                   help="benchmark mode, or `dataset`: write --dataset's first --limit images as an "
                        "ic01 folder (y_labels.csv + .bin) for the MLPerf Tiny / EEMBC runners")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--port", help="serial port or pyserial URL of the board (e.g. /dev/ttyACM0, "
                                      "socket://127.0.0.1:4444 for a QEMU you started)")
    where.add_argument("--elf", help="firmware image (built with PROTOCOL=mlperf) to run on a QEMU "
                                     "board started here, with -icount shift=0")
    p.add_argument("--dataset", default="data/test.npz",
                   help="ic01 folder (y_labels.csv + .bin), .npz (x uint8 NHWC, y) or image folder "
                        "[data/test.npz]")
    p.add_argument("--limit", type=int, default=200,
                   help="use the first N images, 0 = all [200, the size of the benchmark's ic01 "
                        "accuracy set]")
    p.add_argument("--out", default=None,
                   help="results folder [metrics/mlperf/<mode>; dataset: build/mlperf/ic01]")
    p.add_argument("--force", action="store_true",
                   help="replace --out even if it exists and was not written by tinykd")
    p.add_argument("--windows", type=int, default=5, help="performance windows [5]")
    p.add_argument("--iterations", type=int, default=20, help="timed inferences per window [20]")
    p.add_argument("--warmups", type=int, default=5, help="warm-up inferences per window [5]")
    p.add_argument("--tflite", default=None,
                   help="the deployed .tflite: compare every m-results vector with the host int8 "
                        "reference (accuracy mode)")
    p.add_argument("--params", default="params.yaml",
                   help="for student.input, the pixel scaling the firmware was built with (its INPUT_MEAN / "
                        "INPUT_STD), used by the --tflite reference; read when the file exists [params.yaml]")
    p.add_argument("--baud", type=int, default=115200, help="serial baud rate [115200]")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds allowed per inference before giving up [60]")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def _check(args) -> None:
    for key, value, low in (("--windows", args.windows, 1), ("--iterations", args.iterations, 1),
                            ("--warmups", args.warmups, 0), ("--baud", args.baud, 1)):
        if value < low:
            raise ParamError(key, value, f"an integer >= {low}")
    if args.limit < 0:
        raise ParamError("--limit", args.limit, "a positive integer, or 0 for all images")
    if args.timeout <= 0:
        raise ParamError("--timeout", args.timeout, "a positive number of seconds")


def qemu_board(elf: str | Path):
    """tinykd's QEMU board (tinykd.device.qemu) with `-icount shift=0,sleep=off`.

    QEMU's STM32L4 USART holds one received byte and does not request the next when the
    firmware reads it; on a busy host we saw an idle board take up to a SysTick wrap (0.21 s)
    per byte. With sleep=off virtual time skips idle periods instead of waiting them out in
    real time, which kept a 3072-byte load near a second. `infer` timestamps are unaffected:
    the board does not idle while it infers."""
    from ..device.qemu import QemuBoard

    return QemuBoard(elf, sleep=False)


@contextlib.contextmanager
def open_device(port: str | None, elf: str | None, baud: int, timeout_s: float = 10.0):
    """Yield (Device, virtual_time) for a port/URL, or for a QEMU board running `elf` (-icount
    sleep=off, see qemu_board)."""
    from ..device.connect import connect

    with connect(port or "", Path(elf) if elf is not None else None, baud=baud, sleep=False) as conn:
        yield Device(conn.port, timeout_s=timeout_s), elf is not None


def _scaling(params_path: Path):
    """student.input of params.yaml when there is one, else the default pixels / 255."""
    from .. import params as P
    from ..data.scaling import from_params

    if not params_path.is_file():
        return None
    return from_params(P.get(P.load(params_path, sections=["student"]), "student.input"), "student.input")


def _check_mapping(info: dict[str, str], reference) -> None:
    """Refuse a reference whose pixel tables are not the board's (when the board says)."""
    have = info.get("input-table")
    if have is not None and have != reference.table_hash:
        scaling = reference.scaling.describe() if reference.scaling else "pixels / 255"
        raise DeviceError(f"the board's pixel tables (input-table={have}) differ from the host reference's "
                          f"for student.input {scaling} (input-table={reference.table_hash}): pass --params "
                          "with the student.input the firmware was built with")


def _check_model(info: dict[str, str], tflite: str) -> None:
    """Refuse to compare against a reference the board is not running (when it says)."""
    import hashlib

    want = hashlib.sha256(Path(tflite).read_bytes()).hexdigest()
    have = info.get("model-sha256")
    if info.get("model-check") == "failed":
        raise DeviceError(f"the board refuses its model (sha256 {(have or '?')[:12]}...): tinykd_model_check() "
                          "failed at boot, a kernel needs more scratch than the export planned; export the model "
                          "again with this checkout and rebuild with PROTOCOL=mlperf")
    if have is not None and have != want:
        raise DeviceError(f"the board runs a different model (sha256 {have[:12]}...) than {tflite} "
                          f"({want[:12]}...): export that model, rebuild with PROTOCOL=mlperf and reflash")


def _out_dir(args) -> Path:
    return Path(args.out or ("build/mlperf/ic01" if args.mode == "dataset" else f"metrics/mlperf/{args.mode}"))


def run(args) -> int:
    _check(args)
    from ..atomic import check_output_dir

    check_output_dir(_out_dir(args), args.force)  # before reading the images or running the board
    samples = load_samples(args.dataset, args.limit or None)
    if args.mode == "dataset":
        from .datasets import write_ic01

        out = write_ic01(samples, _out_dir(args), force=args.force)
        print(f"wrote {len(samples)} images to {out} (y_labels.csv + .bin)")
        return 0
    if not args.port and not args.elf:
        raise ParamError("--port/--elf", None, "a serial port or URL (--port) or a firmware image "
                                               "to run on QEMU (--elf)")
    reference = None
    if args.tflite:
        from .reference import HostReference

        reference = HostReference(args.tflite, scaling=_scaling(Path(args.params)))
    progress = None if args.quiet else (lambda msg: print(msg, file=sys.stderr, flush=True))
    with open_device(args.port, args.elf, args.baud) as (dev, virtual):
        device = runner.describe(dev)
        if reference is not None:
            _check_model(device["info"], args.tflite)
            _check_mapping(device["info"], reference)
        if device["model"] != "ic01":
            print(f"warning: the device reports model {device['model']!r}, not ic01",
                  file=sys.stderr)
        if args.mode == "performance":
            result = runner.run_performance(dev, samples, args.windows, args.iterations,
                                            args.warmups, args.timeout, progress)
        else:
            result = runner.run_accuracy(dev, samples, reference, args.timeout, progress)
        transcript = dev.log
    result["device"] = device
    result["clock"] = runner.clock_description(virtual, device["info"])
    result["dataset"] = str(args.dataset)
    out = runner.write_results(_out_dir(args), result, transcript, force=args.force)
    print(runner.summary_text(result), end="")
    print(f"results: {out / 'results.json'}, {out / 'results.txt'}, {out / 'log.txt'}")
    return 0
