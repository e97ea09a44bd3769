"""The ``httpx`` transport: an :class:`httpx.Client` with keep-alive pooling,
and its async twin on :class:`httpx.AsyncClient`; and the ``httpx2``
transport, the same code on httpx2 (a fork of httpx that keeps its API).

Neither library is imported by this module, only when a transport is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from llmplug.plugin import (
    APIConnectionError, APITimeoutError, AsyncTransport, ErrorTable, hookimpl, async_backend_response,
    backend_response, map_exceptions, outgoing_headers, RejectCookies, Request, Response, STDLIB_ERRORS,
    Transport, TransportSpec,
)


@hookimpl
def llmplug_register_transports(register: Callable[[TransportSpec], None]) -> None:
    spec = TransportSpec("httpx", HttpxTransport, requires=("httpx",), priority=30, async_factory=AsyncHttpxTransport,
        description="httpx.Client / httpx.AsyncClient: HTTP/1.1 keep-alive pool", install_hint='pip install "llmplug[httpx]"')
    register(spec)
    spec = TransportSpec("httpx2", Httpx2Transport, requires=("httpx2",), priority=25, async_factory=AsyncHttpx2Transport,
        description="httpx2.Client / httpx2.AsyncClient (the httpx fork): HTTP/1.1 keep-alive pool",
        install_hint='pip install "llmplug[httpx2]"')
    register(spec)


class _HttpxBase:
    """What the sync and async transports share: the client's settings, the
    request, the error table, and how the body is read."""

    #: The library (httpx2 keeps httpx's API under another name).
    module = "httpx"
    client_class = "Client"

    def __init__(self, verify: bool = True) -> None:
        httpx = self._httpx = importlib.import_module(self.module)
        self._client = getattr(httpx, self.client_class)(verify=verify, follow_redirects=False, timeout=None)
        self._client.cookies.jar.set_policy(RejectCookies())
        self._errors: ErrorTable = (
            (httpx.TimeoutException, APITimeoutError),
            # TransportError, DecodingError, TooManyRedirects; InvalidURL is not a RequestError.
            ((httpx.RequestError, httpx.InvalidURL), APIConnectionError),
            *STDLIB_ERRORS,
        )
        # A read timeout (or a dropped connection) in send() can only come while the head is awaited.
        self._waiting = (httpx.ReadTimeout, httpx.RemoteProtocolError)

    def _request(self, request: Request) -> Any:
        timeout = request.timeout
        timeouts = {"connect": timeout.connect, "read": timeout.read, "write": timeout.read, "pool": timeout.connect}
        return self._httpx.Request(
            request.method, request.url, headers=list(outgoing_headers(request).items()), content=request.content,
            extensions={"timeout": timeouts},
        )

    @staticmethod
    def _raw(response: Any) -> bool:
        """A body with no content coding is read raw: the decoding layer would pass each piece on unchanged."""
        return response.headers.get("content-encoding", "identity").strip().lower() == "identity"


class HttpxTransport(_HttpxBase, Transport):
    """Sends requests with httpx: HTTP/1.1, pooled, redirects not followed.

    Proxies come from the environment (``HTTPS_PROXY``...) as httpx does by
    default; no client-level header, cookie or auth is ever added.
    """

    name = "httpx"

    def send(self, request: Request) -> Response:
        """Send ``request``; return once the headers are in, body unread."""
        with map_exceptions(self._errors, request, waiting=self._waiting):
            response = self._client.send(self._request(request), stream=True, follow_redirects=False)
        chunks = response.iter_raw() if self._raw(response) else response.iter_bytes()
        return backend_response(
            response.status_code, response.headers.multi_items(), chunks, response.close, self._errors, request
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self._client.close()


class AsyncHttpxTransport(_HttpxBase, AsyncTransport):
    """:class:`HttpxTransport` on :class:`httpx.AsyncClient`."""

    name = "httpx"
    client_class = "AsyncClient"

    async def send(self, request: Request) -> Response:
        """Send ``request``; return once the headers are in, body unread."""
        with map_exceptions(self._errors, request, waiting=self._waiting):
            response = await self._client.send(self._request(request), stream=True, follow_redirects=False)
        chunks = response.aiter_raw() if self._raw(response) else response.aiter_bytes()
        return async_backend_response(
            response.status_code, response.headers.multi_items(), chunks, response.aclose, self._errors, request
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._client.aclose()


class Httpx2Transport(HttpxTransport):
    """:class:`HttpxTransport` on httpx2."""

    name = "httpx2"
    module = "httpx2"


class AsyncHttpx2Transport(AsyncHttpxTransport):
    """:class:`AsyncHttpxTransport` on httpx2."""

    name = "httpx2"
    module = "httpx2"
