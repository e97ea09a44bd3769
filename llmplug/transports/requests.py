"""The ``requests`` transport: a :class:`requests.Session` with keep-alive pooling.

requests (and urllib3 under it) is imported only when the transport is
built, never by this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from llmplug.plugin import (
    APIConnectionError, APITimeoutError, CHUNK_SIZE, ErrorTable, hookimpl, backend_response,
    map_exceptions, outgoing_headers, RejectCookies, Request, Response, STDLIB_ERRORS, Transport, TransportSpec,
)


@hookimpl
def llmplug_register_transports(register: Callable[[TransportSpec], None]) -> None:
    spec = TransportSpec("requests", RequestsTransport, requires=("requests",), priority=20,
        description="requests.Session: keep-alive pool", install_hint='pip install "llmplug[requests]"')
    register(spec)


def _body_chunks(raw: Any) -> Iterator[bytes]:
    """The decoded body of a urllib3 response, each read returning what has arrived."""
    read1 = getattr(raw, "read1", None)
    if read1 is None:  # urllib3 < 2.0: whole chunks when chunked, else fixed-size reads
        yield from raw.stream(None if raw.chunked else CHUNK_SIZE, decode_content=True)
        return
    while chunk := read1(CHUNK_SIZE, decode_content=True):
        yield chunk


class RequestsTransport(Transport):
    """Sends requests with requests: pooled, redirects not followed.

    Proxies and ``REQUESTS_CA_BUNDLE`` come from the environment as requests
    does by default; no session header, cookie, netrc credential or default
    User-Agent is ever added.
    """

    name = "requests"

    def __init__(self, verify: bool = True) -> None:
        import requests  # absolute import: the library, not this module
        import urllib3

        self._requests = requests
        self._verify = verify
        self._session = requests.Session()
        self._session.headers.clear()
        self._session.cookies.set_policy(RejectCookies())
        #: urllib3 adds its own User-Agent unless told to skip it.
        self._skip_header = urllib3.util.SKIP_HEADER
        self._errors: ErrorTable = (
            (requests.Timeout, APITimeoutError),  # ConnectTimeout, ReadTimeout
            (urllib3.exceptions.TimeoutError, APITimeoutError),  # ReadTimeoutError while streaming
            (requests.RequestException, APIConnectionError),  # ConnectionError, ChunkedEncodingError...
            (urllib3.exceptions.HTTPError, APIConnectionError),  # ProtocolError, IncompleteRead, DecodeError
            *STDLIB_ERRORS,
        )

    def send(self, request: Request) -> Response:
        """Send ``request``; return once the headers are in, body unread."""
        headers = outgoing_headers(request)
        if "user-agent" not in headers:
            headers["User-Agent"] = self._skip_header
        # A read timeout in send() can only come while the head is awaited.
        with map_exceptions(self._errors, request, waiting=(self._requests.ReadTimeout,)):
            # Prepared without the session: no session headers, cookies or netrc auth.
            prepared = self._requests.Request(
                request.method, request.url, headers=headers, data=request.content
            ).prepare()
            settings = self._session.merge_environment_settings(prepared.url, {}, True, self._verify, None)
            response = self._session.send(
                prepared,
                allow_redirects=False,
                timeout=(request.timeout.connect, request.timeout.read),
                **settings,
            )
        # urllib3's headers, not requests' dict: each value of a repeated name.
        return backend_response(
            response.status_code, response.raw.headers.iteritems(), _body_chunks(response.raw), response.close,
            self._errors, request,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self._session.close()
