"""Opening a device: a serial port / pyserial URL, or a QEMU board started on a firmware image.
The one way evaluate, `tinykd device`, `tinykd live` and `tinykd mlperf` reach a board."""
from __future__ import annotations

import contextlib
from pathlib import Path

from ..errors import ParamError
from .serial_port import open_port


def flashed_image(backend: str, port: str, flash_dir: Path) -> Path | None:
    """The image to start a QEMU board on for params device.backend / device.port: None when
    `port` is set (whatever is there answers); the flash stage's QEMU image for backend qemu.
    A hardware backend without a port is refused: its board is reached through its serial port."""
    if port:
        return None
    if backend == "qemu":
        from .flash import QEMU_IMAGE

        return Path(flash_dir) / QEMU_IMAGE
    raise ParamError("device.port", port, f"the board's serial port (e.g. /dev/ttyACM0) or a pyserial URL; "
                     f"device.backend = {backend} flashes real hardware, so the host needs its port")


class Connection:
    """An open serial line (`port`) to `url`, or to a QEMU board (`qemu`) started on `image`;
    `restart()` power-cycles that board and reopens the line. QEMU options: `board` (its
    machine, None = the default board), `log` (QEMU's stderr), `sleep` (False: -icount
    sleep=off, for a board that idles a lot)."""

    def __init__(self, url: str = "", image: Path | None = None, *, baud: int, log: Path | None = None,
                 board: str | None = None, sleep: bool = True):
        if bool(url) == (image is not None):
            raise ValueError("a Connection needs exactly one of a port URL or a QEMU image")
        self.baud, self.qemu = int(baud), None
        if image is not None:
            from .qemu import QemuBoard

            self.qemu = QemuBoard(image, log=log, sleep=sleep, **({"board": board} if board else {})).start()
            url = self.qemu.url
        try:
            self.port = open_port(url, self.baud)
        except BaseException:
            self.close()
            raise

    def restart(self):
        """Power-cycle the QEMU board; returns the new port."""
        self.port.close()
        self.qemu.restart()
        self.port = open_port(self.qemu.url, self.baud)
        return self.port

    def close(self) -> None:
        port, self.port = getattr(self, "port", None), None
        if port is not None:
            port.close()
        if self.qemu is not None:
            self.qemu.stop()


@contextlib.contextmanager
def connect(url: str = "", image: Path | None = None, **kw):
    """`with connect(url or image=...) as conn:` a Connection, closed (and its QEMU stopped) after."""
    conn = Connection(url, image, **kw)
    try:
        yield conn
    finally:
        conn.close()


@contextlib.contextmanager
def open_device(*, port: str = "", image: Path | None = None, baud: int, timeout_s: float = 10.0,
                retries: int = 3, log: Path | None = None, board: str | None = None,
                chunk_bytes: int | None = None, chunk_retries: int | None = None):
    """Yield a tinykd protocol Link to `port`, or to a QEMU board started on `image` (exactly one
    of them). On a QEMU board it owns, the Link may power-cycle it (Link.restart) when it stops
    answering; `link.board` is that QemuBoard."""
    from .protocol import Link

    with connect(port, image, baud=baud, log=log, board=board) as conn:
        chunking = {k: v for k, v in (("chunk_bytes", chunk_bytes), ("chunk_retries", chunk_retries))
                    if v is not None}
        link = Link(conn.port, timeout_s=timeout_s, retries=retries, **chunking)
        if conn.qemu is not None:
            link.restart = conn.restart
            link.board = conn.qemu
        yield link
