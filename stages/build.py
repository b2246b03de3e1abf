"""Stage build: the exported model (build/model) + protocol front-end + board support →
firmware image (.elf/.bin/.map) and its flash/RAM use against the board (metrics/firmware.json),
plus (firmware.protocol tinykd) tinykd-semihost.elf, the QEMU-only bulk-evaluation flavour: the same
objects with the semihosting front-end instead of the UART one. An image that overflows flash or
RAM stops here with the linker's numbers."""
from _common import stage


def arguments(ap) -> None:
    ap.add_argument("--firmware-src", default="firmware", help="firmware source folder (its Makefile)")
    ap.add_argument("--model-dir", required=True, help="export folder (model.h, sources.txt)")
    ap.add_argument("--out", required=True, help="folder for tinykd.elf/.bin/.map")
    ap.add_argument("--metrics", required=True, help="firmware metrics .json to write")


def body(args, p: dict) -> None:
    import shutil
    from pathlib import Path

    from tinykd import params as P
    from tinykd.atomic import atomic_dir, write_json
    from tinykd.device import firmware as fw

    baud, protocol = P.get(p, "firmware.baud"), P.get(p, "firmware.protocol")
    extra = {}
    if protocol == "mlperf":
        # The MLPerf front-end quantizes the benchmark's uint8 pixels itself: it needs the
        # student's pixel scaling, one table row per channel (firmware/app/mlperf_input.h).
        extra = fw.input_scaling_flags(P.get(p, "student.input"), Path(args.model_dir))
    board = P.get(p, "firmware.board")
    fw.check_options(baud, protocol, board, Path(args.firmware_src))
    out = Path(args.out)
    # A fixed staging folder (not a random temp name) keeps the .map reproducible and lets
    # make rebuild incrementally; the output folder is replaced only after a good link.
    staging = out.parent / f".{out.name}.staging"
    elf = fw.make(Path(args.model_dir), staging, baud=baud, protocol=protocol, extra=extra,
                  firmware_dir=Path(args.firmware_src), board=board)
    report = fw.memory_report(elf, board, Path(args.firmware_src))
    info = {
        "protocol": protocol,
        "baud": baud,
        "board": board,
        "model_sha256": fw.model_sha256(Path(args.model_dir)),
        "elf_sha256": fw.sha256_file(elf),
        "bin_sha256": fw.sha256_file(staging / "tinykd.bin"),
    }
    if extra:
        info.update(input_mean=extra["INPUT_MEAN"], input_std=extra["INPUT_STD"])
    names = ["tinykd.elf", "tinykd.bin", "tinykd.map"]
    semihost = staging / "tinykd-semihost.elf"
    if protocol == "tinykd":
        info["semihost_elf_sha256"] = fw.sha256_file(semihost)
        names += ["tinykd-semihost.elf", "tinykd-semihost.map"]
    with atomic_dir(out) as tmp:
        root = Path(args.firmware_src).resolve().parent  # the Makefile's REPO_ROOT
        for name in names:
            if name.endswith(".map"):
                (tmp / name).write_bytes(fw.portable_map((staging / name).read_bytes(), root))
            else:
                shutil.copyfile(staging / name, tmp / name)
        write_json(tmp / "build_info.json", info)
    write_json(args.metrics, {**report, **info})
    print(f"build: {out}/tinykd.elf  flash {report['flash_used']} / {report['flash_limit']} B, "
          f"SRAM1 {report['sram1_used']} / {report['sram1_limit']} B, "
          f"SRAM2 {report['sram2_used']} / {report['sram2_limit']} B "
          f"(stack reserve {report['stack_reserve']} B)")


def main() -> None:
    stage(__doc__, arguments, body, sections=["firmware", "student"])


if __name__ == "__main__":
    main()
