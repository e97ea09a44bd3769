"""A fault-injecting HTTP/1.1 server on 127.0.0.1 for the reliability tests.

It speaks raw sockets so it can misbehave in ways a polite server framework
will not: reset a connection mid-body, close without the last chunk, stall
after the headers, send a body that is not UTF-8. Each accepted connection
reads one request, records it, and plays the next scripted :data:`Action`
(FIFO; an unscripted request gets a 599 so a test that forgot one fails
loudly). Every reply carries ``Connection: close``: one request per
connection, so the number of recorded requests is the number of attempts.

    with FaultServer() as server:
        server.queue(stall(), times=2)
        server.queue(respond(200, json_body=CHAT))
        client = llmplug.new("openai", base_url=server.base_url, ...)
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import attrs

#: How long a stalling action waits at most (the test's timeouts are far shorter).
STALL_SECONDS = 10.0


@attrs.define
class Seen:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Conn:
    """The server side of one connection, with the primitives actions use."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self.sock = sock
        self.stop = stop

    def read_request(self) -> Seen | None:
        """Read one request (head and Content-Length body); ``None`` if the client went away."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return Seen(method, path, headers, body)

    def head(self, status: int, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        """Send the status line and headers (plus ``Connection: close``)."""
        items = list(headers.items()) if isinstance(headers, Mapping) else list(headers)
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines += [f"{name}: {value}" for name, value in items]
        lines.append("Connection: close")
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def chunk(self, data: bytes) -> None:
        """One chunk of a chunked body (an empty ``data`` is the last chunk)."""
        self.send(b"%x\r\n%s\r\n" % (len(data), data))

    def stall(self) -> None:
        """Send nothing more until the server stops (or STALL_SECONDS pass)."""
        self.stop.wait(STALL_SECONDS)

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


#: What the server does with one request.
Action = Callable[[Conn, Seen], None]

_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
            308: "Permanent Redirect", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            408: "Request Timeout", 409: "Conflict", 429: "Too Many Requests", 500: "Internal Server Error",
            502: "Bad Gateway", 503: "Service Unavailable", 599: "Unscripted"}


# -- actions --------------------------------------------------------------------------------


def respond(
    status: int = 200,
    body: bytes | str = b"",
    *,
    json_body: Any = None,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Action:
    """A complete reply with a Content-Length body."""
    if json_body is not None:
        body, content_type = json.dumps(json_body).encode(), content_type or "application/json"
    data = body.encode() if isinstance(body, str) else body

    def action(conn: Conn, seen: Seen) -> None:
        items = {"Content-Type": content_type or "text/plain", **(headers or {}), "Content-Length": str(len(data))}
        conn.head(status, items)
        conn.send(data)

    return action


def drop() -> Action:
    """Read the request, then close the connection without a byte of reply."""
    return lambda conn, seen: None


def reset_before_reply() -> Action:
    """Read the request, then reset the connection."""
    return lambda conn, seen: conn.reset()


def stall() -> Action:
    """Read the request and never answer."""
    return lambda conn, seen: conn.stall()


def partial_body(body: bytes, sent: int, *, then: str = "close", content_type: str = "application/json") -> Action:
    """Promise ``len(body)`` bytes, send ``sent`` of them, then ``close`` (FIN), ``reset`` (RST) or ``stall``."""

    def action(conn: Conn, seen: Seen) -> None:
        conn.head(200, {"Content-Type": content_type, "Content-Length": str(len(body))})
        conn.send(body[:sent])
        _end(conn, then)

    return action


def sse(
    events: Iterable[bytes | str | Mapping[str, Any]],
    *,
    end: str = "done",
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Action:
    """A chunked ``text/event-stream`` reply, one chunk per event.

    A mapping becomes ``data: <json>``; ``bytes``/``str`` are sent as given (so a
    test can send half an event). ``end``: ``done`` (``data: [DONE]`` and the
    last chunk), ``eof`` (the last chunk, no terminator event), ``close`` (FIN
    without the last chunk), ``reset`` (RST) or ``stall`` (go quiet).
    """
    frames = [_frame(e) for e in events]

    def action(conn: Conn, seen: Seen) -> None:
        conn.head(status, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked", **(headers or {})})
        for frame in frames:
            conn.chunk(frame)
        if end == "done":
            conn.chunk(b"data: [DONE]\n\n")
            conn.chunk(b"")
        elif end == "eof":
            conn.chunk(b"")
        else:
            _end(conn, end)

    return action


def cut_chunk(events: Iterable[bytes | str | Mapping[str, Any]], piece: bytes, promised: int) -> Action:
    """A chunked ``text/event-stream`` reply that sends ``events`` (one chunk
    each), then a chunk-size line promising ``promised`` bytes, only ``piece``
    of them (fewer), and closes the connection (FIN) mid-chunk."""
    if len(piece) >= promised:
        raise ValueError("the cut chunk must send fewer bytes than it promises")
    frames = [_frame(e) for e in events]

    def action(conn: Conn, seen: Seen) -> None:
        conn.head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"})
        for frame in frames:
            conn.chunk(frame)
        conn.send(b"%x\r\n%s" % (promised, piece))

    return action


def trickle(pieces: Iterable[bytes], interval: float, *, content_type: str = "text/event-stream") -> Action:
    """A chunked reply sending one piece every ``interval`` seconds (never idle for
    long, never done while pieces last): only a total timeout stops it."""

    def action(conn: Conn, seen: Seen) -> None:
        conn.head(200, {"Content-Type": content_type, "Transfer-Encoding": "chunked"})
        for piece in pieces:
            conn.chunk(piece)
            if conn.stop.wait(interval):
                return
        conn.chunk(b"")

    return action


def drip(head: Mapping[str, str], body: bytes, interval: float, *, status: int = 200, from_head: bool = False) -> Action:
    """A reply whose bytes come one at a time, every ``interval`` seconds: the
    body only, or (``from_head``) the status line and headers too. Each read
    gets a byte long before any read timeout: only a total deadline ends it."""

    def action(conn: Conn, seen: Seen) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", *(f"{k}: {v}" for k, v in head.items())]
        raw_head = ("\r\n".join([*lines, "Connection: close"]) + "\r\n\r\n").encode("latin-1")
        if not from_head:
            conn.send(raw_head)
        for byte in (raw_head if from_head else b"") + body:
            conn.send(bytes([byte]))
            if conn.stop.wait(interval):
                return

    return action


def redirect(location: str, status: int = 307) -> Action:
    """A redirect to ``location`` (absolute: another origin, or a path)."""
    return respond(status, b"", headers={"Location": location})


def _frame(event: bytes | str | Mapping[str, Any]) -> bytes:
    if isinstance(event, Mapping):
        return b"data: " + json.dumps(event).encode() + b"\n\n"
    return event.encode() if isinstance(event, str) else event


def _end(conn: Conn, how: str) -> None:
    if how == "reset":
        conn.reset()
    elif how == "stall":
        conn.stall()
    elif how != "close":
        raise ValueError(f"unknown ending {how!r}")


# -- the server ------------------------------------------------------------------------------


class FaultServer:
    """A scripted, misbehaving HTTP/1.1 server on ``127.0.0.1:<ephemeral>`` in a thread."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.requests: list[Seen] = []
        self.connections = 0
        self._script: deque[list[Any]] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept_loop, name="FaultServer", daemon=True)

    @property
    def port(self) -> int:
        return self._listener.getsockname()[1]

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    def queue(self, action: Action, times: int = 1) -> FaultServer:
        """Play ``action`` for the next ``times`` requests (after those already queued)."""
        with self._lock:
            self._script.append([action, times])
        return self

    def _next_action(self) -> Action:
        with self._lock:
            if not self._script:
                return respond(599, "no action scripted for this request")
            entry = self._script[0]
            entry[1] -= 1
            if entry[1] <= 0:
                self._script.popleft()
            return entry[0]

    def start(self) -> FaultServer:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop accepting, end every stall, and join the threads."""
        self._stop.set()
        try:  # wake the blocking accept()
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        except OSError:
            pass
        self._acceptor.join(5)
        self._listener.close()
        for thread in self._threads:
            thread.join(5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            if self._stop.is_set():
                sock.close()
                return
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        with self._lock:
            self.connections += 1
        try:
            sock.settimeout(STALL_SECONDS)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_side=True)
            conn = Conn(sock, self._stop)
            seen = conn.read_request()
            if seen is None:
                return
            with self._lock:
                self.requests.append(seen)
            self._next_action()(conn, seen)
        except (OSError, ssl.SSLError):
            pass  # the client went away or failed the TLS handshake: that is the point
        finally:
            try:
                sock.close()
            except OSError:
                pass


def refused_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


@contextlib.contextmanager
def full_backlog_url() -> Iterator[str]:
    """A base URL whose listener never accepts and whose accept queue is full,
    so a new connection never completes (on Linux the SYN is dropped): a
    connect timeout."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(3):
                filler = socket.socket()
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", port))
                fillers.append(filler)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            for filler in fillers:
                filler.close()
