"""A TCP server on 127.0.0.1 whose answers are scripted byte by byte (not shipped).

Real servers, and the proxies in front of them, answer anything: drip-fed
headers, endless bodies, HTML where JSON was promised. Each test gives a
``script(conn, request)`` that writes whatever it likes to the socket.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable, Optional

Script = Callable[[socket.socket, bytes], None]


class RawServer:
    def __init__(self, script: Script) -> None:
        self._script = script
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)  # so that stop() is noticed at once
        self._stop = threading.Event()
        self.requests: list[bytes] = []
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stopping(self) -> threading.Event:
        return self._stop

    def start(self) -> RawServer:
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> RawServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(None)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                request = _read_request(conn)
                with self._lock:
                    self.requests.append(request)
                self._script(conn, request)
            except OSError:
                pass


def _read_request(conn: socket.socket) -> bytes:
    conn.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
            while len(body) < length:
                body += conn.recv(4096)
    return head + b"\r\n\r\n" + body


def drip(conn: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    """Send one byte at a time, ``every`` seconds apart, until done or stopped."""
    for byte in data:
        if stop.wait(every):
            return
        conn.sendall(bytes([byte]))


def answer(status: int, body: bytes, headers: Optional[dict[str, str]] = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    if not any(k.lower() == "content-length" for k in (headers or {})):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def pause(seconds: float) -> None:
    time.sleep(seconds)
