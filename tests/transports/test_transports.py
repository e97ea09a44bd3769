"""The transport contract, run against every built-in transport, sync and
async (an async one through ``synced.py``, as ``async-NAME``), and a real
HTTP/1.1 server on loopback (see ``conftest.py``)."""

from __future__ import annotations

import importlib
import json
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pluggy
import pytest

from llmplug.core import hookspecs
from llmplug.core.errors import APIConnectionError, APITimeoutError, StreamError
from llmplug.core.http import AsyncTransport, Request, Response, Timeout, Transport
from llmplug.core.specs import TransportSpec
from llmplug.core.transport_support import STDLIB_ERRORS, BackendStream, map_exceptions, redact_url

from tests.transports.synced import Synced

#: Each transport name and the module that registers it.
MODULES = {
    "aiohttp": "llmplug.transports.aiohttp",
    "httpx": "llmplug.transports.httpx",
    "httpx2": "llmplug.transports.httpx",
    "requests": "llmplug.transports.requests",
    "urllib": "llmplug.transports.urllib",
}
#: name: (requires, priority, sync, async)
EXPECTED = {
    "aiohttp": (("aiohttp",), 20, False, True),
    "httpx": (("httpx",), 30, True, True),
    "httpx2": (("httpx2",), 25, True, True),
    "requests": (("requests",), 20, True, False),
    "urllib": ((), 10, True, True),
}
#: The transports run through the contract: the sync ones, and the native async ones as
#: ``async-NAME`` (urllib's async twin is the sync transport on a thread pool).
SYNC = ("httpx", "httpx2", "requests", "urllib")
ASYNC = ("async-aiohttp", "async-httpx", "async-httpx2")
#: Every backend library a transport module may import when a transport is built.
BACKENDS = ("aiohttp", "httpx", "httpcore", "httpx2", "httpcore2", "requests", "urllib3")
REPO = Path(__file__).resolve().parents[2]
FAST = Timeout(connect=2.0, read=2.0)
#: Headers a transport may add to the request's own.
ALLOWED_EXTRA = {"host", "content-length", "accept-encoding"}


