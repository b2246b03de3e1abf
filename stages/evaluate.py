"""Stage evaluate: test images through the board, every output compared with the same .tflite
on the host (TFLite Micro's reference interpreter). Transport (evaluate.transport, auto by
default): on QEMU (device.backend qemu, device.port empty) the semihosting bulk path, the images
read from a file by the semihost flavour of the firmware on one QEMU per core; on a real board or
with device.port set, the tinykd protocol over the UART (pyserial). Writes metrics/device.json
(accuracy, bit-exact agreement, latency), plots/device/confusion.csv and plots/device/per_image.csv."""
from _common import read_record, stage


def arguments(ap) -> None:
    ap.add_argument("--flash", required=True, help="flash stage folder (flash.json, QEMU image)")
    ap.add_argument("--model-dir", required=True, help="export folder (the model the board must run)")
    ap.add_argument("--tflite", required=True, help="the int8 .tflite that was exported")
    ap.add_argument("--data", required=True, help="dataset folder (test.npz, dataset.json)")
    ap.add_argument("--metrics", required=True, help="device metrics .json to write")
    ap.add_argument("--plots", required=True, help="folder for confusion.csv and per_image.csv")
    ap.add_argument("--qemu-log", default=None, help="append QEMU's stderr here")
    ap.add_argument("--journal", default=None,
                    help="UART transport: append each answer here and resume from it (default: "
                         "journal/evaluate.jsonl beside the --flash folder; not a stage output)")


def body(args, p: dict) -> None:
    from pathlib import Path

    from tinykd import params as P
    from tinykd.atomic import atomic_dir, write_json, write_text
    from tinykd.data.scaling import from_params
    from tinykd.device import evaluate as E
    from tinykd.device.firmware import model_sha256
    from tinykd.device.flash import QEMU_SEMIHOST_IMAGE, check_backend
    from tinykd.errors import DeviceError

    scaling = from_params(P.get(p, "student.input"), "student.input")
    backend, port = P.get(p, "device.backend"), P.get(p, "device.port")
    check_backend(backend)
    record = read_record(Path(args.flash) / "flash.json", "flash")
    if record.get("protocol", "tinykd") != "tinykd":
        raise DeviceError(f"the flashed firmware speaks the {record['protocol']} protocol; evaluate needs "
                          "firmware.protocol: tinykd (for MLPerf Tiny runs use `tinykd mlperf`)")
    expected = model_sha256(Path(args.model_dir))
    hint = "`dvc repro flash` (or `python stages/flash.py`), or flash build/firmware/tinykd.elf by hand"
    x_classes = E.load_test(Path(args.data))[2]
    transport = E.choose_transport(P.get(p, "evaluate.transport"), backend, port)
    log = Path(args.qemu_log) if args.qemu_log else None
    common = dict(tflite=Path(args.tflite), data_dir=Path(args.data), expected_sha=expected,
                  samples=P.get(p, "evaluate.samples"), seed=P.get(p, "seed"), reflash_hint=hint,
                  scaling=scaling)
    if transport == "semihost":
        if not record.get("semihost_image"):
            raise DeviceError(f"{args.flash} has no {QEMU_SEMIHOST_IMAGE} (firmware built before the "
                              "semihosting flavour existed): rerun the build and flash stages, or set "
                              "evaluate.transport: uart")
        ev = E.evaluate_bulk(image=Path(args.flash) / record["semihost_image"], log=log, board=record["board"],
                             timeout_s=max(60.0, 10 * P.get(p, "device.timeout_s")), **common)
    else:
        import sys

        # The journal keeps every answer through a failure or a kill; DVC deletes a stage's outs
        # before running it, so it lives beside the flash folder, not among them.
        journal = Path(args.journal) if args.journal else Path(args.flash).parent / "journal" / "evaluate.jsonl"

        def said_journal(jr):
            if jr.results:
                print(f"evaluate: resuming from {jr.path}: {len(jr.results)} images already answered",
                      file=sys.stderr)
            elif jr.why_new:
                print(f"evaluate: {jr.path} was {jr.why_new}: starting over", file=sys.stderr)

        from tinykd.device.connect import flashed_image, open_device

        with open_device(port=port, image=flashed_image(backend, port, Path(args.flash)),
                         baud=P.get(p, "firmware.baud"), timeout_s=P.get(p, "device.timeout_s"),
                         retries=P.get(p, "device.retries"), log=log, board=record["board"],
                         chunk_bytes=P.get(p, "device.chunk_bytes"),
                         chunk_retries=P.get(p, "device.chunk_retries")) as link:
            ev = E.evaluate(link=link, journal=journal, firmware_sha=record["image_sha256"],
                            max_failed=P.get(p, "device.max_failed_images"), on_journal=said_journal,
                            on_failure=lambda k, msg: print(f"evaluate: {msg}", file=sys.stderr), **common)
    m = E.metrics(ev, backend=backend, firmware_sha=record["image_sha256"], model_sha=expected)
    m["port"] = port  # "" = a QEMU board started by this stage
    with atomic_dir(args.plots) as tmp:
        write_text(tmp / "confusion.csv", E.confusion_csv(ev, x_classes))
        write_text(tmp / "per_image.csv", E.per_image_csv(ev, x_classes))
    write_json(args.metrics, m)
    if ev.journal is not None:
        ev.journal.remove()  # the metrics hold it all now; a forced rerun measures afresh
    unit = m["latency_unit"]
    print(f"evaluate: {m['samples']} images, accuracy {m['accuracy']:.4f}, bit-exact {m['bit_exact']:.4f}, "
          f"top-1 agreement {m['top1_agreement']:.4f}, median {m[f'latency_{unit}_median']:.0f} {unit} "
          f"({E.latency.describe(m)}); "
          f"{(ev.sent if transport == 'uart' else len(ev.results)) / max(ev.wall_s, 1e-9):.1f} "
          f"images/s over {transport} ({ev.wall_s:.1f} s)")
    if transport == "uart":
        st = ev.link_stats
        print(f"evaluate: {ev.sent} images sent, {ev.resumed} from the journal, {len(ev.failed)} failed; "
              f"{st.get('chunks', 0)} LOAD chunks ({st.get('chunk_resends', 0)} resent), {st.get('retries', 0)} "
              f"resends in all, {st.get('reboots', 0)} reboots")


def main() -> None:
    stage(__doc__, arguments, body, sections=["device", "evaluate", "firmware"])


if __name__ == "__main__":
    main()
