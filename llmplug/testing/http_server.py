"""The fake API's HTTP/1.1 server: one thread per connection on loopback,
connections tracked so stopping ends them; the handler reads a request,
records it, asks the FakeAPI for the reply and writes it (plain or SSE)."""

from __future__ import annotations

import email.utils
import json as _json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from .messages import Headers, RecordedRequest, Reply, UploadedFile, encode_event, encode_json, parse_multipart

if TYPE_CHECKING:
    from .server import FakeAPI

__all__ = ["GONE", "FakeServer", "FakeRequestHandler"]

#: Errors that mean "the client went away".
GONE = (ConnectionError, TimeoutError)


class FakeServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that tracks its connections so stop() can end them."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], *, fake: FakeAPI) -> None:
        self.fake = fake
        self._conn_lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._handler_threads: set[threading.Thread] = set()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a reverse DNS lookup: skip it.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(target=self._run, args=(request, client_address), daemon=True)
        with self._conn_lock:
            self._conns.add(request)
            self._handler_threads.add(thread)
        thread.start()

    def _run(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._conns.discard(request)
                self._handler_threads.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, GONE) or self.fake._stopping.is_set():
            return
        traceback.print_exc()

    def close_connections(self) -> None:
        with self._conn_lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def join_handlers(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._conn_lock:
            threads = list(self._handler_threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class _BadRequest(Exception):
    pass


class FakeRequestHandler(BaseHTTPRequestHandler):
    """Reads a request, records it, and writes the reply."""

    protocol_version = "HTTP/1.1"
    server_version = "llmplug-fake"
    sys_version = ""
    disable_nagle_algorithm = True
    server: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # -- request -------------------------------------------------------
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError:
                    raise _BadRequest("bad chunk size") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise _BadRequest("bad Content-Length") from None
        if n < 0:
            raise _BadRequest("bad Content-Length")
        return self.rfile.read(n) if n else b""

    def _build_request(self, body: bytes) -> RecordedRequest:
        split = urlsplit(self.path)
        raw_headers = [(str(k), str(v)) for k, v in self.headers.items()]
        headers = Headers(raw_headers)
        content_type = headers.get("content-type", "")
        decoded: Any = None
        files: dict[str, UploadedFile] = {}
        form: dict[str, str] = {}
        if content_type.lower().startswith("multipart/"):
            try:
                files, form = parse_multipart(content_type, body)
            except Exception:  # malformed upload: leave files/form empty
                pass
        elif body:
            try:
                decoded = _json.loads(body)
            except ValueError:
                decoded = None
        return RecordedRequest(
            method=self.command,
            path=unquote(split.path) or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            raw_headers=raw_headers,
            body=body,
            json=decoded,
            client_port=int(self.client_address[1]),
            files=files,
            form=form,
            received_at=time.monotonic(),
        )

    def _handle(self) -> None:
        fake = self.server.fake
        in_flight = fake._arrive()
        try:
            self._answer(in_flight)
        finally:
            fake._leave()

    def _answer(self, in_flight: int) -> None:
        started = time.perf_counter()
        fake = self.server.fake
        try:
            body = self._read_body()
        except _BadRequest as exc:
            self.close_connection = True
            self._write_plain(400, [("Content-Type", "text/plain")], str(exc).encode())
            return
        request = self._build_request(body)
        request.in_flight = in_flight
        fake._record(request)
        if fake.latency:
            time.sleep(fake.latency)
        service = fake._service_for(request.path)
        reply: Reply | None = None
        if fake.api_key is not None:
            reply = service.authenticate(request, fake.api_key)
        if reply is None:
            reply = fake._take_scripted(request.method, request.path, service)
        if reply is None:
            try:
                reply = service.dispatch(request)
            except Exception:
                traceback.print_exc()
                reply = service.internal_error()
        headers = service.response_headers(request, time.perf_counter() - started)
        self._send(reply, headers)

    # -- reply ---------------------------------------------------------
    def _send(self, reply: Reply, service_headers: list[tuple[str, str]]) -> None:
        extra = list(service_headers)
        if reply.headers:
            items = reply.headers.items() if isinstance(reply.headers, Mapping) else reply.headers
            own = [(str(k), str(v)) for k, v in items]
            names = {k.lower() for k, _ in own}
            extra = [(k, v) for k, v in extra if k.lower() not in names] + own
        if reply.events is not None:
            self._write_events(reply, extra)
            return
        if reply.body_chunks is not None and reply.status >= 200 and reply.status not in (204, 304):
            self._write_chunks(reply, extra)
            return
        if reply.json is not None:
            data = encode_json(reply.json)
            content_type = reply.content_type or "application/json"
        elif reply.body is not None:
            data = reply.body.encode("utf-8") if isinstance(reply.body, str) else bytes(reply.body)
            content_type = reply.content_type or "application/json"
        else:
            data = b""
            content_type = reply.content_type
        headers = [("Content-Type", content_type)] if content_type else []
        self._write_plain(reply.status, headers + extra, data)

    def _head(self, status: int, headers: list[tuple[str, str]]) -> bytes:
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}\r\n", f"Date: {email.utils.formatdate(usegmt=True)}\r\n"]
        lines += [f"{k}: {v}\r\n" for k, v in headers]
        lines.append("Connection: close\r\n\r\n" if self.close_connection else "Connection: keep-alive\r\n\r\n")
        return "".join(lines).encode("latin-1")

    def _write_plain(self, status: int, headers: list[tuple[str, str]], data: bytes) -> None:
        names = {k.lower() for k, _ in headers}
        if "content-length" in names or "transfer-encoding" in names:
            # A caller-made framing header (e.g. a lying Content-Length to
            # simulate truncation): send as is and close so it is seen.
            self.close_connection = True
        elif status >= 200 and status not in (204, 304):
            headers = headers[:1] + [("Content-Length", str(len(data)))] + headers[1:]
        if status in (204, 304):
            data = b""
        try:
            self.wfile.write(self._head(status, headers) + data)
        except GONE:
            self.close_connection = True

    def _write_chunks(self, reply: Reply, extra: list[tuple[str, str]]) -> None:
        """A streamed raw body: each piece goes out as it comes (chunked
        transfer encoding on HTTP/1.1), never joined into one copy."""
        chunked = self.request_version == "HTTP/1.1"
        if not chunked:
            self.close_connection = True
        headers = [("Content-Type", reply.content_type or "application/octet-stream")]
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        names = {k.lower() for k, _ in extra}
        headers = [(k, v) for k, v in headers if k.lower() not in names] + extra
        write = self.wfile.write
        try:
            write(self._head(reply.status, headers))
            for piece in reply.body_chunks or ():
                if not len(piece):
                    continue
                if chunked:
                    write(b"%x\r\n" % len(piece))
                    write(piece)
                    write(b"\r\n")
                else:
                    write(piece)
            if chunked:
                write(b"0\r\n\r\n")
        except GONE:  # the client went away mid-body: not an SSE stream, not counted
            self.close_connection = True
        except Exception:
            self.close_connection = True
            traceback.print_exc()

    def _write_events(self, reply: Reply, extra: list[tuple[str, str]]) -> None:
        fake = self.server.fake
        chunked = self.request_version == "HTTP/1.1"
        if not chunked:
            self.close_connection = True
        headers = [("Content-Type", reply.content_type or "text/event-stream; charset=utf-8"), ("Cache-Control", "no-cache")]
        if chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        names = {k.lower() for k, _ in extra}
        headers = [(k, v) for k, v in headers if k.lower() not in names] + extra
        write = self.wfile.write

        def send(data: bytes) -> None:
            if data:
                write(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)

        size = reply.chunk_size
        pending = bytearray()
        try:
            write(self._head(reply.status, headers))
            first = True
            for item in reply.events or ():
                if not first and reply.interval > 0 and fake._stopping.wait(reply.interval):
                    raise ConnectionAbortedError("server stopping")
                first = False
                data = encode_event(item)
                if size is None:
                    send(data)
                    continue
                pending += data
                while len(pending) >= size:
                    send(bytes(pending[:size]))
                    del pending[:size]
            send(bytes(pending))
            if chunked:
                write(b"0\r\n\r\n")
        except GONE:
            self.close_connection = True
            fake._count_abort()
        except Exception:
            self.close_connection = True
            traceback.print_exc()
