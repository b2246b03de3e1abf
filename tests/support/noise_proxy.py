"""A TCP proxy that damages the bytes it forwards, in both directions: put it between a
serial-over-TCP board (QEMU's `-serial tcp:...`) and the host to test the link under line noise.

Each forwarded byte is, with probability `rate`, replaced by a random byte, dropped, or
followed by a random extra byte (one of the three at random) — what a noisy UART does
(bit errors, lost bytes, framing glitches). Seeded, so a failing run can be replayed.
"""
from __future__ import annotations

import random
import socket
import threading


class NoiseProxy:
    """`with NoiseProxy(("127.0.0.1", qemu_port), rate=0.004) as proxy:` then connect to
    `proxy.url` (a pyserial socket:// URL). Accepts one client at a time; the upstream
    connection is made when the client connects."""

    def __init__(self, upstream: tuple[str, int], rate: float, seed: int = 0):
        if not 0 <= rate < 1:
            raise ValueError(f"noise rate {rate} outside [0, 1)")
        self.upstream, self.rate = upstream, rate
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.damaged = {"to_device": 0, "to_host": 0}
        self.forwarded = {"to_device": 0, "to_host": 0}
        self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind(("127.0.0.1", 0))
        self._srv.listen(1)
        self.port = self._srv.getsockname()[1]
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def damage(self, data: bytes, direction: str) -> bytes:
        out = bytearray()
        with self.lock:
            for b in data:
                if self.rng.random() >= self.rate:
                    out.append(b)
                    continue
                self.damaged[direction] += 1
                what = self.rng.randrange(3)
                if what == 0:
                    out.append(self.rng.randrange(256))           # a corrupted byte
                elif what == 2:
                    out += bytes([b, self.rng.randrange(256)])    # an extra byte
                # what == 1: the byte is lost
            self.forwarded[direction] += len(data)
        return bytes(out)

    def _pump(self, src: socket.socket, dst: socket.socket, direction: str) -> None:
        try:
            while not self._stop.is_set():
                data = src.recv(4096)
                if not data:
                    break
                dst.sendall(self.damage(data, direction))
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _serve(self) -> None:
        self._srv.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._srv.accept()
            except (socket.timeout, OSError):
                continue
            up = socket.create_connection(self.upstream, timeout=10)
            up.settimeout(None)
            client.settimeout(None)
            for s in (client, up):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._socks += [client, up]
            pumps = [threading.Thread(target=self._pump, args=(client, up, "to_device"), daemon=True),
                     threading.Thread(target=self._pump, args=(up, client, "to_host"), daemon=True)]
            for t in pumps:
                t.start()
            for t in pumps:
                t.join()

    def __enter__(self) -> "NoiseProxy":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for s in self._socks + [self._srv]:
            try:
                s.close()
            except OSError:
                pass
        self._thread.join(5)


class LossProxy(NoiseProxy):
    """A proxy that loses, on the way to the device, every frame `lose(type, payload)` picks (e.g.
    all LOAD chunks of one image's tag): a stretch of line so bad that no retry gets through, made
    deterministic so a test knows which images fail and why. Everything else passes unchanged."""

    def __init__(self, upstream: tuple[str, int], lose):
        super().__init__(upstream, rate=0.0)
        from tinykd.device.protocol import FrameParser, encode

        self._encode, self.lose = encode, lose
        self._parser = FrameParser()
        self.lost: list[tuple[int, int]] = []  # (type, tag) of each frame lost

    def damage(self, data: bytes, direction: str) -> bytes:
        if direction != "to_device":
            return data
        out = bytearray()
        with self.lock:
            for f in self._parser.feed(data):  # the host sends whole, valid frames only
                if self.lose(f.type, f.payload):
                    self.lost.append((f.type, int.from_bytes(f.payload[:2], "little")))
                    continue
                out += self._encode(f.type, f.seq, f.payload)
        return bytes(out)
