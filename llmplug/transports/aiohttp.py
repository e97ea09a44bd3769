"""The ``aiohttp`` transport: async only, on an :class:`aiohttp.ClientSession`
with keep-alive pooling.

aiohttp is imported only when the transport is built, never by this module;
the session is made on the first send, inside the running event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

from llmplug.plugin import (
    APIConnectionError, APITimeoutError, AsyncTransport, EnvironmentProxies, ErrorTable, Headers, hookimpl, async_backend_response,
    map_exceptions, outgoing_headers, Request, Response, STDLIB_ERRORS, TransportSpec,
)


@hookimpl
def llmplug_register_transports(register: Callable[[TransportSpec], None]) -> None:
    spec = TransportSpec("aiohttp", None, requires=("aiohttp",), priority=20, async_factory=AiohttpTransport,
        description="aiohttp.ClientSession (async only): HTTP/1.1 keep-alive pool",
        install_hint='pip install "llmplug[aiohttp]"')
    register(spec)


#: What aiohttp would add to a request that does not carry them.
_AUTO_HEADERS = ("Accept", "Accept-Encoding", "Content-Type", "User-Agent")


async def _chunks(content: Any) -> AsyncIterator[bytes]:
    """The (decoded) body as it arrives. aiohttp raises a failure, such as a
    dropped connection, ahead of the data received before it: that data is
    yielded first, as the other transports do."""
    while True:
        failure = content.exception()
        if failure is not None:
            received = content._read_nowait(-1)  # no public reader returns what is buffered once a failure is set
            if received:
                yield received
            raise failure
        chunk = await content.readany()
        if not chunk:
            return
        yield chunk


class AiohttpTransport(AsyncTransport):
    """Sends requests with aiohttp: HTTP/1.1, pooled, redirects not followed,
    gzip/deflate bodies decoded.

    Proxies come from the environment (``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``ALL_PROXY``, ``NO_PROXY``, read when the transport is built). aiohttp's
    ``trust_env`` is not used: it would also add credentials from ``~/.netrc``.
    No session header, cookie or default header is ever added.
    """

    name = "aiohttp"

    def __init__(self, verify: bool = True) -> None:
        import aiohttp  # absolute import: the library, not this module
        import yarl

        self._aiohttp = aiohttp
        self._url = yarl.URL
        self._verify = verify
        self._session: Any = None
        self._proxies = EnvironmentProxies()
        self._errors: ErrorTable = (
            ((aiohttp.ServerTimeoutError, asyncio.TimeoutError), APITimeoutError),
            (aiohttp.ClientError, APIConnectionError),  # connection, payload, bad URL, bad response
            *STDLIB_ERRORS,
        )
        # A read timeout (or a dropped connection) in send() can only come while the head is awaited;
        # aiohttp < 3.10 raises ServerTimeoutError for a connect timeout too.
        read_timeout = getattr(aiohttp, "SocketTimeoutError", aiohttp.ServerTimeoutError)
        self._waiting = (read_timeout, aiohttp.ServerDisconnectedError)

    def _open(self) -> Any:
        """The session, made on first use (aiohttp needs the running loop)."""
        aiohttp = self._aiohttp
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._verify),
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=_AUTO_HEADERS,
            timeout=aiohttp.ClientTimeout(total=None),
            auto_decompress=True,
            trust_env=False,
        )
        return self._session

    def _proxy_for(self, url: str, headers: Headers) -> tuple[Any, dict[str, str] | None]:
        """The proxy for ``url`` as urllib picks it (``None`` for none), and the
        headers of its ``CONNECT``.

        Its credentials go as ``Proxy-Authorization`` (on the ``CONNECT`` of an
        HTTPS tunnel; added to ``headers`` for plain HTTP), not in its URL:
        aiohttp quotes a proxy URL, password and all, in its errors.
        """
        if not self._proxies:
            return None, None
        try:
            parts = urlsplit(url)
            scheme, host = parts.scheme.lower(), parts.hostname or ""
        except ValueError:  # aiohttp reports the bad URL
            return None, None
        proxy = self._proxies.proxy_for(scheme, host)
        if not proxy:
            return None, None
        proxy_url = self._url(proxy if "://" in proxy else f"http://{proxy}")
        auth = self._aiohttp.BasicAuth.from_url(proxy_url)
        if auth is None:
            return proxy_url, None
        if scheme == "http":
            headers["Proxy-Authorization"] = auth.encode()
            return proxy_url.with_user(None), None
        return proxy_url.with_user(None), {"Proxy-Authorization": auth.encode()}

    async def send(self, request: Request) -> Response:
        """Send ``request``; return once the headers are in, body unread."""
        session = self._open() if self._session is None else self._session
        timeout = request.timeout
        headers = outgoing_headers(request)
        proxy, proxy_headers = self._proxy_for(request.url, headers)
        with map_exceptions(self._errors, request, waiting=self._waiting):
            response = await session.request(
                request.method,
                request.url,
                headers=list(headers.items()),
                data=request.content,
                allow_redirects=False,
                proxy=proxy,
                proxy_headers=proxy_headers,
                timeout=self._aiohttp.ClientTimeout(
                    total=None, connect=timeout.connect, sock_connect=timeout.connect, sock_read=timeout.read
                ),
            )
        # release() pools the connection after a whole body, else closes it.
        return async_backend_response(
            response.status, response.headers.items(), _chunks(response.content), response.release,
            self._errors, request,
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._session is not None:
            await self._session.close()
