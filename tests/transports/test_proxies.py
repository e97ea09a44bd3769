"""Proxies from the environment, through every transport, against a real
forwarding proxy on loopback: plain HTTP in absolute form, HTTPS through a
``CONNECT`` tunnel, ``NO_PROXY`` honoured, proxy credentials sent."""

from __future__ import annotations

import base64
import socket
import socketserver
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from llmplug.core.errors import APIConnectionError
from llmplug.core.http import Transport

from tests.transports.test_transports import ASYNC, FAST, SYNC, build, get


class _ProxyHandler(socketserver.StreamRequestHandler):
    """One request a connection: forwarded in origin form, or a CONNECT tunnel."""

    server: ForwardProxy

    def handle(self) -> None:
        line = self.rfile.readline().decode("latin-1").strip()
        if not line:
            return
        headers: list[tuple[str, str]] = []
        while (field := self.rfile.readline().decode("latin-1").strip()):
            name, _, value = field.partition(":")
            headers.append((name, value.strip()))
        auth = next((v for n, v in headers if n.lower() == "proxy-authorization"), None)
        self.server.seen.append((line, auth))
        method, target, _ = line.split(" ", 2)
        if self.server.refuse:
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        if method == "CONNECT":
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)))
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            _pipe(self.connection, upstream)
            return
        parts = urlsplit(target)
        length = int(next((v for n, v in headers if n.lower() == "content-length"), "0"))
        body = self.rfile.read(length)
        kept = [(n, v) for n, v in headers if not n.lower().startswith("proxy-") and n.lower() != "connection"]
        head = f"{method} {parts.path}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
        head += "".join(f"{n}: {v}\r\n" for n, v in kept) + "Connection: close\r\n\r\n"
        with socket.create_connection((parts.hostname, parts.port)) as upstream:
            upstream.sendall(head.encode("latin-1") + body)
            while chunk := upstream.recv(65536):
                self.wfile.write(chunk)


def _pipe(client: socket.socket, upstream: socket.socket) -> None:
    def copy(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    back = threading.Thread(target=copy, args=(upstream, client), daemon=True)
    back.start()
    copy(client, upstream)
    back.join(5)
    upstream.close()


class ForwardProxy(socketserver.ThreadingTCPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        #: (request line, Proxy-Authorization) of every request the proxy got.
        self.seen: list[tuple[str, str | None]] = []
        self.refuse = False

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def proxy() -> Iterator[ForwardProxy]:
    server = ForwardProxy()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def _transport(name: str, verify: bool = True) -> Transport:
    return build(name, verify=verify)  # built after the environment is set: proxies are read then


@pytest.mark.parametrize("name", SYNC + ASYNC)
def test_plain_http_goes_through_the_proxy_in_absolute_form(
    name: str, proxy: ForwardProxy, server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url("user%40x:p%3Ass@"))
    with _transport(name) as transport:
        response = transport.send(get(server, "/echo?q=1", "POST", content=b"via proxy"))
        assert response.status_code == 200 and response.read() == b"via proxy"
    line, auth = proxy.seen[0]
    assert line == f"POST {server.url('/echo?q=1')} HTTP/1.1"
    assert auth == "Basic " + base64.b64encode(b"user@x:p:ss").decode()
    assert server.records[0].target == "/echo?q=1" and server.records[0].body == b"via proxy"


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
@pytest.mark.parametrize("name", SYNC + ASYNC)
def test_https_goes_through_a_connect_tunnel(
    name: str, proxy: ForwardProxy, tls_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url())
    with _transport(name, verify=False) as transport:
        response = transport.send(get(tls_server, "/echo", "POST", content=b"tunnelled"))
        assert response.status_code == 200 and response.read() == b"tunnelled"
    assert proxy.seen[0][0].startswith(f"CONNECT 127.0.0.1:{tls_server.port} HTTP/1.")
    assert tls_server.records[0].target == "/echo"  # the origin saw an ordinary request


@pytest.mark.parametrize("name", SYNC + ASYNC)
def test_no_proxy_sends_directly(name: str, proxy: ForwardProxy, server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url())
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with _transport(name) as transport:
        assert transport.send(get(server, "/echo")).read() == b""
    assert proxy.seen == [] and server.records[0].target == "/echo"


@pytest.mark.parametrize("name", SYNC + ASYNC)
def test_a_refused_tunnel_is_a_connection_error(
    name: str, proxy: ForwardProxy, tls_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy.refuse = True
    monkeypatch.setenv("HTTPS_PROXY", proxy.url("me:secret-proxy-pass@"))
    with _transport(name, verify=False) as transport, pytest.raises(APIConnectionError) as caught:
        transport.send(get(tls_server, "/echo", timeout=FAST))
    assert "secret-proxy-pass" not in str(caught.value)
    assert proxy.seen[0][1] == "Basic " + base64.b64encode(b"me:secret-proxy-pass").decode()  # on the CONNECT
    assert tls_server.records == []


def test_urllib_names_an_unsupported_proxy_scheme(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "socks5://127.0.0.1:1080")
    with _transport("urllib") as transport, pytest.raises(APIConnectionError, match="http:// proxies only"):
        transport.send(get(server, "/echo"))
