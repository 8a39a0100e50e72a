"""A peer that misbehaves on purpose: a thread with a raw socket on 127.0.0.1 (TLS when given certificates).

Behaviours: `silent` accepts and never answers (not even the TLS handshake), `drip` reads the request and then
sends an answer one byte every `drip_s` seconds, `answer` replies with `answer(method, path, headers, body)` (raw
bytes of a whole HTTP response). Every loop is bounded by `stop()`; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from auditor.emulator.ca import CertPaths

Answer = Callable[[str, str, dict[str, str], bytes], bytes]


def http(status: int, body: bytes | str, content_type: str = "application/json", length: bool = True) -> bytes:
    data = body.encode() if isinstance(body, str) else body
    head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nConnection: close\r\n"
    if length:
        head += f"Content-Length: {len(data)}\r\n"
    return head.encode() + b"\r\n" + data


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


class HostileServer:
    def __init__(self, behaviour: str, certs: CertPaths | None = None, answer: Answer | None = None,
                 drip_s: float = 2.0) -> None:
        self.behaviour, self.answer, self.drip_s = behaviour, answer, drip_s
        self.requests: list[Seen] = []
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._context: ssl.SSLContext | None = None
        if certs is not None:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(str(certs.cert_path), str(certs.key_path))
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True, name="hostile")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{'https' if self._context else 'http'}://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.close()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            if self.behaviour != "silent":
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            conn: Any = raw
            if self._context is not None:
                raw.settimeout(10)
                conn = self._context.wrap_socket(raw, server_side=True)
                self._conns.append(conn)
            conn.settimeout(10)
            while not self._stop.is_set():  # keep-alive: one request after another, until closed
                request = _read_request(conn)
                if request is None:
                    return
                method, path, headers, body = request
                self.requests.append(Seen(method, path, headers))
                if self.behaviour == "drip":
                    self._drip(conn)
                    return
                assert self.answer is not None
                reply = self.answer(method, path, headers, body)
                conn.sendall(reply)
                if b"connection: close" in reply[:400].lower():
                    return
        except (OSError, ssl.SSLError, ValueError):
            return
        finally:
            with contextlib.suppress(OSError):
                raw.close()

    def _drip(self, conn: Any) -> None:
        answer = http(200, '{"value": []}' + " " * 10_000)
        for byte in answer:  # bounded: the answer's length, and stop()
            if self._stop.wait(self.drip_s):
                return
            conn.sendall(bytes([byte]))


def _read_request(conn: Any) -> tuple[str, str, dict[str, str], bytes] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > 1_000_000:
            return None
        chunk = conn.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = [*lines[0].split(" "), "", ""][:3]
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0") or 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return method, path, headers, body


@contextlib.contextmanager
def hostile(behaviour: str, certs: CertPaths | None = None, answer: Answer | None = None,
            drip_s: float = 2.0) -> Iterator[HostileServer]:
    server = HostileServer(behaviour, certs, answer, drip_s)
    try:
        yield server
    finally:
        server.stop()


def elapsed(since: float) -> float:
    return time.monotonic() - since
