"""The ``urllib`` transport: the standard library only (``http.client``).

Always available. It keeps its own small, thread-safe keep-alive pool keyed
by ``(scheme, host, port, proxy)``, decodes gzip/deflate bodies, and takes
proxies from the environment as urllib does (``HTTP_PROXY``, ``HTTPS_PROXY``,
``ALL_PROXY``, ``NO_PROXY``, read when the transport is built): plain HTTP is
sent to the proxy in absolute form, HTTPS through a ``CONNECT`` tunnel.
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import ssl
import threading
import zlib
from collections.abc import Callable, Iterator
from urllib.parse import unquote, urlsplit

from llmplug.plugin import (
    APIConnectionError, CHUNK_SIZE, EnvironmentProxies, ErrorTable, hookimpl, backend_response, map_exceptions,
    outgoing_headers, Request, Response, STDLIB_ERRORS, threaded, Transport, TransportSpec,
)


@hookimpl
def llmplug_register_transports(register: Callable[[TransportSpec], None]) -> None:
    spec = TransportSpec("urllib", UrllibTransport, requires=(), priority=10, async_factory=threaded(UrllibTransport),
        description="standard library http.client with its own keep-alive pool; no dependencies")
    register(spec)

#: ``(scheme, host, port, proxy URL or "")``
PoolKey = tuple[str, str, int, str]

_DEFAULT_PORTS = {"http": 80, "https": 443}

#: A reused connection that fails with one of these before any response byte
#: was closed by the server while idle: the request is sent again, once.
#: (``RemoteDisconnected`` is a ``ConnectionResetError``.)
_STALE_ERRORS = (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError, ConnectionAbortedError)

_ERRORS: ErrorTable = (
    (zlib.error, APIConnectionError),  # a body that does not match its Content-Encoding
    *STDLIB_ERRORS,
)


class HeadTimeout(TimeoutError):
    """The read timeout expired while the response head was awaited."""


class UnsupportedURL(http.client.HTTPException):
    """The URL is not ``http://`` or ``https://`` with a host."""


def _is_dropped(sock: socket.socket | None) -> bool:
    """Whether an idle connection was closed by the server (readable at rest means EOF or junk)."""
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


