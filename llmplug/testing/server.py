"""HTTP core of the fake API.

A threaded HTTP/1.1 server on loopback that records every request, plays
scripted replies first and hands everything else to a :class:`Service` (one
per emulated API, e.g. OpenAI's ``/v1``). Nothing here knows about OpenAI:
a service brings its own route table, auth check, error shape and headers,
so another API (Gemini's ``/v1beta``) is one more module and no change here.
"""

from __future__ import annotations

import email.utils
import json as _json
import re
import socket
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Union
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "APIError",
    "FakeAPI",
    "Headers",
    "RecordedRequest",
    "Reply",
    "RouteTable",
    "Service",
    "UploadedFile",
    "register_service",
]

#: Errors that mean "the client went away".
_GONE = (ConnectionError, TimeoutError)

HeaderItems = Union[Mapping[str, str], Iterable[tuple[str, str]]]


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive view of request headers.

    ``headers["content-type"]`` and ``.get()`` give the first value;
    :meth:`get_all` gives every value of a repeated header.
    """

    __slots__ = ("_items", "_index")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = list(items)
        index: dict[str, list[str]] = {}
        for name, value in self._items:
            index.setdefault(name.lower(), []).append(value)
        self._index = index

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        return self._index[name.lower()][0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for name, _ in self._items:
            if name.lower() not in seen:
                seen.add(name.lower())
                yield name

    def __len__(self) -> int:
        return len(self._index)

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in received order."""
        return list(self._index.get(name.lower(), ()))

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass
class UploadedFile:
    """One file part of a multipart/form-data request."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """A request as the fake server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    raw_headers: list[tuple[str, str]]
    body: bytes
    json: Any = None
    client_port: int = 0
    files: dict[str, UploadedFile] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    #: ``time.monotonic()`` when the body had been read (for retry timing).
    received_at: float = 0.0


@dataclass
class Reply:
    """What a route handler or a scripted entry answers.

    Exactly one of ``json`` (serialised), ``body`` (raw bytes/str) or
    ``events`` (Server-Sent Events: dicts become ``data: <json>``, strings
    and bytes go out verbatim) is normally set; none means an empty body.
    """

    status: int = 200
    json: Any = None
    body: bytes | str | None = None
    headers: HeaderItems | None = None
    content_type: str | None = None
    events: Iterable[Any] | None = None
    interval: float = 0.0
    chunk_size: int | None = None


class APIError(Exception):
    """Raised by a handler to answer with the service's error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code


Handler = Callable[..., Reply]


class RouteTable:
    """Ordered (method, path regex) → handler table.

    Handlers are called as ``handler(service, request, **groups)`` with the
    regex's named groups.
    """

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        """Decorator: register ``handler`` for ``method`` and a full-path regex."""
        compiled = re.compile(pattern + r"\Z")

        def register(handler: Handler) -> Handler:
            self._routes.append((method.upper(), compiled, handler))
            return handler

        return register

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler and path parameters for a request, or None."""
        for route_method, pattern, handler in self._routes:
            if route_method == method:
                found = pattern.match(path)
                if found:
                    return handler, found.groupdict()
        return None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((m, p.pattern[:-2]) for m, p, _ in self._routes)


class Service:
    """One emulated API: a path prefix, a route table, auth, errors, headers.

    Subclass it, set ``prefix`` and ``routes`` and override what differs.
    A FakeAPI creates its own instance, so state kept on ``self`` (stores)
    is per server.
    """

    prefix: str = ""
    routes: RouteTable = RouteTable()
    #: Set by FakeAPI.start(): ``http://127.0.0.1:PORT``.
    server_url: str = ""

    def handles(self, path: str) -> bool:
        """Whether ``path`` belongs to this service."""
        p = self.prefix
        return not p or path == p or path.startswith(p + "/")

    def reset(self) -> None:
        """Forget stored state."""

    def authenticate(self, request: RecordedRequest, api_key: str) -> Reply | None:
        """An error reply when the request lacks ``api_key``; None when it is fine."""
        return None

    def error(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
    ) -> Reply:
        """An error reply in this API's shape."""
        return Reply(status, json={"error": {"message": message, "type": type, "param": param, "code": code}})

    def status_error(self, status: int) -> Reply:
        """The canned error body for a scripted status given without a body."""
        return self.error(status, f"HTTP {status}")

    def not_found(self, request: RecordedRequest) -> Reply:
        """Reply for a path no route matches."""
        return self.error(404, f"Not found: {request.method} {request.path}")

    def response_headers(self, request: RecordedRequest, elapsed: float) -> list[tuple[str, str]]:
        """Headers this API puts on every reply (``elapsed`` in seconds)."""
        return []

    def dispatch(self, request: RecordedRequest) -> Reply:
        """Route a request to its handler."""
        found = self.routes.match(request.method, request.path)
        if found is None:
            return self.not_found(request)
        handler, params = found
        try:
            return handler(self, request, **params)
        except APIError as exc:
            return self.error(exc.status, exc.message, type=exc.type, param=exc.param, code=exc.code)

    def internal_error(self) -> Reply:
        """Reply when a handler crashed."""
        return self.error(500, "The fake server crashed while handling the request.")


_SERVICE_FACTORIES: list[Callable[[], Service]] = []


def register_service(factory: Callable[[], Service]) -> Callable[[], Service]:
    """Add a service (class or factory) to the ones every default FakeAPI serves."""
    if factory not in _SERVICE_FACTORIES:
        _SERVICE_FACTORIES.append(factory)
    return factory


