"""MLPerf Tiny ic01 performance mode on QEMU's B-L475E-IOT01A, over the benchmark's own protocol.

    python -m bench.mlperf_ic01 [--arch resnet8] [--workdir build/bench/mlperf] [--images 5]

The architecture (default: the benchmark's ResNet-8) gets seeded random weights and calibration
(speed does not depend on the values), is converted to full int8, exported with `tinykd export`
and built with PROTOCOL=mlperf. tinykd's runner then does what an MLPerf Tiny runner does in
performance mode - 5 windows of `infer 20 5` - and the figures come from the board's m-lap-us
timestamps. Under `-icount shift=0` those are virtual microseconds: one guest instruction per
nanosecond, so microseconds x 1000 = instructions. Each window's m-results vector is checked
against the host int8 reference (LiteRT reference kernels) on the same image.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]


def tflite_for(arch: str, cache: Path) -> Path:
    path = cache / f"{arch}_random_int8.tflite"
    if path.is_file():
        return path
    import keras
    import numpy as np

    from tinykd import models
    from tinykd.quantize import convert_int8

    keras.utils.set_random_seed(0)
    model = models.build(arch, (32, 32, 3), 10)
    calibration = np.random.default_rng(1).integers(0, 256, (64, 32, 32, 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(convert_int8(model, calibration))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="resnet8")
    ap.add_argument("--workdir", default=str(REPO / "build" / "bench" / "mlperf"))
    ap.add_argument("--images", type=int, default=5, help="windows (one image each) [5]")
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--warmups", type=int, default=5)
    args = ap.parse_args(argv)

    import json

    import numpy as np
    import serial

    from tinykd.cli import main as tinykd_main
    from tinykd.device import firmware
    from tinykd.mlperf import runner
    from tinykd.mlperf.cli import qemu_board
    from tinykd.mlperf.client import Device
    from tinykd.mlperf.datasets import Sample
    from tinykd.mlperf.reference import HostReference

    work = Path(args.workdir)
    tflite = tflite_for(args.arch, work)
    model_dir = work / f"{args.arch}_model"
    if tinykd_main(["export", str(tflite), str(model_dir)]) != 0:
        return 1
    macs = json.loads((model_dir / "model.json").read_text()).get("macs")
    elf = firmware.make(model_dir, work / f"{args.arch}_fw", protocol="mlperf")
    ref = HostReference(tflite)
    rng = np.random.default_rng(7)
    samples = [Sample(f"random{i}", rng.integers(0, 256, 3072, dtype=np.uint8).tobytes(), None)
               for i in range(args.images)]

    with qemu_board(elf) as board:
        link = serial.serial_for_url(board.url, timeout=0.05)
        try:
            dev = Device(link, timeout_s=30)
            device = runner.describe(dev)
            result = runner.run_performance(dev, samples, args.images, args.iterations, args.warmups,
                                            infer_timeout_s=120)
        finally:
            link.close()

    same = sum(w["results"] == ref.results(samples[i].pixels) for i, w in enumerate(result["windows"]))
    us = statistics.median([w["elapsed_us"] / w["iterations"] for w in result["windows"]])
    print(f"model      : {args.arch} (sha256 {hashlib.sha256(tflite.read_bytes()).hexdigest()[:16]}...), "
          f"{macs} MACs per inference" if macs else f"model      : {args.arch}")
    print(f"device     : {device['name']}; {device['profile']}; model {device['model']}; "
          f"input {device['info'].get('input')}")
    for w in result["windows"]:
        print(f"window {w['window']}   : infer {w['iterations']} {w['warmups']}: {w['elapsed_us']} us "
              f"= {w['throughput_inf_per_s']:.3f} inf./s")
    print(f"median     : {result['median_throughput_inf_per_s']:.3f} inf./s, "
          f"{result['median_latency_ms']:.3f} ms per inference (QEMU virtual time, -icount shift=0)")
    print(f"instructions per inference: {us * 1000:,.0f}" +
          (f"; MACs per instruction: {macs / (us * 1000):.3f}" if macs else ""))
    print(f"m-results equal to the host int8 reference: {same} of {len(result['windows'])} windows")
    return 0 if same == len(result["windows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
