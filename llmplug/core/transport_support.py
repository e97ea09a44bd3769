"""What the transport plugins share: one error-mapping path, the body stream
wrapper, and the small header rules every transport follows.

A transport lists its backend's exceptions in an ordered table, most specific
first, ending with :data:`STDLIB_ERRORS`; :func:`map_exceptions` and
:class:`BackendStream` use that table both while sending and while the body is
read, so no backend exception escapes a transport.
"""

from __future__ import annotations

import contextlib
import http.client
import http.cookiejar
import threading
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from .errors import APIConnectionError, APIError, APITimeoutError, StreamError
from .http import REDACTED, SENSITIVE_HEADERS, WAITING, SENSITIVE_QUERY_PARAMS, Headers, Request, Response, redact_url

__all__ = [
    "ACCEPT_ENCODING",
    "AsyncBackendStream",
    "CHUNK_SIZE",
    "STDLIB_ERRORS",
    "BackendStream",
    "EnvironmentProxies",
    "ErrorTable",
    "RejectCookies",
    "WAITING",
    "async_backend_response",
    "backend_response",
    "describe_error",
    "join_headers",
    "lookup_error",
    "map_exceptions",
    "outgoing_headers",
    "redact_url",
]

#: ``[(backend exception type(s), our error type), ...]``, most specific first.
ErrorTable = Sequence[tuple[type[BaseException] | tuple[type[BaseException], ...], type[APIConnectionError]]]

#: The rows every table ends with: what the standard library raises underneath
#: any backend. ``socket.timeout`` is ``TimeoutError``; ``ssl.SSLError`` and
#: every ``ConnectionError`` are ``OSError``.
STDLIB_ERRORS: ErrorTable = (
    (TimeoutError, APITimeoutError),
    (http.client.HTTPException, APIConnectionError),
    (OSError, APIConnectionError),
)

#: Sent when the request names no Accept-Encoding; every transport decodes these.
ACCEPT_ENCODING = "gzip, deflate"

#: Upper bound of one read from the network (a read returns what is there).
CHUNK_SIZE = 64 * 1024


def outgoing_headers(request: Request) -> Headers:
    """The headers to send: the request's own, plus Accept-Encoding if it has none.

    Host and Content-Length are left to the backend, which derives them from
    the URL and the body.
    """
    headers = request.headers.copy()
    if "accept-encoding" not in headers:
        headers["Accept-Encoding"] = ACCEPT_ENCODING
    return headers


def join_headers(items: Iterable[tuple[str, str]]) -> Headers:
    """Response headers as :class:`Headers`: a repeated name keeps each of its
    values (``get_list``), and ``headers[name]`` joins them with ``", "``."""
    return Headers(items)


def _secrets(request: Request) -> list[str]:
    """Strings that must not appear in an error message about ``request``."""
    found: list[str] = []
    for name, value in request.headers.items():
        if name.lower() in SENSITIVE_HEADERS and value:
            found.append(value)
            found.extend(token for token in value.split() if len(token) >= 8)
    try:
        parts = urlsplit(request.url)
        if parts.password:
            found.append(parts.password)
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            if name.lower() in SENSITIVE_QUERY_PARAMS and value:
                found.extend((value, quote(value, safe="")))
    except ValueError:
        pass
    return sorted(set(found), key=len, reverse=True)


def describe_error(exc: BaseException, ours: type[APIConnectionError], request: Request, action: str) -> str:
    """A message saying what happened to ``request``, with no secret in it."""
    what = "timed out" if issubclass(ours, APITimeoutError) else "connection failed"
    detail = str(exc) or repr(exc)
    for secret in _secrets(request):
        detail = detail.replace(secret, REDACTED).replace(repr(secret)[1:-1], REDACTED)
    return f"{what} while {action} {request.method} {redact_url(request.url)}: {type(exc).__name__}: {detail}"


def lookup_error(table: ErrorTable, exc: BaseException) -> type[APIConnectionError] | None:
    """Our error type for ``exc``: the first row of ``table`` it matches."""
    for backend, ours in table:
        if isinstance(exc, backend):
            return ours
    return None




@contextlib.contextmanager
def map_exceptions(
    table: ErrorTable, request: Request, action: str = "sending", waiting: tuple[type[BaseException], ...] = ()
) -> Iterator[None]:
    """Re-raise a backend exception listed in ``table`` as ours, chained.

    ``action`` completes the message: "<timed out|connection failed> while
    <action> <METHOD> <url>: ..."; an exception of a ``waiting`` type (the
    backend's read timeout while the head is awaited) says
    "while waiting for the response to <METHOD> <url>" instead. Our own errors
    and unlisted exceptions pass through unchanged.
    """
    try:
        yield
    except APIError:
        raise
    except Exception as exc:
        error = translate(table, exc, request, WAITING if isinstance(exc, waiting) else action)
        if error is None:
            raise
        raise_translated(error, exc)


def translate(table: ErrorTable, exc: BaseException, request: Request, action: str) -> APIConnectionError | None:
    """Our error for the backend exception ``exc`` (``None`` if ``table`` does not list it).

    When the backend's own exception (or one it chains) quotes a secret, ours
    is raised without that chain: a traceback must not show the key either.
    """
    ours = lookup_error(table, exc)
    if ours is None:
        return None
    error = ours(describe_error(exc, ours, request, action), request=request)
    error._llmplug_no_cause = _quotes_secret(exc, _secrets(request))  # type: ignore[attr-defined]
    return error


