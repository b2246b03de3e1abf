"""`tinykd device`: talk to a board (or a QEMU board) by hand.

    tinykd device hello --port /dev/ttyACM0            what the board runs (HELLO)
    tinykd device hello --elf build/firmware/tinykd.elf   the same, on a QEMU board started for it
    tinykd device profile --elf fw.elf --model-dir build/model   per-layer ticks of one inference
                                                     (firmware built with PROFILE_LAYERS=1)
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ParamError


def _link(args):
    from .connect import open_device

    if bool(args.port) == bool(args.elf):
        raise ParamError("--port/--elf", args.port or args.elf, "exactly one of --port URL or --elf FIRMWARE.elf")
    return open_device(port=args.port, image=Path(args.elf) if args.elf else None, baud=args.baud,
                       timeout_s=args.timeout, retries=1)


def _hello(args) -> int:
    with _link(args) as link:
        h = link.wait_ready(args.timeout)
    for key, value in vars(h).items():
        print(f"{key:18} {value.name.lower() if hasattr(value, 'name') else value}")
    return 0


def _profile(args) -> int:
    with _link(args) as link:
        h = link.wait_ready(args.timeout)
        total = link.infer(bytes(h.input_bytes)).ticks
        ticks = link.profile()
    ops = [f"layer {i}" for i in range(len(ticks))]
    if args.model_dir:
        layers = json.loads((Path(args.model_dir) / "model.json").read_text())["layers"]
        ops = [f"{L['op']} ({L.get('kernel', '')})" for L in layers]
    unit = h.latency_unit
    print(f"{'#':>3} {'layer':<40} {unit:>14} {'share':>7}")
    for i, t in enumerate(ticks):
        print(f"{i:>3} {ops[i] if i < len(ops) else '?':<40} {h.ticks_to_units(t):>14,.0f} "
              f"{100.0 * t / max(total, 1):>6.1f}%")
    print(f"    {'total (INFER)':<40} {h.ticks_to_units(total):>14,.0f}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("device", help="talk to a board or a QEMU board over the tinykd protocol",
                       description=__doc__, formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", required=True)
    for name, func, helptext in (("hello", _hello, "print the board's HELLO"),
                                 ("profile", _profile, "per-layer ticks of one inference")):
        a = actions.add_parser(name, help=helptext)
        a.add_argument("--port", default="", help="serial port or pyserial URL (socket://127.0.0.1:4444)")
        a.add_argument("--elf", default="", help="start a QEMU board on this firmware instead")
        a.add_argument("--baud", type=int, default=115200)
        a.add_argument("--timeout", type=float, default=10.0)
        if name == "profile":
            a.add_argument("--model-dir", default="", help="export folder, to name the layers")
        a.set_defaults(func=func)
