"""Instructions per inference on QEMU's B-L475E-IOT01A (`-icount shift=0`), arena bytes, flash
bytes of the whole firmware image and constant bytes read from flash per inference, side by
side for three builds of the default student (cnn_small) and the MLPerf Tiny ResNet-8:

- reference: the reference kernels, no fusion (`variants="reference", fuse=False`);
- previous:  the Cortex-M4 kernels, no residual fusion, int16-packed filters (the layout
             before issue 18);
- new:       the Cortex-M4 kernels with the export's defaults (residual fusion where it
             shrinks the arena, in-place buffers, filter layout "auto": int8 where it costs
             <= 12 instructions a byte);
- new-int16 / new-int8: the same with every filter int16 (fastest) / int8 (smallest flash);
- new-fused: the defaults but every residual ADD fused (the default fuses only where that
             makes the arena smaller).

    python -m bench.cm4_kernels [--models cnn_small resnet8] [--workdir build/bench/cm4]

Models come from the architecture registry with seeded random weights, batch-norm statistics
and calibration (speed does not depend on the values). Each build is exported with
`export_model`, built twice with the normal firmware: without profiling for the end-to-end
count (INFER's ticks) and with PROFILE_LAYERS=1 for the per-layer ticks
(TINYKD_LAYER_BEGIN/END reading SysTick). Under -icount shift=0 a guest instruction takes
1 ns, so a SysTick tick at the core clock is 1e9 / core_hz instructions (the per-layer
figures carry that granularity plus the hooks' own few instructions; the totals come from the
unprofiled image).
Flash is the image's .isr_vector + .text + .ARM.exidx + .data; weight bytes read come from
the kernels' loop structure (tinykd.export.cost). The device outputs of every build are
compared byte for byte.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO = Path(__file__).resolve().parents[1]
# name -> export_model keyword arguments
CONFIGS = {
    "reference": {"variants": "reference", "fuse": False},
    "previous": {"variants": "auto", "fuse": False, "layout": "int16"},
    "new": {"variants": "auto"},
    "new-int16": {"variants": "auto", "layout": "int16"},
    "new-int8": {"variants": "auto", "layout": "int8"},
    "new-fused": {"variants": "auto", "fuse": True},
}


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


def flash_bytes(elf: Path) -> int:
    from tinykd.device import firmware as fw

    sizes = fw.section_sizes(elf)
    return sum(sizes.get(k, 0) for k in fw.SECTIONS["flash"])


def measure(arch: str, work: Path, jobs: int) -> dict:
    import numpy as np

    from tinykd.device import firmware as fw
    from tinykd.export import export_model, load_program
    from tinykd.export.cost import program_weight_reads, weight_reads

    blob = model_blob(arch, work / "models")
    image = np.random.default_rng(1).integers(-128, 128, 32 * 32 * 3, dtype=np.int8).tobytes()
    out = {}
    for name, kw in CONFIGS.items():
        mdir = work / arch / name / "model"
        info = export_model(blob, mdir, **kw)
        prog = load_program(blob, **kw)
        elf = fw.make(mdir, work / arch / name / "fw", jobs=jobs)
        plain = run_device(elf, image, profile=False)
        prof = run_device(fw.make(mdir, work / arch / name / "fw_prof", profile_layers=True, jobs=jobs),
                          image, profile=True)
        if prof["output"] != plain["output"]:
            raise SystemExit(f"error: {arch}/{name}: profiled and plain images disagree")
        out[name] = {"info": info, "instructions": plain["instructions"], "layers": prof["layers"],
                     "output": plain["output"], "flash": flash_bytes(elf), "reads": program_weight_reads(prog),
                     "layer_reads": [weight_reads(layer) for layer in prog.layers]}
    return out


def report(arch: str, r: dict) -> list[str]:
    new = r["new"]
    info = new["info"]
    peak = info["arena_peak_layer"]
    same = all(v["output"] == new["output"] for v in r.values())
    lines = [f"\n## {arch} (new build): {info['macs']:,} MACs, {info['num_layers']} layers, arena "
             f"{info['arena_bytes']:,} B, peak at layer {peak} ({info['layers'][peak]['op']})",
             f"device outputs identical across {', '.join(r)}: {'yes' if same else 'NO'}",
             *(f"filter layout: {n}" for n in info["filter_layouts"]),
             "",
             f"{'#':>3} {'op':<12} {'kernel':<28} {'MACs':>10} {'instr':>11} {'MAC/instr':>9} {'share':>6} "
             f"{'weights read B':>14} filter"]
    total = sum(new["layers"]) or 1.0
    for i, layer in enumerate(info["layers"]):
        ci = new["layers"][i]
        mpi = f"{layer['macs'] / ci:9.2f}" if layer["macs"] and ci else f"{'':>9}"
        lines.append(f"{i:>3} {layer['op']:<12} {layer['kernel']:<28} {layer['macs']:>10,} {ci:>11,.0f} "
                     f"{mpi} {100 * ci / total:5.1f}% {new['layer_reads'][i]:>14,} {layer['filter_layout'] or ''}")
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", default=["cnn_small", "resnet8"])
    ap.add_argument("--workdir", type=Path, default=REPO / "build" / "bench" / "cm4")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = ap.parse_args(argv)
    results = {arch: measure(arch, args.workdir, args.jobs) for arch in args.models}
    from tinykd.device.board import load as load_board

    print(f"QEMU {load_board().qemu_machine} -icount shift=0 (1 instruction = 1 ns); flash: whole firmware image\n")
    print(f"{'model':<10} {'build':<10} {'instructions':>13} {'MAC/instr':>9} {'arena B':>9} {'flash B':>9} "
          f"{'weights read B':>14}")
    for arch, r in results.items():
        macs = r["reference"]["info"]["macs"]
        for name, v in r.items():
            print(f"{arch:<10} {name:<10} {v['instructions']:>13,.0f} {macs / v['instructions']:>9.3f} "
                  f"{v['info']['arena_bytes']:>9,} {v['flash']:>9,} {v['reads']:>14,}")
    for arch, r in results.items():
        print("\n".join(report(arch, r)))
    if args.json:
        slim = {a: {k: {"instructions": v["instructions"], "layers": v["layers"], "macs": v["info"]["macs"],
                        "arena_bytes": v["info"]["arena_bytes"], "flash_bytes": v["flash"],
                        "weight_bytes_read": v["reads"],
                        "kernels": [layer["kernel"] for layer in v["info"]["layers"]]} for k, v in r.items()}
                for a, r in results.items()}
        args.json.write_text(json.dumps(slim, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