def _quotes_secret(exc: BaseException, secrets: list[str]) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = f"{current!s} {current!r} {current.args!r} {_request_of(current)!r}"
        if any(secret in text or repr(secret)[1:-1] in text for secret in secrets):
            return True
        current = current.__cause__ or current.__context__
    return False


def _request_of(exc: BaseException) -> Any:
    """The request a backend exception carries (httpx's ``.request`` raises when unset)."""
    try:
        return getattr(exc, "request", None)
    except Exception:
        return None


def raise_translated(error: APIConnectionError, exc: BaseException) -> None:
    """Raise ``error`` chained to the backend's ``exc`` unless that would show a secret."""
    if getattr(error, "_llmplug_no_cause", False):
        raise error from None
    raise error from exc


class BackendStream:
    """A :class:`~llmplug.core.http.ByteStream` over a backend's body.

    Iterating yields the non-empty chunks of ``chunks`` as they come, with
    backend exceptions mapped through ``table``. ``close`` (the backend's
    release) runs exactly once: when the body is exhausted, when reading it
    fails, or on :meth:`close`, whichever comes first.
    """

    _ACTION = "reading the response body of"

    def __init__(self, chunks: Any, close: Callable[[], Any], table: ErrorTable, request: Request) -> None:
        self._chunks = chunks
        self._close = close
        self._table = table
        self._request = request
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def __iter__(self) -> Iterator[bytes]:
        if self._closed:
            raise self._already_closed()
        try:
            for chunk in self._chunks:  # one try around the loop: nothing per chunk on the hot path
                if chunk:
                    yield chunk
                if self._closed:
                    raise self._already_closed()
        except Exception as exc:
            self._raise(exc)
        finally:
            self.close()

    def _raise(self, exc: Exception) -> None:
        """Raise ``exc`` as ours (our own errors and unlisted ones as they are)."""
        error = None if isinstance(exc, APIError) else translate(self._table, exc, self._request, self._ACTION)
        if error is None:
            raise exc
        raise_translated(error, exc)

    def _already_closed(self) -> StreamError:
        return StreamError(
            f"the response body of {self._request.method} {redact_url(self._request.url)} was already read or closed",
            request=self._request,
        )

    def _closing(self) -> bool:
        """Mark the stream closed; whether it was open (the backend is then to be released)."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            return True

    def _close_failed(self, exc: Exception) -> None:
        # A failure while discarding a connection is not news to the caller.
        if lookup_error(self._table, exc) is None:
            raise exc

    def close(self) -> None:
        """Release the backend response (once); later calls do nothing."""
        if self._closing():
            try:
                self._close()
            except Exception as exc:
                self._close_failed(exc)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {state} for {self._request.method} {redact_url(self._request.url)}>"


class AsyncBackendStream(BackendStream):
    """The :class:`~llmplug.core.http.AsyncByteStream` twin of :class:`BackendStream`:
    ``chunks`` is an async iterable and ``close`` a coroutine function."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._closed:
            raise self._already_closed()
        try:
            async for chunk in self._chunks:
                if chunk:
                    yield chunk
                if self._closed:
                    raise self._already_closed()
        except Exception as exc:
            self._raise(exc)
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Release the backend response (once); later calls do nothing."""
        if self._closing():
            try:
                await self._close()
            except Exception as exc:
                self._close_failed(exc)

    def __iter__(self) -> Iterator[bytes]:
        raise TypeError("an async transport's body is read with 'async for' (Response.aread)")

    def close(self) -> None:
        raise TypeError("an async transport's body is closed with 'await aclose()' (Response.aclose)")


def backend_response(
    status: int,
    headers: Iterable[tuple[str, str]],
    chunks: Iterable[bytes],
    close: Callable[[], object],
    table: ErrorTable,
    request: Request,
) -> Response:
    """The :class:`Response` a transport returns from a backend's: ``status``,
    its ``(name, value)`` header pairs (a repeated name keeps each value), and
    a :class:`BackendStream` over its body ``chunks`` that runs ``close`` once
    and maps backend exceptions through ``table``."""
    return Response(status, Headers(headers), BackendStream(iter(chunks), close, table, request), request)


def async_backend_response(
    status: int,
    headers: Iterable[tuple[str, str]],
    chunks: AsyncIterable[bytes],
    aclose: Callable[[], Awaitable[object]],
    table: ErrorTable,
    request: Request,
) -> Response:
    """:func:`backend_response` for an async transport: ``chunks`` is an async
    iterable and ``aclose`` a coroutine function."""
    return Response(status, Headers(headers), AsyncBackendStream(chunks, aclose, table, request), request)


class EnvironmentProxies:
    """The proxies of the environment (``HTTP_PROXY``, ``HTTPS_PROXY``,
    ``ALL_PROXY``, ``NO_PROXY``), read once, as urllib reads and applies them."""

    def __init__(self) -> None:
        import urllib.request

        self._proxies = urllib.request.getproxies()
        self._bypass = urllib.request.proxy_bypass_environment

    def __bool__(self) -> bool:
        return bool(self._proxies)

    def proxy_for(self, scheme: str, host: str) -> str:
        """The proxy URL for a request to ``host`` over ``scheme`` ("" for none)."""
        proxy = self._proxies.get(scheme) or self._proxies.get("all") or ""
        if proxy and self._bypass(host, self._proxies):
            return ""
        return proxy


class RejectCookies(http.cookiejar.DefaultCookiePolicy):
    """A cookie policy that stores and sends nothing: a transport sends only
    the headers of the request it was given."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: object) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: object) -> bool:
        return False

    def path_return_ok(self, path: str, request: object) -> bool:
        return False
