"""Instructions per inference on QEMU's B-L475E-IOT01A (`-icount shift=0`): reference kernels
vs the Cortex-M4 DSP kernels, for the default student (cnn_small) and the MLPerf Tiny ResNet-8,
with MACs per instruction and a per-layer breakdown.

    python -m bench.cm4_kernels [--models cnn_small resnet8] [--workdir build/bench/cm4]

Models come from the architecture registry with seeded random weights, batch-norm statistics
and calibration (speed does not depend on the values). Each (model, kernel set) is exported
with `tinykd export --kernels reference|auto`, built twice with the normal firmware: without
profiling for the end-to-end count (INFER's ticks) and with PROFILE_LAYERS=1 for the per-layer
ticks (TINYKD_LAYER_BEGIN/END reading SysTick). Under -icount shift=0 a guest instruction
takes 1 ns, so a SysTick tick at 80 MHz is 12.5 instructions (the per-layer figures carry that
granularity plus the hooks' own few instructions; the totals come from the unprofiled image).
The device outputs of both kernel sets are compared byte for byte.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
SETS = ("reference", "auto")


def model_blob(arch: str, cache: Path) -> bytes:
    path = cache / f"{arch}_seed0_int8.tflite"
    if path.is_file():
        return path.read_bytes()
    import keras
    import numpy as np

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
    calib = rng.integers(0, 256, (32, 32, 32, 3), dtype=np.uint8)
    blob = convert_int8(model, calib)
    cache.mkdir(parents=True, exist_ok=True)
    path.write_bytes(blob)
    return blob


def run_device(elf: Path, image: bytes, profile: bool) -> dict:
    from tinykd.device.protocol import Link
    from tinykd.device.qemu import QemuBoard
    from tinykd.device.serial_port import open_port

    with QemuBoard(elf) as board:
        port = open_port(board.url, 115200)
        try:
            link = Link(port, timeout_s=120.0, retries=1)
            hello = link.wait_ready(30.0)
            if not hello.emulated:
                raise SystemExit("error: expected QEMU (SysTick timer); instruction counts need -icount")
            res = link.infer(image)
            layers = link.profile() if profile else []
        finally:
            port.close()
    unit = hello.ticks_to_units
    return {"instructions": unit(res.ticks), "output": res.output, "layers": [unit(t) for t in layers]}


def measure(arch: str, work: Path, jobs: int) -> dict:
    import numpy as np

    from tinykd.device import firmware as fw
    from tinykd.export import export_model

    blob = model_blob(arch, work / "models")
    image = np.random.default_rng(1).integers(-128, 128, 32 * 32 * 3, dtype=np.int8).tobytes()
    out = {}
    for kset in SETS:
        mdir = work / arch / kset / "model"
        info = export_model(blob, mdir, variants=kset)
        plain = run_device(fw.make(mdir, work / arch / kset / "fw", jobs=jobs), image, profile=False)
        prof = run_device(fw.make(mdir, work / arch / kset / "fw_prof", profile_layers=True, jobs=jobs),
                          image, profile=True)
        if prof["output"] != plain["output"]:
            raise SystemExit(f"error: {arch}/{kset}: profiled and plain images disagree")
        out[kset] = {"info": info, "instructions": plain["instructions"], "layers": prof["layers"],
                     "output": plain["output"]}
    return out


def report(arch: str, r: dict) -> list[str]:
    ref, cm4 = r["reference"], r["auto"]
    macs = ref["info"]["macs"]
    lines = [f"\n## {arch}: {macs:,} MACs, {ref['info']['num_layers']} layers, arena "
             f"{ref['info']['arena_bytes']:,} B (reference) / {cm4['info']['arena_bytes']:,} B (cortex-m4)",
             f"device outputs identical (reference vs cortex-m4 kernels): "
             f"{'yes' if ref['output'] == cm4['output'] else 'NO'}",
             "",
             f"{'#':>3} {'op':<18} {'cortex-m4 kernel':<28} {'MACs':>10} {'ref instr':>12} {'cm4 instr':>11} "
             f"{'MAC/instr':>9} {'share':>6}"]
    total_cm4_layers = sum(cm4["layers"]) or 1.0
    for i, layer in enumerate(cm4["info"]["layers"]):
        ri, ci = ref["layers"][i], cm4["layers"][i]
        mpi = f"{layer['macs'] / ci:9.2f}" if layer["macs"] and ci else f"{'':>9}"
        lines.append(f"{i:>3} {layer['op']:<18} {layer['kernel']:<28} {layer['macs']:>10,} {ri:>12,.0f} {ci:>11,.0f} "
                     f"{mpi} {100 * ci / total_cm4_layers:5.1f}%")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["cnn_small", "resnet8"])
    ap.add_argument("--workdir", type=Path, default=REPO / "build" / "bench" / "cm4")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = ap.parse_args(argv)
    results = {arch: measure(arch, args.workdir, args.jobs) for arch in args.models}
    print("Instructions per inference, QEMU b-l475e-iot01a -icount shift=0 (1 instruction = 1 ns)\n")
    print(f"{'model':<10} {'MACs':>11} {'reference':>13} {'cortex-m4':>12} {'speed-up':>8} "
          f"{'MAC/instr ref':>13} {'MAC/instr cm4':>13}")
    for arch, r in results.items():
        macs = r["reference"]["info"]["macs"]
        ri, ci = r["reference"]["instructions"], r["auto"]["instructions"]
        print(f"{arch:<10} {macs:>11,} {ri:>13,.0f} {ci:>12,.0f} {ri / ci:>7.2f}x "
              f"{macs / ri:>13.3f} {macs / ci:>13.3f}")
    for arch, r in results.items():
        print("\n".join(report(arch, r)))
    if args.json:
        slim = {a: {k: {"instructions": v["instructions"], "layers": v["layers"], "macs": v["info"]["macs"],
                        "kernels": [layer["kernel"] for layer in v["info"]["layers"]]} for k, v in r.items()}
                for a, r in results.items()}
        args.json.write_text(json.dumps(slim, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
