"""The ``httpx`` transport: an :class:`httpx.Client` with keep-alive pooling.

httpx is imported only when the transport is built, never by this module.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from llmplug.plugin import (
    APIConnectionError, APITimeoutError, ErrorTable, hookimpl, backend_response, map_exceptions,
    outgoing_headers, RejectCookies, Request, STDLIB_ERRORS, Transport, TransportSpec,
)


@hookimpl
def llmplug_register_transports(register: Callable[[TransportSpec], None]) -> None:
    spec = TransportSpec("httpx", HttpxTransport, requires=("httpx",), priority=30,
        description="httpx.Client: HTTP/1.1 keep-alive pool", install_hint='pip install "llmplug[httpx]"')
    register(spec)


class HttpxTransport(Transport):
    """Sends requests with httpx: HTTP/1.1, pooled, redirects not followed.

    Proxies come from the environment (``HTTPS_PROXY``...) as httpx does by
    default; no client-level header, cookie or auth is ever added.
    """

    name = "httpx"

    def __init__(self, verify: bool = True) -> None:
        import httpx  # absolute import: the library, not this module

        self._httpx = httpx
        self._client = httpx.Client(verify=verify, follow_redirects=False, timeout=None)
        self._client.cookies.jar.set_policy(RejectCookies())
        self._errors: ErrorTable = (
            (httpx.TimeoutException, APITimeoutError),
            # TransportError, DecodingError, TooManyRedirects; InvalidURL is not a RequestError.
            ((httpx.RequestError, httpx.InvalidURL), APIConnectionError),
            *STDLIB_ERRORS,
        )
        self._waiting = (httpx.ReadTimeout, httpx.RemoteProtocolError)

    def send(self, request: Request) -> Response:
        """Send ``request``; return once the headers are in, body unread."""
        timeout = request.timeout
        timeouts: dict[str, Any] = {
            "connect": timeout.connect,
            "read": timeout.read,
            "write": timeout.read,
            "pool": timeout.connect,
        }
        # A read timeout (or a dropped connection) in send() can only come while the head is awaited.
        with map_exceptions(self._errors, request, waiting=self._waiting):
            backend_request = self._httpx.Request(
                request.method,
                request.url,
                headers=list(outgoing_headers(request).items()),
                content=request.content,
                extensions={"timeout": timeouts},
            )
            response = self._client.send(backend_request, stream=True, follow_redirects=False)
        # A body with no content coding is read raw: the decoding layer would pass each piece on unchanged.
        encoded = response.headers.get("content-encoding", "identity").strip().lower() != "identity"
        return backend_response(
            response.status_code, response.headers.multi_items(), response.iter_bytes() if encoded else response.iter_raw(),
            response.close, self._errors, request,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self._client.close()
