"""Opening the device's serial line: a port name (/dev/ttyACM0, COM3) or any pyserial URL."""
from __future__ import annotations

import time

from ..errors import DeviceError


def open_port(url: str, baud: int, connect_timeout_s: float = 5.0):
    """Open `url` with pyserial, retrying refused connections (a QEMU socket still starting)."""
    try:
        import serial
    except ImportError as exc:  # pragma: no cover - pyserial is a dependency
        raise DeviceError("pyserial is not installed: pip install pyserial") from exc
    deadline = time.monotonic() + connect_timeout_s
    while True:
        try:
            return serial.serial_for_url(url, baudrate=int(baud), timeout=0.05, write_timeout=30)
        except (serial.SerialException, OSError, ValueError) as exc:
            refused = "refused" in str(exc).lower() or "could not open port" in str(exc).lower()
            if not refused or time.monotonic() >= deadline:
                raise DeviceError(f"cannot open device port {url!r}: {exc} (expected a serial port such "
                                  "as /dev/ttyACM0 or a pyserial URL such as socket://127.0.0.1:4444)") from exc
            time.sleep(0.1)
