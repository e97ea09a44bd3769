"""A real HTTP/1.1 server on loopback for the transport contract tests.

Each test gets its own server on an ephemeral port. The handler records every
request (method, target, headers, body, client port) and serves a few fixed
routes that misbehave in the ways a transport must survive.
"""

from __future__ import annotations

import gzip
import os
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import pytest

#: How long a stalling route waits before giving up on its own.
STALL_SECONDS = 10.0

GZIP_TEXT = b"hello gzip " * 200


@attrs.define
class Record:
    """One request as the server received it."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes
    client_port: int

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        assert len(values) <= 1, f"header {name} sent {len(values)} times"
        return values[0] if values else None

    @property
    def header_names(self) -> set[str]:
        return {k.lower() for k, _ in self.headers}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = Record(self.command, self.path, list(self.headers.items()), body, self.client_address[1])
        self.server.records.append(record)
        route = getattr(self, "route_" + self.path.partition("?")[0].strip("/").replace("-", "_"), self.route_echo)
        route(record)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    def _send(self, status: int, body: bytes, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _start_chunked(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def route_echo(self, record: Record) -> None:
        self._send(200, record.body, X_Echo_Method=record.method, Content_Type="application/octet-stream")

    def route_repeated_headers(self, record: Record) -> None:
        """Two Set-Cookie and two Link fields, spelt differently."""
        self.send_response(200)
        for name, value in [("Set-Cookie", "a=1; Path=/"), ("Link", "<https://x.test/1>; rel=next"),
                            ("set-cookie", "b=2, with comma"), ("LINK", "<https://x.test/0>; rel=prev")]:
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def route_stream(self, record: Record) -> None:
        """Chunk 1, then nothing until the test has seen chunk 1 and sets ``release``."""
        self._start_chunked()
        self._chunk(b"data: one\n\n")
        if not self.server.release.wait(STALL_SECONDS):
            self.close_connection = True
            return
        self._chunk(b"data: two\n\n")
        self._chunk(b"")

    def route_endless(self, record: Record) -> None:
        """Chunks every 10 ms until the client goes away (sets ``disconnected``)."""
        self._start_chunked()
        try:
            for _ in range(int(STALL_SECONDS / 0.01)):
                self._chunk(b"x" * 1024)
                self.server.stop.wait(0.01)
        except OSError:
            self.server.disconnected.set()
        self.close_connection = True

    def route_stall_headers(self, record: Record) -> None:
        """Never answer."""
        self.server.stop.wait(STALL_SECONDS)
        self.close_connection = True

    def route_stall_body(self, record: Record) -> None:
        """Promise 100 bytes, send 10, then go quiet."""
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"x" * 10)
        self.wfile.flush()
        self.server.stop.wait(STALL_SECONDS)
        self.close_connection = True

    def route_truncated(self, record: Record) -> None:
        """Promise 100 bytes, send 10, then close."""
        self.send_response(200)
        self.send_header("Content-Length", "100")
        self.end_headers()
        self.wfile.write(b"x" * 10)
        self.close_connection = True

    def route_truncated_chunked(self, record: Record) -> None:
        """One chunk, then close without the last chunk."""
        self._start_chunked()
        self._chunk(b"x" * 10)
        self.close_connection = True

    def route_gzip(self, record: Record) -> None:
        self._send(200, gzip.compress(GZIP_TEXT), Content_Encoding="gzip", Content_Type="text/plain")

    def route_redirect(self, record: Record) -> None:
        self._send(302, b"", Location="/echo")

    def route_close_after(self, record: Record) -> None:
        """A normal keep-alive response, then the server drops the connection anyway."""
        self._send(200, b"bye")
        self.close_connection = True


class LocalServer(ThreadingHTTPServer):
    """A threaded HTTP/1.1 server on 127.0.0.1 with an ephemeral port."""

    daemon_threads = True
    gzip_text = GZIP_TEXT
    protocol_version = "HTTP/1.1"  # informative; the handler's attribute is the one http.server reads

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.scheme = "https" if context is not None else "http"
        self.records: list[Record] = []
        self.release = threading.Event()
        self.disconnected = threading.Event()
        self.stop = threading.Event()
        #: Set whenever the server has closed a client connection.
        self.connection_closed = threading.Event()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.connection_closed.set()

    def handle_error(self, request: Any, client_address: Any) -> None:  # clients hang up on purpose
        pass


def _serve(context: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    server = LocalServer(context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    yield from _serve()


@pytest.fixture
def tls_server(tls_files: tuple[Path, Path]) -> Iterator[LocalServer]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    yield from _serve(context)


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy or CA-bundle settings from the environment reach the transports."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name in {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"}:
            monkeypatch.delenv(name)