def spec_of(name: str) -> TransportSpec:
    """The spec named ``name`` its module registers, through a real pluggy manager."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(importlib.import_module(MODULES[name]))
    specs: list[TransportSpec] = []
    pm.hook.llmplug_register_transports(register=specs.append)
    [spec] = [spec for spec in specs if spec.name == name]
    return spec


def build(name: str, verify: bool = True) -> Transport:
    """The sync transport ``name``, or the async one of ``async-NAME`` with the sync API."""
    if name.startswith("async-"):
        factory = spec_of(name[len("async-"):]).async_factory
        assert factory is not None
        return Synced(factory(verify=verify))
    factory = spec_of(name).factory
    assert factory is not None
    return factory(verify=verify)


@pytest.fixture(params=SYNC + ASYNC)
def transport_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def transport(transport_name: str) -> Iterator[Transport]:
    with build(transport_name) as transport:
        yield transport


def get(server: Any, path: str, method: str = "GET", timeout: Timeout = FAST, **kwargs: Any) -> Request:
    return Request(method, server.url(path), timeout=timeout, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- registration and imports ---------------------------------------------------------------


def test_builtin_plugins_list_the_transport_modules() -> None:
    from llmplug.core.plugins import builtin_plugins

    assert [m for m in builtin_plugins() if m.startswith("llmplug.transports.")] == [
        MODULES[n] for n in ("httpx", "requests", "urllib", "aiohttp")
    ]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_registers_its_spec(name: str) -> None:
    spec = spec_of(name)
    requires, priority, sync, asynchronous = EXPECTED[name]
    assert (spec.name, spec.requires, spec.priority) == (name, requires, priority)
    assert spec.available()
    assert spec.description
    assert (spec.factory is not None, spec.async_factory is not None) == (sync, asynchronous)
    if isinstance(spec.factory, type):
        assert issubclass(spec.factory, Transport) and spec.factory.name == name
    if spec.async_factory is not None:
        with build(f"async-{name}") as transport:
            assert isinstance(transport.inner, AsyncTransport) and transport.name == name  # type: ignore[attr-defined]
    if name in ("aiohttp", "httpx2"):
        assert spec.install_hint == f'pip install "llmplug[{name}]"'


@pytest.mark.parametrize("module", sorted(set(MODULES.values())))
def test_import_does_not_import_the_backend(module: str) -> None:
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        f"print(sorted(m for m in {BACKENDS!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_clients_import_only_the_backend_they_use() -> None:
    """``import llmplug`` loads no backend, the default clients (httpx) neither aiohttp nor httpx2."""
    code = (
        "import asyncio, sys\n"
        "import llmplug\n"
        "llmplug.transports()\n"
        f"print(sorted(m for m in {BACKENDS!r} if m in sys.modules))\n"
        "client = llmplug.new('openai', api_key='k')\n"
        "async def main():\n"
        "    async with llmplug.new_async('openai', api_key='k') as client:\n"
        "        return type(client.transport).__name__\n"
        "print(type(client.transport).__name__, asyncio.run(main()))\n"
        "print(sorted(m for m in ('aiohttp', 'httpx2', 'httpcore2') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["[]", "HttpxTransport AsyncHttpxTransport", "[]"]


def test_aiohttp_has_no_sync_twin() -> None:
    import llmplug

    with pytest.raises(llmplug.ConfigurationError, match="transport 'aiohttp' has no sync twin, so llmplug.new"):
        llmplug.new("openai", api_key="k", transport="aiohttp")


# -- what goes on the wire ------------------------------------------------------------------


def test_repeated_response_headers_keep_every_value(transport: Transport, server: Any) -> None:
    """Every transport hands back the same multi-dict: each value, and the join."""
    response = transport.send(Request("GET", server.url("/repeated-headers")))
    response.read()
    headers = response.headers
    assert headers.get_list("set-cookie") == ["a=1; Path=/", "b=2, with comma"]
    assert headers.get_list("Link") == ["<https://x.test/1>; rel=next", "<https://x.test/0>; rel=prev"]
    assert headers["link"] == "<https://x.test/1>; rel=next, <https://x.test/0>; rel=prev"
    cookies = [(k.lower(), v) for k, v in headers.multi_items() if k.lower() == "set-cookie"]
    assert cookies == [("set-cookie", "a=1; Path=/"), ("set-cookie", "b=2, with comma")]
    assert headers.get_list("x-missing") == []


def test_get_sends_only_the_request_headers(transport: Transport, server: Any) -> None:
    request = get(server, "/echo?x=1&y=two", headers={"X-Test": "a", "User-Agent": "llmplug-test/1"})
    response = transport.send(request)
    assert isinstance(response, Response) and response.request is request
    assert response.status_code == 200
    assert response.headers["x-echo-method"] == "GET"
    assert response.read() == b""
    [record] = server.records
    assert (record.method, record.target, record.body) == ("GET", "/echo?x=1&y=two", b"")
    assert record.header("Host") == f"127.0.0.1:{server.port}"
    assert record.header("User-Agent") == "llmplug-test/1"
    assert record.header("X-Test") == "a"
    assert "content-type" not in record.header_names
    assert "content-length" not in record.header_names
    assert record.header_names <= {"x-test", "user-agent"} | ALLOWED_EXTRA


def test_post_sends_the_body_exactly(transport: Transport, server: Any) -> None:
    content = bytes(range(256)) + json.dumps({"a": "é"}).encode()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer sk-test"}
    response = transport.send(get(server, "/echo", "POST", headers=headers, content=content))
    assert response.status_code == 200
    assert response.headers["X-Echo-Method"] == "POST"
    assert response.read() == content
    [record] = server.records
    assert (record.method, record.body) == ("POST", content)
    assert record.header("Content-Length") == str(len(content))
    assert record.header("Content-Type") == "application/json"
    assert record.header("Authorization") == "Bearer sk-test"
    assert "user-agent" not in record.header_names  # no library default User-Agent
    assert record.header_names <= {"content-type", "authorization"} | ALLOWED_EXTRA


def test_netrc_credentials_are_not_sent(transport_name: str, server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login user password netrc-secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    with build(transport_name) as transport:
        assert transport.send(get(server, "/echo")).read() == b""
    assert "authorization" not in server.records[0].header_names


def test_redirect_is_returned_not_followed(transport: Transport, server: Any) -> None:
    response = transport.send(get(server, "/redirect"))
    assert response.status_code == 302
    assert response.headers["location"] == "/echo"
    assert response.read() == b""
    assert [r.target for r in server.records] == ["/redirect"]


def test_gzip_body_is_decoded(transport: Transport, server: Any) -> None:
    response = transport.send(get(server, "/gzip"))
    assert response.headers["content-encoding"] == "gzip"
    assert response.read() == server.gzip_text
    assert "gzip" in (server.records[0].header("Accept-Encoding") or "")


# -- connections ----------------------------------------------------------------------------


def test_keep_alive_reuses_the_connection(transport: Transport, server: Any) -> None:
    for _ in range(2):
        assert transport.send(get(server, "/echo")).read() == b""
    first, second = server.records
    assert first.client_port == second.client_port


def test_connection_dropped_by_server_while_idle_is_replaced(transport: Transport, server: Any) -> None:
    assert transport.send(get(server, "/close-after")).read() == b"bye"
    assert server.connection_closed.wait(5)
    time.sleep(0.05)
    assert transport.send(get(server, "/echo", "POST", content=b"again")).read() == b"again"
    first, second = server.records
    assert first.client_port != second.client_port


def test_urllib_retries_once_on_a_stale_pooled_connection(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    module = importlib.import_module(MODULES["urllib"])
    monkeypatch.setattr(module, "_is_dropped", lambda sock: False)  # reuse the dead connection
    with module.UrllibTransport() as transport:
        assert transport.send(get(server, "/close-after")).read() == b"bye"
        assert server.connection_closed.wait(5)
        time.sleep(0.05)
        assert transport.send(get(server, "/echo", "POST", content=b"again")).read() == b"again"
    assert [r.target for r in server.records] == ["/close-after", "/echo"]
    assert server.records[0].client_port != server.records[1].client_port


def test_concurrent_requests(transport: Transport, server: Any) -> None:
    def call(i: int) -> bytes:
        return transport.send(get(server, f"/echo?i={i}", "POST", content=b"body %d" % i)).read()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(call, range(40)))
    assert results == [b"body %d" % i for i in range(40)]
    assert len({r.client_port for r in server.records}) <= 8


# -- streaming ------------------------------------------------------------------------------


def test_body_is_streamed_incrementally(transport: Transport, server: Any) -> None:
    response = transport.send(get(server, "/stream", timeout=Timeout(connect=2, read=3)))
    assert response.status_code == 200
    chunks = iter(response.stream)
    received = b""
    while len(received) < len(b"data: one\n\n"):
        received += next(chunks)  # the server sends nothing more until `release` is set
    assert received == b"data: one\n\n"
    assert not server.release.is_set()
    server.release.set()
    assert b"".join(chunks) == b"data: two\n\n"


def test_close_mid_stream_releases_the_connection(transport: Transport, server: Any) -> None:
    response = transport.send(get(server, "/endless"))
    assert next(iter(response.stream))
    response.close()
    assert server.disconnected.wait(5), "the server kept writing to an open connection"
    with pytest.raises(StreamError):
        next(iter(response.stream))
    assert transport.send(get(server, "/echo", "POST", content=b"next")).read() == b"next"


# -- errors ---------------------------------------------------------------------------------


def test_connection_refused(transport: Transport) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1/x?key=query-secret-1234"
    request = Request("GET", url, headers={"Authorization": "Bearer sk-header-secret"}, timeout=FAST)
    with pytest.raises(APIConnectionError) as info:
        transport.send(request)
    error = info.value
    assert not isinstance(error, APITimeoutError)
    assert error.request is request
    message = str(error)
    assert message.startswith("connection failed while sending GET http://127.0.0.1:")
    assert "/v1/x?key=[REDACTED]" in message
    assert "query-secret-1234" not in message and "sk-header-secret" not in message
    # The backend's exception is chained unless it quotes a secret: urllib3's message and
    # httpx's request object carry the URL with its ?key=; http.client's and aiohttp's errors do not.
    shown = "".join(traceback.format_exception(error))
    assert "query-secret-1234" not in shown and "sk-header-secret" not in shown
    assert (error.__cause__ is None) == (transport.name in ("httpx", "httpx2", "requests"))


def test_backend_exception_is_chained_when_it_quotes_no_secret(transport: Transport) -> None:
    request = Request("GET", f"http://127.0.0.1:{free_port()}/v1/x", headers={"Authorization": "Bearer sk-x"}, timeout=FAST)
    with pytest.raises(APIConnectionError) as info:
        transport.send(request)
    assert info.value.__cause__ is not None


def test_server_that_never_answers_times_out(transport: Transport, server: Any) -> None:
    started = time.monotonic()
    with pytest.raises(APITimeoutError) as info:
        transport.send(get(server, "/stall-headers", timeout=Timeout(connect=2, read=0.3)))
    assert time.monotonic() - started < 3
    assert f"timed out while waiting for the response to GET {server.url('/stall-headers')}" in str(info.value)


def test_stall_mid_body_times_out_while_iterating(transport: Transport, server: Any) -> None:
    response = transport.send(get(server, "/stall-body", timeout=Timeout(connect=2, read=0.3)))
    assert response.status_code == 200
    received: list[bytes] = []
    with pytest.raises(APITimeoutError) as info:
        for chunk in response.stream:
            received.append(chunk)
    assert b"".join(received) == b"x" * 10
    assert "reading the response body of GET" in str(info.value)
    stream = getattr(response.stream, "wrapped", response.stream)  # an async transport's, under Synced
    assert isinstance(stream, BackendStream) and stream.closed


@pytest.mark.parametrize("path", ["/truncated", "/truncated-chunked"])
def test_truncated_body_is_an_error(transport: Transport, server: Any, path: str) -> None:
    response = transport.send(get(server, path))
    assert response.status_code == 200
    with pytest.raises(APIConnectionError) as info:
        response.read()
    assert not isinstance(info.value, APITimeoutError)
    assert f"reading the response body of GET {server.url(path)}" in str(info.value)


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_https_verifies_unless_told_not_to(transport_name: str, tls_server: Any) -> None:
    with build(transport_name, verify=True) as transport:
        with pytest.raises(APIConnectionError) as info:
            transport.send(get(tls_server, "/echo"))
        assert not isinstance(info.value, APITimeoutError)
    with build(transport_name, verify=False) as transport:
        response = transport.send(get(tls_server, "/echo", "POST", content=b"secure"))
        assert (response.status_code, response.read()) == (200, b"secure")


# -- shared support -------------------------------------------------------------------------


class Backend(Exception):
    pass


TABLE = ((Backend, APIConnectionError), *STDLIB_ERRORS)


def test_backend_stream_closes_exactly_once() -> None:
    request = Request("GET", "http://example.test/x")

    def ends() -> Iterator[bytes]:
        yield b"a"
        yield b""
        yield b"b"

    def fails() -> Iterator[bytes]:
        yield b"a"
        raise socket.timeout("timed out")

    closes: list[str] = []
    stream = BackendStream(ends(), lambda: closes.append("ends"), TABLE, request)
    assert list(stream) == [b"a", b"b"]  # empty chunks are skipped
    stream.close()
    failing = BackendStream(fails(), lambda: closes.append("fails"), TABLE, request)
    with pytest.raises(APITimeoutError):
        list(failing)
    failing.close()
    closed_early = BackendStream(ends(), lambda: closes.append("early"), TABLE, request)
    closed_early.close()
    closed_early.close()
    with pytest.raises(StreamError):
        list(closed_early)
    assert closes == ["ends", "fails", "early"]


def test_map_exceptions_uses_the_first_matching_row() -> None:
    request = Request("POST", "http://example.test/x")
    with pytest.raises(APITimeoutError) as timeout:
        with map_exceptions(TABLE, request):
            raise TimeoutError("slow")
    assert str(timeout.value) == "timed out while sending POST http://example.test/x: TimeoutError: slow"
    with pytest.raises(APIConnectionError) as backend:
        with map_exceptions(TABLE, request):
            raise Backend("boom")
    assert isinstance(backend.value.__cause__, Backend) and not isinstance(backend.value, APITimeoutError)
    with pytest.raises(KeyError):  # not network-ish: not ours to map
        with map_exceptions(TABLE, request):
            raise KeyError("x")


def test_redact_url() -> None:
    assert redact_url("https://u:pw@h/p?key=abc&alt=sse") == "https://u:[REDACTED]@h/p?key=[REDACTED]&alt=sse"
    assert redact_url("http://h/p?alt=sse") == "http://h/p?alt=sse"
