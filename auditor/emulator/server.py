"""The emulator's one loopback HTTPS server: Entra, Graph v1.0, and the Exchange seams (/wsman, /adminapi)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from requests.structures import CaseInsensitiveDict

from auditor.emulator.ca import CertPaths, generate_certificates
from auditor.emulator.entra import EntraApi
from auditor.emulator.faults import FaultInjector, FaultPlan, RequestCounters
from auditor.emulator.graph_api import GraphApi
from auditor.emulator.replies import Reply, graph_error_body, json_reply
from auditor.emulator.tenant import Tenant
from auditor.emulator.tokens import TokenIssuer
from auditor.errors import ConfigError

ExchangeHandler = Callable[[str, Mapping[str, str], bytes], tuple[int, dict[str, str], bytes]]
_MAX_BODY = 64 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 120  # idle keep-alive connections end after this
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: the emulator never writes to stderr."""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self._write(json_reply(400, {"error": "bad request body"}))
            self.close_connection = True
            return
        headers = CaseInsensitiveDict(self.headers.items())
        try:
            reply = self.server.emulator.dispatch(self.command, self.path, headers, body)
        except Exception as exc:
            request_id = str(uuid.uuid4())
            payload = graph_error_body(
                "InternalServerError", f"Emulator failure: {type(exc).__name__}", request_id, request_id
            )
            reply = json_reply(500, payload)
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._write(reply)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > _MAX_BODY:
            raise ValueError(length)
        return self.rfile.read(length) if length else b""

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, emulator: EmulatorServer) -> None:
        super().__init__(address, _Handler)
        self.context = context
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()

    def finish_request(self, request: Any, client_address: Any) -> None:
        # TLS handshake here, in the connection's own thread, so a slow client never blocks accept().
        request.settimeout(30)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            request.close()
            return
        with self.lock:
            self.connections.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        finally:
            with self.lock:
                self.connections.discard(tls)
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client resets and broken pipes are normal for a test server; say nothing."""

    def close_connections(self) -> None:
        with self.lock:
            connections = list(self.connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class EmulatorServer:
    """Entra + Graph (+ Exchange through ``wsman_handler``/``rest_handler``) on https://127.0.0.1:PORT."""

    def __init__(self, tenant: Tenant, faults: FaultPlan | None = None, host: str = "127.0.0.1", port: int = 0,
                 certs: CertPaths | None = None) -> None:
        """`certs`: certificates kept by the caller (a state directory), used as they are and never removed;
        without them each start makes a throwaway CA in a private temporary directory, removed at stop."""
        self.tenant = tenant
        self.faults = faults or FaultPlan()
        self.host = host
        self.port = port
        self.counters = RequestCounters()
        # Access tokens carry a v1-style issuer, as Entra's Graph and Exchange tokens do.
        self.tokens = TokenIssuer(
            issuer=f"https://sts.windows.net/{tenant.id}/",
            object_id_for=lambda app_id: (tenant.service_principals_by_app_id.get(app_id.lower()) or {}).get("id"),
        )
        self.wsman_handler: ExchangeHandler | None = None
        self.rest_handler: ExchangeHandler | None = None
        self._injector = FaultInjector(self.faults)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._kept = certs
        self._certs: CertPaths | None = None
        self._graph: GraphApi | None = None
        self._entra: EntraApi | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        if self._httpd is not None:
            return self
        self._certs = self._kept or generate_certificates()
        try:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(str(self._certs.cert_path), str(self._certs.key_path))
            context.set_alpn_protocols(["http/1.1"])
            self._httpd = _HTTPServer((self.host, self.port), context, self)
        except BaseException as exc:  # no throwaway key is left behind by a start that failed
            self._remove_throwaway_certs()
            self._certs = None
            if isinstance(exc, OSError):
                raise ConfigError(f"cannot listen on {self.host}:{self.port}: "
                                  f"{exc.strerror or exc}") from None
            raise
        self.port = self._httpd.server_address[1]
        self._graph = GraphApi(self.tenant, self.tokens, self.counters, self._injector, self.base_url)
        self._entra = EntraApi(self.tenant, self.tokens, self.counters, self.faults, self.base_url)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="emulator-https",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._remove_throwaway_certs()
        self._httpd = self._thread = None

    def _remove_throwaway_certs(self) -> None:
        if self._certs is not None and self._kept is None:
            shutil.rmtree(self._certs.directory, ignore_errors=True)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- endpoints -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the emulator is not running")
        return f"https://{self.host}:{self.port}"

    @property
    def ca_path(self) -> str:
        if self._certs is None:
            raise RuntimeError("the emulator is not running")
        return str(self._certs.ca_path)

    @property
    def authority(self) -> str:
        return f"{self.base_url}/{self.tenant.id}"

    @property
    def graph_endpoint(self) -> str:
        return self.base_url

    # -- dispatch --------------------------------------------------------------------------------

    def dispatch(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Route one request; called from the connection threads."""
        if self.faults.latency_ms:
            time.sleep(self.faults.latency_ms / 1000)
        path = target.partition("?")[0]
        assert self._graph is not None and self._entra is not None
        if path == "/v1.0" or path.startswith("/v1.0/"):
            return self._graph.handle(method, target, headers, body)
        if path.lower().startswith("/wsman"):
            return self._exchange("wsman", self.wsman_handler, method, path, headers, body)
        if path.lower().startswith("/adminapi/"):
            return self._exchange("adminapi", self.rest_handler, method, path, headers, body)
        if self._entra.matches(target):
            return self._entra.handle(method, target, headers, body)
        self.counters.count(f"{method} /{{unknown}}")
        request_id = str(uuid.uuid4())
        message = f"Resource not found for the segment '{path.strip('/').split('/')[0]}'."
        return json_reply(404, graph_error_body("Request_ResourceNotFound", message, request_id, request_id))

    def _exchange(
        self,
        name: str,
        handler: ExchangeHandler | None,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Reply:
        self.counters.count(f"{method} /{name}" if name == "wsman" else f"{method} /adminapi/{{path}}")
        if self.faults.exchange_down:
            return Reply(503, {"Content-Type": "text/plain; charset=utf-8"}, b"Service Unavailable")
        if handler is None:
            return Reply(404, {"Content-Type": "text/plain; charset=utf-8"}, b"Not Found")
        if method != "POST":
            return Reply(405, {"Content-Type": "text/plain; charset=utf-8", "Allow": "POST"}, b"Method Not Allowed")
        status, reply_headers, reply_body = handler(path, headers, body)
        return Reply(status, dict(reply_headers), reply_body)