@dataclass
class _Scripted:
    reply: Reply
    remaining: int | None


class FakeAPI:
    """A fake LLM HTTP API on ``127.0.0.1`` with an ephemeral port.

    Use as a context manager (or ``start()``/``stop()``). Requests are
    recorded in ``requests``; ``queue()`` scripts replies that are played
    before the default behaviour of the services.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        services: Sequence[Service] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        if services is None:
            services = [factory() for factory in _SERVICE_FACTORIES]
        if not services:
            raise ValueError("FakeAPI needs at least one Service")
        self.services: list[Service] = list(services)
        self.requests: list[RecordedRequest] = []
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._script: dict[tuple[str, str], deque[_Scripted]] = {}
        self._aborted = 0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------
    def start(self) -> FakeAPI:
        """Bind and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("FakeAPI is already running")
        self._stopping.clear()
        server = _Server((self._host, self._port), _Handler, fake=self)
        self._server = server
        for service in self.services:
            service.server_url = self.url
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, name=f"FakeAPI:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close open connections and join the threads."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(5)
        server.join_handlers(5)
        self._server = self._thread = None

    def __enter__(self) -> FakeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -----------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeAPI is not running")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://{self._host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` (the first service's prefix)."""
        return self.url + self.services[0].prefix

    # -- recording -----------------------------------------------------
    @property
    def last_request(self) -> RecordedRequest | None:
        """The most recent request, or None."""
        with self._lock:
            return self.requests[-1] if self.requests else None

    @property
    def aborted_streams(self) -> int:
        """SSE replies whose client went away before the end."""
        with self._lock:
            return self._aborted

    def reset(self) -> None:
        """Forget requests, scripted replies, aborted-stream count and stores."""
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self._aborted = 0
        for service in self.services:
            service.reset()

    # -- scripting -----------------------------------------------------
    def queue(
        self,
        method: str,
        path: str,
        *,
        status: int = 200,
        json: Any = None,
        body: bytes | str | None = None,
        headers: HeaderItems | None = None,
        events: Iterable[Any] | None = None,
        content_type: str | None = None,
        times: int | None = 1,
        interval: float = 0.0,
        chunk_size: int | None = None,
    ) -> None:
        """Script the next reply to ``method path`` (path with ``/v1``).

        FIFO per (method, path); ``times=None`` repeats forever. A status
        >= 400 without ``json``/``body``/``events`` gets the service's error
        body. A raw ``body`` defaults to ``application/json``.
        """
        if sum(x is not None for x in (json, body, events)) > 1:
            raise ValueError("give at most one of json, body, events")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None (forever)")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        if headers is not None:
            headers = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        if json is not None:  # encode once: scripted replies may repeat thousands of times
            body, content_type = _encode_json(json), content_type or "application/json"
        reply = Reply(
            status=status,
            body=body,
            headers=headers,
            content_type=content_type,
            events=[_encode_event(e) for e in events] if events is not None else None,
            interval=interval,
            chunk_size=chunk_size,
        )
        key = (method.upper(), path.split("?", 1)[0])
        with self._lock:
            self._script.setdefault(key, deque()).append(_Scripted(reply, times))

    def _take_scripted(self, method: str, path: str, service: Service) -> Reply | None:
        with self._lock:
            pending = self._script.get((method, path))
            if not pending:
                return None
            entry = pending[0]
            if entry.remaining is not None:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    pending.popleft()
            reply = entry.reply
        if reply.status >= 400 and reply.json is None and reply.body is None and reply.events is None:
            canned = service.status_error(reply.status)
            reply = replace(reply, json=canned.json, content_type=reply.content_type or canned.content_type)
        return reply

    # -- called by the handler threads -----------------------------------
    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _count_abort(self) -> None:
        if self._stopping.is_set():
            return
        with self._lock:
            self._aborted += 1

    def _service_for(self, path: str) -> Service:
        for service in self.services:
            if service.handles(path):
                return service
        return self.services[0]


class _Server(ThreadingHTTPServer):
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
        if isinstance(exc, _GONE) or self.fake._stopping.is_set():
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


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, UploadedFile], dict[str, str]]:
    """Split a multipart/form-data body into file parts and text fields."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    files: dict[str, UploadedFile] = {}
    form: dict[str, str] = {}
    if not message.is_multipart():
        return files, form
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = UploadedFile(filename, part.get_content_type(), data)
        else:
            charset = part.get_content_charset() or "utf-8"
            form[name] = data.decode(charset, "replace")
    return files, form


def _encode_json(value: Any) -> bytes:
    """JSON as OpenAI sends it: UTF-8, two-space indent."""
    return _json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")


def _encode_event(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    return b"data: " + _json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n\n"


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, records it, and writes the reply."""

    protocol_version = "HTTP/1.1"
    server_version = "llmplug-fake"
    sys_version = ""
    disable_nagle_algorithm = True
    server: _Server

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
                files, form = _parse_multipart(content_type, body)
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
        started = time.perf_counter()
        fake = self.server.fake
        try:
            body = self._read_body()
        except _BadRequest as exc:
            self.close_connection = True
            self._write_plain(400, [("Content-Type", "text/plain")], str(exc).encode())
            return
        request = self._build_request(body)
        fake._record(request)
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
        if reply.json is not None:
            data = _encode_json(reply.json)
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
        except _GONE:
            self.close_connection = True

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
                data = _encode_event(item)
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
        except _GONE:
            self.close_connection = True
            fake._count_abort()
        except Exception:
            self.close_connection = True
            traceback.print_exc()

