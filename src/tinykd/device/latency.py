"""The on-device latency figure of the evaluate stage's metrics (device.json): how it is written
and the one place that reads it back, for the report, the compression table and
scripts/record_run.py.

The count of a median inference (cycles on a board, guest instructions under QEMU) is turned
into milliseconds at the core clock the firmware reports in HELLO, and that clock is recorded
beside it (`core_hz`), so the key does not depend on the board.
"""
from __future__ import annotations

# Records made before the clock was recorded beside the figure (the committed results/*/
# metrics/device.json) named it after the one board there was, B-L475E-IOT01A at 80 MHz:
# the key itself says the clock. Read only, never written.
_OLD_KEYS = {"latency_ms_at_80mhz": 80_000_000}


def fields(median_units: float, core_hz: int) -> dict:
    """The device.json entries for a median latency of `median_units` cycles (or instructions)
    at `core_hz`."""
    ms = median_units / core_hz * 1e3
    return {"latency_ms": round(ms, 4), "images_per_s": round(1e3 / ms, 3) if ms > 0 else None,
            "core_hz": int(core_hz)}


def read(metrics: dict | None) -> tuple[float, int] | None:
    """(median latency in ms, the core clock in Hz it is counted at) of evaluate metrics, or
    None when they have none."""
    m = metrics or {}
    if m.get("latency_ms") is not None and m.get("core_hz"):
        return m["latency_ms"], int(m["core_hz"])
    for key, hz in _OLD_KEYS.items():
        if m.get(key) is not None:
            return m[key], hz
    return None


def mhz(core_hz: int) -> str:
    """80000000 -> '80 MHz'."""
    return f"{core_hz / 1e6:g} MHz"


def describe(metrics: dict | None, missing: str = "n/a") -> str:
    """'1.25 ms at 80 MHz', or `missing`."""
    got = read(metrics)
    return missing if got is None else f"{got[0]} ms at {mhz(got[1])}"