class ConnectionPool:
    """Idle ``http.client`` connections by ``(scheme, host, port)``; thread-safe.

    A connection is either checked out by one request or idle here, never both.
    """

    def __init__(self, verify: bool = True, max_idle_per_host: int = 10) -> None:
        self._lock = threading.Lock()
        self._idle: dict[PoolKey, list[http.client.HTTPConnection]] = {}
        self._max_idle = max_idle_per_host
        self._closed = False
        self._ssl_context = ssl.create_default_context()
        if not verify:
            self._ssl_context.check_hostname = False
            self._ssl_context.verify_mode = ssl.CERT_NONE
        self._ssl_context.set_alpn_protocols(["http/1.1"])

    def acquire(self, key: PoolKey, connect_timeout: float | None) -> tuple[http.client.HTTPConnection, bool]:
        """An idle live connection to ``key`` (reused=True), or a newly connected one."""
        with self._lock:
            idle = self._idle.get(key, [])
            while idle:
                conn = idle.pop()
                if not _is_dropped(conn.sock):
                    return conn, True
                conn.close()
        scheme, host, port, proxy = key
        conn: http.client.HTTPConnection
        if proxy:  # connect to the proxy; an HTTPS target goes through a CONNECT tunnel
            proxy_host, proxy_port, auth = _proxy_address(proxy)
            if scheme == "https":
                conn = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=connect_timeout, context=self._ssl_context)
                conn.set_tunnel(host, port, headers=auth)
            else:
                conn = http.client.HTTPConnection(proxy_host, proxy_port, timeout=connect_timeout)
        elif scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=self._ssl_context)
        else:
            conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        try:
            conn.connect()
        except BaseException:
            conn.close()
            raise
        return conn, False

    def release(self, key: PoolKey, conn: http.client.HTTPConnection) -> None:
        """Keep ``conn`` for reuse, or close it if the pool is closed or full."""
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if not self._closed and len(idle) < self._max_idle:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        """Close every idle connection; connections in use close when released."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()


class _Body:
    """Reads one response body from its pooled connection and hands the
    connection back, or discards it if the body was not read to its end."""

    def __init__(
        self, pool: ConnectionPool, key: PoolKey, conn: http.client.HTTPConnection, response: http.client.HTTPResponse
    ) -> None:
        self._pool = pool
        self._key = key
        self._conn = conn
        self._response = response
        self._complete = False

    def chunks(self) -> Iterator[bytes]:
        """The decoded body, each read returning what has arrived."""
        response = self._response
        encoding = (response.getheader("Content-Encoding") or "").strip().lower()
        # wbits 32+: zlib or gzip framing, detected from the header bytes.
        decoder = zlib.decompressobj(32 + zlib.MAX_WBITS) if encoding in ("gzip", "x-gzip", "deflate") else None
        while True:
            expected = response.length  # bytes still due by Content-Length (None: chunked / until close)
            data = response.read1(CHUNK_SIZE)
            if not data:
                if expected:  # http.client's read1 returns b"" on a short body instead of raising
                    raise http.client.IncompleteRead(b"", expected)
                break
            yield decoder.decompress(data) if decoder else data
        if decoder:
            yield decoder.flush()
        response.close()  # read1 does not mark a Content-Length body done; the socket stays open
        self._complete = True

    def release(self) -> None:
        """Pool the connection if the body was read cleanly, else close it."""
        if self._complete and not self._response.will_close and self._conn.sock is not None:
            self._pool.release(self._key, self._conn)
        else:
            self._response.close()
            self._conn.close()


class UrllibTransport(Transport):
    """Sends requests with ``http.client``: pooled, redirects not followed."""

    name = "urllib"

    def __init__(self, verify: bool = True) -> None:
        self._pool = ConnectionPool(verify=verify)
        self._proxies = EnvironmentProxies()

    def send(self, request: Request) -> Response:
        """Send ``request``; return once the headers are in, body unread."""
        with map_exceptions(_ERRORS, request, waiting=(HeadTimeout,)):
            key, target = _split(request.url, self._proxies.proxy_for)
            headers = dict(outgoing_headers(request).items())
            if key[3] and key[0] == "http":  # plain HTTP through a proxy: its credentials ride on the request
                headers.update(_proxy_address(key[3])[2])
            conn, response = self._exchange(key, target, request, headers)
        body = _Body(self._pool, key, conn, response)
        return backend_response(response.status, response.getheaders(), body.chunks(), body.release, _ERRORS, request)

    def _exchange(
        self, key: PoolKey, target: str, request: Request, headers: dict[str, str]
    ) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
        """Send on a pooled connection and read the headers; retry once on a stale one."""
        retried = False
        while True:
            conn, reused = self._pool.acquire(key, request.timeout.connect)
            try:
                if conn.sock is not None:  # connected: the rest of the exchange uses the read timeout
                    conn.sock.settimeout(request.timeout.read)
                conn.request(request.method, target, body=request.content, headers=headers)
                try:
                    return conn, conn.getresponse()
                except TimeoutError as exc:
                    raise HeadTimeout(*exc.args) from exc
            except _STALE_ERRORS:
                conn.close()
                if not reused or retried:
                    raise
                retried = True
            except BaseException:
                conn.close()
                raise

    def close(self) -> None:
        """Close every pooled connection."""
        self._pool.close()


def _split(url: str, proxy_for: Callable[[str, str], str]) -> tuple[PoolKey, str]:
    """The pool key and request target of ``url``: its path and query, or the
    whole URL when plain HTTP goes through a proxy."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        port = parts.port or _DEFAULT_PORTS.get(scheme, 0)
    except ValueError as exc:  # a bad port or IPv6 literal
        raise UnsupportedURL(f"invalid URL: {exc}") from None
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise UnsupportedURL("only http:// and https:// URLs with a host are supported")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    proxy = proxy_for(scheme, parts.hostname)
    if proxy and scheme == "http":
        target = f"http://{parts.netloc.rpartition('@')[2]}{target}"
    return (scheme, parts.hostname, port, proxy), target


def _proxy_address(proxy: str) -> tuple[str, int, dict[str, str]]:
    """The host, port and ``Proxy-Authorization`` header of an ``http://`` proxy URL."""
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise UnsupportedURL(
            f"the urllib transport supports http:// proxies only, not {parts.scheme}://{parts.hostname or ''}: "
            "unset the *_PROXY variable or pick another transport"
        )
    auth = {}
    if parts.username is not None:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        auth["Proxy-Authorization"] = "Basic " + base64.b64encode(token).decode("ascii")
    return parts.hostname, parts.port or 80, auth
