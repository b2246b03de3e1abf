"""Device speed under QEMU's B-L475E-IOT01A (`-icount shift=0`): instructions per inference,
MACs per instruction and the evaluation throughput over the UART link and over the semihosting
bulk path, for the default student (params.yaml student.arch) and the MLPerf Tiny ResNet-8.

    python -m bench.device_speed [--models cnn_small resnet8] [--images 20] [--bulk-images 10000]
                                 [--data data] [--jobs N] [--workdir build/bench/device]

Models use seeded random weights and batch-norm statistics (speed does not depend on the
values) unless --tflite ARCH=PATH gives a trained one. Each is exported with `tinykd export`,
built with the normal firmware (firmware/Makefile) and flashed to a QEMU board; the host then
sends --images random CIFAR-shaped images through the tinykd protocol, checking each output
against TFLite Micro's reference interpreter. Then the bulk path (what `evaluate` uses on QEMU):
--bulk-images test images (the first of --data's test.npz, default data/, else random ones)
through tinykd-semihost.elf on --jobs QEMU instances (default one per core) while the host
reference checks every output; wall time from the first QEMU start to the last output checked.
Its tick counts must equal the UART ones for the images both paths ran.

The cost of chunking (protocol version 2 sends an input in acknowledged LOAD frames of at most
256 bytes, then INFER): on the same clean link the --images are sent again with chunks of 256,
128, 64 and 32 bytes, and the per-image time fitted as t(c) = t_inf + k / c; the cost at the
default 256 is (k / 256) / t_inf, the time the chunking adds to an image over one unbounded frame.

Figures: with -icount shift=0 one guest instruction is 1 ns of virtual time and SysTick runs at
the core clock (board.yaml core_hz, reported in HELLO), so one tick = 1e9 / core_hz instructions.
The firmware restarts SysTick's tick grid at the start of each inference, so a count is the same
on every run. "ms" at the core clock treats one instruction as one cycle (a lower bound for the
real chip, whose loads and branches take extra cycles). Images/s is wall time on this host,
dominated by QEMU's byte-at-a-time UART model (about 0.1 ms per byte), not by the inference.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]


def seeded_tflite(arch: str, cache: Path) -> Path:
    path = cache / f"{arch}_seed0_int8.tflite"
    if path.is_file():
        return path
    import keras

    from tinykd.models import build
    from tinykd.quantize import convert_int8

    keras.utils.set_random_seed(0)
    model = build(arch, (32, 32, 3), 10)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            g, b, m, v = (w.numpy() for w in layer.weights)
            layer.set_weights([rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.2, b.shape),
                               rng.normal(0, 0.2, m.shape), rng.uniform(0.5, 2.0, v.shape)])
    blob = convert_int8(model, rng.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8))
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return path


def bulk_inputs(data: Path | None, n: int, ref, rng) -> tuple[np.ndarray, str]:
    from tinykd.data.scaling import quantize_pixels

    shape = tuple(ref.inp["shape"])[1:]
    if data is not None and (data / "test.npz").is_file():
        with np.load(data / "test.npz") as z:
            x = z["x"][:n]
        if x.shape[1:] == shape:
            return quantize_pixels(x, ref.input_scale, ref.input_zero_point), f"{len(x)} test images of {data}"
    return rng.integers(-128, 128, (n, *shape), dtype=np.int8), f"{n} random images"


def measure_bulk(elf: Path, ref, inputs: np.ndarray, jobs: int | None) -> dict:
    from tinykd.device import bulk

    host, work = bulk.reference_worker(ref, inputs)

    t0 = time.monotonic()
    hello, records = bulk.run(elf, inputs, jobs=jobs, work=work, timeout_s=300)
    qemu_s = time.monotonic() - t0
    while work():
        pass
    wall = time.monotonic() - t0
    exact = sum(np.array_equal(np.frombuffer(o, np.int8), h) for (o, _), h in zip(records, host))
    return {"n": len(inputs), "wall_s": wall, "qemu_s": qemu_s, "images_per_s": len(inputs) / wall,
            "bit_exact": exact / len(inputs), "exact": exact, "records": records,
            "jobs": max(1, min(jobs or bulk.default_jobs(), len(inputs))),
            "guest_instructions": sum(hello.ticks_to_units(t) for _, t in records)}


CHUNK_SIZES = (256, 128, 64, 32)


def chunk_cost(link, xs: list[np.ndarray], sizes=CHUNK_SIZES) -> dict:
    """Seconds per image at each chunk size on this (clean) link, and the fitted cost of the
    default size over an unbounded frame (see the module docstring)."""
    per_image = {}
    for c in sizes:
        link.chunk_bytes = link._chunk = c
        t0 = time.monotonic()
        for x in xs:
            link.infer(x.tobytes())
        per_image[c] = (time.monotonic() - t0) / len(xs)
    inv = np.array([1.0 / c for c in sizes])
    t = np.array([per_image[c] for c in sizes])
    k, t_inf = np.polyfit(inv, t, 1)
    link.chunk_bytes = link._chunk = sizes[0]
    return {"per_image_s": per_image, "t_inf_s": float(t_inf), "k": float(k),
            "cost_256": float(k / 256 / t_inf) if t_inf > 0 else float("nan")}


def measure(tflite: Path, work: Path, images: int, bulk_images: int, data: Path | None, jobs: int | None) -> dict:
    from tinykd.cli import main as tinykd
    from tinykd.device import firmware as fw
    from tinykd.device.evaluate import HostReference
    from tinykd.device.protocol import Link
    from tinykd.device.qemu import QemuBoard
    from tinykd.device.serial_port import open_port

    model_dir = work / "model"
    if tinykd(["export", str(tflite), str(model_dir)]) != 0:
        raise SystemExit(f"export of {tflite} failed")
    elf = fw.make(model_dir, work / "fw")
    mem = fw.memory_report(elf)
    ref = HostReference(tflite)
    rng = np.random.default_rng(1)
    shape = tuple(ref.inp["shape"])
    xs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(images)]
    with QemuBoard(elf) as board:
        port = open_port(board.url, 115200)
        link = Link(port, timeout_s=120.0, retries=1)
        hello = link.wait_ready(30)
        t0 = time.monotonic()
        results = [link.infer(x.tobytes()) for x in xs]
        wall = time.monotonic() - t0
        resends = link.stats.chunk_resends + link.stats.retries
        chunking = chunk_cost(link, xs)
        port.close()
    exact = sum(np.array_equal(np.frombuffer(r.output, np.int8), ref.run(x)) for r, x in zip(results, xs))
    instr = np.array([hello.ticks_to_units(r.ticks) for r in results])
    med = float(np.median(instr))
    row = {"macs": hello.macs, "instructions": med, "spread": float(instr.max() - instr.min()),
           "macs_per_instruction": hello.macs / med, "ms": med / hello.core_hz * 1e3,
           "core_hz": hello.core_hz,
           "images_per_s": images / wall, "bit_exact": f"{exact}/{images}", "input_bytes": hello.input_bytes,
           "arena": hello.arena_bytes, "flash": mem["flash_used"], "sram1": mem["sram1_used"],
           "chunking": chunking, "resends": resends}
    if bulk_images > 0:
        semi = elf.with_name("tinykd-semihost.elf")
        same = [(r.output, r.ticks) for r in results]
        semi_uart = measure_bulk(semi, ref, np.stack(xs), jobs)["records"]
        if semi_uart != same:
            raise SystemExit(f"{tflite.name}: the semihost path's outputs/ticks differ from the UART path's")
        inputs, what = bulk_inputs(data, bulk_images, ref, rng)
        print(f"  bulk: {what} ...", flush=True)
        row["bulk"] = measure_bulk(semi, ref, inputs, jobs)
    return row


def main(argv: list[str] | None = None) -> int:
    import yaml

    default_student = yaml.safe_load((REPO / "params.yaml").read_text())["student"]["arch"]
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=[default_student, "resnet8"])
    ap.add_argument("--tflite", nargs="*", default=[], metavar="ARCH=PATH", help="trained int8 models to use")
    ap.add_argument("--images", type=int, default=20, help="images over the UART")
    ap.add_argument("--bulk-images", type=int, default=10_000, help="images over semihosting (0: skip)")
    ap.add_argument("--data", default=str(REPO / "data"), help="dataset folder whose test.npz the bulk run uses")
    ap.add_argument("--jobs", type=int, default=None, help="QEMU instances for the bulk run [one per core]")
    ap.add_argument("--workdir", default=str(REPO / "build" / "bench" / "device"))
    args = ap.parse_args(argv)
    given = dict(item.split("=", 1) for item in args.tflite)
    work = Path(args.workdir)
    rows = []
    for arch in args.models:
        tfl = Path(given[arch]) if arch in given else seeded_tflite(arch, work / "models")
        print(f"[{arch}] export, build, QEMU ({args.images} images) ...", flush=True)
        rows.append((arch, measure(tfl, work / arch, args.images, args.bulk_images, Path(args.data), args.jobs)))
    print()
    from tinykd.device.board import load as load_board
    from tinykd.device.latency import mhz

    hz = rows[0][1]["core_hz"] if rows else load_board().core_hz
    print(f"QEMU {load_board().qemu_machine}, -icount shift=0 (1 instruction = 1 ns; SysTick tick = "
          f"{1e9 / hz:g} instructions)")
    head = (f"{'model':<10} {'MACs':>11} {'instr/inference':>16} {'MACs/instr':>10} {'ms@' + mhz(hz):>9} "
            f"{'link img/s':>10} {'bit-exact':>9} {'flash B':>8} {'SRAM1 B':>8}")
    print(head)
    print("-" * len(head))
    for arch, r in rows:
        print(f"{arch:<10} {r['macs']:>11,} {r['instructions']:>16,.0f} {r['macs_per_instruction']:>10.3f} "
              f"{r['ms']:>9.2f} {r['images_per_s']:>10.2f} {r['bit_exact']:>9} {r['flash']:>8,} "
              f"{r['sram1']:>8,}")
    print("\nlink img/s: wall-clock images per second through QEMU's UART model "
          f"({rows[0][1]['input_bytes']} input bytes per image); instruction counts vary by at most "
          f"{max(r['spread'] for _, r in rows):.1f} across images (data-dependent branches).")
    print("\nchunking cost on the clean link (seconds per image by LOAD chunk size; fit t = t_inf + k/c):")
    head = (f"{'model':<10} " + " ".join(f"{f'{c} B':>8}" for c in CHUNK_SIZES)
            + f" {'t_inf':>8} {'cost@256':>9} {'resends':>8}")
    print(head)
    print("-" * len(head))
    for arch, r in rows:
        ch = r["chunking"]
        print(f"{arch:<10} " + " ".join(f"{ch['per_image_s'][c]:>8.4f}" for c in CHUNK_SIZES)
              + f" {ch['t_inf_s']:>8.4f} {ch['cost_256']:>9.1%} {r['resends']:>8}")
    print("cost@256: the time 256-byte chunks add to an image over one frame of any size (target < 10 %).")
    bulk_rows = [(a, r["bulk"]) for a, r in rows if "bulk" in r]
    if bulk_rows:
        print(f"\nsemihosting bulk path (evaluate's QEMU default), host reference checking every output, "
              f"{os.cpu_count()} cores:")
        head = (f"{'model':<10} {'images':>7} {'QEMUs':>5} {'wall s':>8} {'wall min':>8} {'img/s':>8} "
                f"{'guest MIPS':>10} {'bit-exact':>10}")
        print(head)
        print("-" * len(head))
        for arch, b in bulk_rows:
            print(f"{arch:<10} {b['n']:>7} {b['jobs']:>5} {b['wall_s']:>8.1f} {b['wall_s'] / 60:>8.2f} "
                  f"{b['images_per_s']:>8.1f} {b['guest_instructions'] / b['qemu_s'] / 1e6:>10.0f} "
                  f"{b['bit_exact']:>10.6f}")
        print("guest MIPS: emulated instructions per second of QEMU wall time, all instances together.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
