"""Stage flash: put the firmware on the board (device.backend: qemu | openocd | stlink | pyocd).
For qemu the image becomes the virtual board's flash (build/flash/flash.elf); hardware backends
program, verify and reset the board. Writes a deterministic record (build/flash/flash.json)."""
import argparse

from _common import run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--params", default="params.yaml")
    ap.add_argument("--firmware", required=True, help="build stage folder (tinykd.elf, tinykd.bin)")
    ap.add_argument("--out", required=True, help="flash record folder")
    args = ap.parse_args()

    def body():
        import json
        from pathlib import Path

        from tinykd import params as P
        from tinykd.atomic import atomic_dir, write_json
        from tinykd.device.flash import check_backend, flash
        from tinykd.errors import DeviceError

        p = P.load(args.params, sections=["device"])
        backend = P.get(p, "device.backend")
        check_backend(backend)
        info_path = Path(args.firmware) / "build_info.json"
        try:
            info = json.loads(info_path.read_text())
        except (OSError, ValueError) as exc:
            raise DeviceError(f"cannot read {info_path} ({exc}): run the build stage first") from None
        with atomic_dir(args.out) as tmp:
            record = flash(backend, Path(args.firmware), tmp, info["model_sha256"], board=info["board"])
            record.update(protocol=info["protocol"], baud=info["baud"])
            write_json(tmp / "flash.json", record)
        print(f"flash: {backend}, image sha256 {record['image_sha256'][:16]}…")

    run(body)


if __name__ == "__main__":
    main()
