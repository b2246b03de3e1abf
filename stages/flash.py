"""Stage flash: put the firmware on the board (device.backend: qemu | openocd | stlink | pyocd).
For qemu the image becomes the virtual board's flash (build/flash/flash.elf); hardware backends
program, verify and reset the board. Writes a deterministic record (build/flash/flash.json)."""
from _common import read_record, stage


def arguments(ap) -> None:
    ap.add_argument("--firmware", required=True, help="build stage folder (tinykd.elf, tinykd.bin)")
    ap.add_argument("--out", required=True, help="flash record folder")


def body(args, p: dict) -> None:
    from pathlib import Path

    from tinykd import params as P
    from tinykd.atomic import atomic_dir, write_json
    from tinykd.device.flash import check_backend, flash

    backend = P.get(p, "device.backend")
    check_backend(backend)
    info = read_record(Path(args.firmware) / "build_info.json", "build")
    with atomic_dir(args.out) as tmp:
        record = flash(backend, Path(args.firmware), tmp, info["model_sha256"], board=info["board"])
        record.update(protocol=info["protocol"], baud=info["baud"])
        write_json(tmp / "flash.json", record)
    print(f"flash: {backend}, image sha256 {record['image_sha256'][:16]}…")


def main() -> None:
    stage(__doc__, arguments, body, sections=["device"])


if __name__ == "__main__":
    main()
