"""A TCP proxy on 127.0.0.1 that injects network faults between socwb and its node.

Modes, switchable at run time with `FaultProxy.set_mode`:

- `pass`: forward bytes both ways.
- `latency`: forward, but hold each chunk for `latency_s` seconds first.
- `reset`: close every connection with a TCP reset (SO_LINGER 0), new and open ones.
- `blackhole`: accept connections and read requests, but forward nothing and
  send no response, as a dropped route does. Open connections stall too.
- `http_429`: respond to every HTTP request with `429 Too Many Requests` and
  `Connection: close`, without forwarding it.

Every connection uses two threads. Switching to `reset` or `http_429` closes the
open connections, so keep-alive connections of the client see the new mode on
their next request.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Literal

logger = logging.getLogger(__name__)

Mode = Literal["pass", "latency", "reset", "blackhole", "http_429"]

_CHUNK = 65536
_POLL_S = 0.2
_BODY_429 = b'{"error":"too many requests (fault proxy)","status":429}'
_RESPONSE_429 = (
    b"HTTP/1.1 429 Too Many Requests\r\n"
    b"content-type: application/json\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_BODY_429)).encode() + b"\r\n\r\n" + _BODY_429
)


class FaultProxy:
    """Forward 127.0.0.1:<port> to `upstream_port`, with a switchable fault mode.

    Attributes:
        requests_429: HTTP requests that got a 429 response so far.
        max_buffered: Largest number of bytes held for one stalled direction,
            which shows how much a client sent into a blackhole.
    """

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.mode: Mode = "pass"
        self.latency_s = 0.0
        self.requests_429 = 0
        self.max_buffered = 0
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept_loop, name="fault-proxy", daemon=True)

    def start(self) -> FaultProxy:
        """Start accepting connections; return self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close every connection."""
        self._stopped.set()
        self._listener.close()
        self._close_all(reset=False)
        self._thread.join(timeout=5)

    def set_mode(self, mode: Mode, *, latency_s: float = 0.0) -> None:
        """Switch the fault mode for new and open connections."""
        logger.info("fault proxy mode=%s latency_s=%.2f port=%d", mode, latency_s, self.port)
        with self._lock:
            self.mode = mode
            self.latency_s = latency_s
        if mode in ("reset", "http_429"):
            self._close_all(reset=mode == "reset")

    def _close_all(self, *, reset: bool) -> None:
        with self._lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            _close(connection, reset=reset)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(
                target=self._serve, args=(client,), name="fault-proxy-conn", daemon=True
            ).start()

    def _serve(self, client: socket.socket) -> None:
        mode = self.mode
        if mode == "reset":
            _close(client, reset=True)
            return
        if mode == "http_429":
            self._answer_429(client)
            return
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            _close(client, reset=True)
            return
        with self._lock:
            self._connections.update((client, upstream))
        forward = threading.Thread(target=self._pump, args=(upstream, client), daemon=True)
        forward.start()
        self._pump(client, upstream)
        forward.join(timeout=5)

    def _pump(self, source: socket.socket, target: socket.socket) -> None:
        held: list[bytes] = []
        try:
            while not self._stopped.is_set():
                readable, _, _ = select.select([source], [], [], _POLL_S)
                if self.mode != "blackhole" and held:
                    target.sendall(b"".join(held))
                    held.clear()
                if not readable:
                    continue
                data = source.recv(_CHUNK)
                if not data:
                    break
                if self.mode == "blackhole":
                    held.append(data)
                    self.max_buffered = max(self.max_buffered, sum(map(len, held)))
                    continue
                if self.mode == "latency":
                    time.sleep(self.latency_s)
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._connections.discard(source)
                self._connections.discard(target)
            _close(source, reset=False)
            _close(target, reset=False)

    def _answer_429(self, client: socket.socket) -> None:
        try:
            client.settimeout(10)
            _read_request(client)
            client.sendall(_RESPONSE_429)
            with self._lock:
                self.requests_429 += 1
        except OSError:
            pass
        finally:
            _close(client, reset=False)


def _read_request(client: socket.socket) -> None:
    """Read one HTTP request (headers and a Content-Length body) and discard it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(_CHUNK)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = client.recv(_CHUNK)
        if not chunk:
            return
        body += chunk


def _close(connection: socket.socket, *, reset: bool) -> None:
    with contextlib.suppress(OSError):
        if reset:
            # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.close()


@contextlib.contextmanager
def running_proxy(upstream_port: int) -> Iterator[FaultProxy]:
    """Run a proxy in front of `upstream_port` for the duration of the block."""
    proxy = FaultProxy(upstream_port).start()
    try:
        yield proxy
    finally:
        proxy.stop()
