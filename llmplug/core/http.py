"""Transport-neutral HTTP types: what dispatch hands a transport and gets back.

A transport plugin turns a :class:`Request` into a :class:`Response` whose body
is a :class:`ByteStream` read incrementally. Nothing here does I/O.
"""

from __future__ import annotations

import abc
import re
from collections.abc import AsyncIterator, ItemsView, Iterable, Iterator, Mapping, MutableMapping
from typing import Any, ClassVar, Protocol, runtime_checkable
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import attrs

from .errors import ConfigurationError
from .values import NOT_GIVEN, _NotGiven

__all__ = [
    "AsyncByteStream",
    "AsyncTransport",
    "BytesStream",
    "ByteStream",
    "check_headers",
    "Headers",
    "redact_url",
    "REDACTED",
    "Request",
    "Response",
    "SENSITIVE_HEADERS",
    "SENSITIVE_QUERY_PARAMS",
    "WAITING",
    "Timeout",
    "Transport",
]

#: Header names whose values are secrets: never shown in a repr, error or log.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-goog-api-key", "api-key", "x-api-key", "cookie", "set-cookie"}
)
REDACTED = "[REDACTED]"
#: The phase named in an error raised while a response head is awaited.
WAITING = "waiting for the response to"
#: Query parameters whose values are secrets (some APIs take the key as ``?key=``).
SENSITIVE_QUERY_PARAMS = frozenset({"key", "api_key", "apikey", "api-key", "access_token", "token"})


def redact_url(url: str) -> str:
    """``url`` with secret query values and any userinfo password replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if parts.password:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{REDACTED}@{hostport}"
    query = parts.query
    if query and any(name.lower() in SENSITIVE_QUERY_PARAMS for name, _ in parse_qsl(query, keep_blank_values=True)):
        query = "&".join(
            f"{quote(name, safe='')}={REDACTED if name.lower() in SENSITIVE_QUERY_PARAMS else quote(value, safe='')}"
            for name, value in parse_qsl(query, keep_blank_values=True)
        )
    return urlunsplit(parts._replace(netloc=netloc, query=query))


class Headers(MutableMapping[str, str]):
    """A case-insensitive header multi-dict that keeps the spelling it was given.

    A name may hold several values (two ``Set-Cookie``, two ``Link``):
    ``headers[name]`` is their join with ``", "`` (as in httpx), ``get_list(name)``
    each of them and ``multi_items()`` every ``(name, value)`` pair in order.
    Setting a name replaces all its values; :meth:`add` appends one.
    """

    __slots__ = ("_store", "_multi")

    def __init__(self, data: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> None:
        self._store: dict[str, tuple[str, str]] = {}
        #: lower-cased name -> every value, only for names given more than once
        self._multi: dict[str, list[str]] = {}
        if data is not None:
            plain = type(data) is dict  # the common case, spared the ABC checks
            if not plain and isinstance(data, Headers):
                self._store = dict(data._store)
                self._multi = {k: list(v) for k, v in data._multi.items()}
            elif plain or isinstance(data, Mapping):
                for key, value in data.items():
                    self[key] = value
            else:
                for key, value in data:
                    self.add(key, value)

    def add(self, key: str, value: str) -> None:
        """Append ``value`` to the values of ``key``."""
        lower = key.lower()
        held = self._store.get(lower)
        if held is None:
            self._store[lower] = (key, value)
            return
        values = self._multi.setdefault(lower, [held[1]])
        values.append(value)
        self._store[lower] = (held[0], ", ".join(values))

    def get_list(self, key: str) -> list[str]:
        """Every value of ``key`` as received (``[]`` if absent)."""
        lower = key.lower()
        if lower in self._multi:
            return list(self._multi[lower])
        held = self._store.get(lower)
        return [] if held is None else [held[1]]

    def multi_items(self) -> list[tuple[str, str]]:
        """Every ``(name, value)`` pair, a repeated name once per value."""
        if not self._multi:
            return list(self._store.values())
        return [(name, value) for lower, (name, _) in self._store.items() for value in self.get_list(lower)]

    def __setitem__(self, key: str, value: str) -> None:
        lower = key.lower()
        self._store[lower] = (key, value)
        if self._multi:
            self._multi.pop(lower, None)

    def __getitem__(self, key: str) -> str:
        return self._store[key.lower()][1]

    def __delitem__(self, key: str) -> None:
        lower = key.lower()
        del self._store[lower]
        self._multi.pop(lower, None)

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._store.values())

    def items(self) -> ItemsView[str, str]:
        """``(name, value)`` pairs, a repeated name once with its values joined."""
        return _HeaderItems(self)

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._store

    def copy(self) -> Headers:
        new = Headers.__new__(Headers)
        new._store = dict(self._store)
        new._multi = {k: list(v) for k, v in self._multi.items()} if self._multi else {}
        return new

    def redacted(self) -> dict[str, str]:
        """The headers as a dict with secret values replaced."""
        return {k: (REDACTED if k.lower() in SENSITIVE_HEADERS else v) for k, v in self.items()}

    def __repr__(self) -> str:
        return f"Headers({self.redacted()!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return {k.lower(): v for k, v in self.items()} == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented


class _HeaderItems(ItemsView[str, str]):
    """The items view of :class:`Headers`, iterated straight from its store."""

    _mapping: Headers

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._mapping._store.values())


def _check_seconds(instance: Any, attribute: attrs.Attribute, value: float | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0):
        raise ConfigurationError(f"Timeout.{attribute.name} must be a positive number of seconds or None, not {value!r}")


@attrs.frozen
class Timeout:
    """Time limits in seconds; ``None`` means no limit for that phase.

    ``connect`` bounds opening the connection (TCP and TLS) and ``read`` each
    wait for bytes (the response head, then every read of the body, so on a
    stream it is the idle timeout), for each attempt: an attempt that times
    out is retried like any connection error. ``total`` is a deadline over the
    whole call (every attempt, every wait between retries, and the body or
    stream), enforced by dispatch, only when set.

    The defaults follow openai-python: 5 s to connect, 600 s for each read, no
    total deadline. A number ``n`` as ``timeout=n`` means ``connect=n, read=n``
    per attempt, and no total deadline, as in openai-python and httpx.
    """

    connect: float | None = attrs.field(default=5.0, validator=_check_seconds)
    read: float | None = attrs.field(default=600.0, validator=_check_seconds)
    total: float | None = attrs.field(default=None, validator=_check_seconds)

    @classmethod
    def coerce(cls, value: Timeout | float | int | None | _NotGiven) -> Timeout:
        """A Timeout from a number (connect and read, per attempt), ``None`` (no
        limit at all, as in httpx) or :data:`NOT_GIVEN` (the defaults); a Timeout
        passes through."""
        if isinstance(value, Timeout):
            return value
        if value is NOT_GIVEN:
            return cls()
        if value is None:
            return cls(connect=None, read=None, total=None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigurationError(f"timeout must be a positive number of seconds or a llmplug.Timeout, not {value!r}")
        return cls(connect=float(value), read=float(value), total=None)

    def __repr__(self) -> str:
        total = "None (no deadline)" if self.total is None else repr(self.total)
        return f"Timeout(connect={self.connect!r}, read={self.read!r} per attempt, total={total})"


#: The defaults, shared (a Timeout is immutable).
_DEFAULT_TIMEOUT = Timeout()


@attrs.define(repr=False)
class Request:
    """One HTTP request, as a provider mapped it and auth completed it."""

    method: str
    url: str
    headers: Headers = attrs.field(factory=Headers, converter=lambda h: h if isinstance(h, Headers) else Headers(h))
    content: bytes | None = None
    timeout: Timeout = attrs.field(factory=lambda: _DEFAULT_TIMEOUT)
    #: Free-form data for plugins (e.g. the operation name); never sent.
    extensions: dict[str, Any] = attrs.field(factory=dict)

    def __repr__(self) -> str:
        size = 0 if self.content is None else len(self.content)
        return f"<Request {self.method} {redact_url(self.url)} headers={self.headers.redacted()} content={size} bytes>"


#: A control character other than tab, or DEL: what no header value may hold.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


#: Header values found sendable (a few hundred at most, no secret among them),
#: so the headers every call repeats are checked once.
_CHECKED: set[str] = set()


def check_headers(headers: Headers) -> None:
    """Raise ConfigurationError for a header no transport could send: a value that
    is not a string, or that holds a control or non-ASCII character (the value
    itself is never shown: it may be a secret)."""
    checked = _CHECKED
    for name, value in headers.items():
        if not isinstance(value, str):
            raise ConfigurationError(f"header {name!r} must be a string, not {type(value).__name__}")
        if value in checked:  # the same few values on every call: each is checked once
            continue
        if not value.isascii() or _CONTROL.search(value) is not None:
            what = "the API key" if name.lower() in SENSITIVE_HEADERS else f"header {name!r}"
            raise ConfigurationError(
                f"{what} holds a control, newline or non-ASCII character: check it was copied whole "
                "(no trailing newline); the value is not shown"
            )
        if name.lower() not in SENSITIVE_HEADERS:  # no secret is kept here
            if len(checked) >= 256:
                checked.clear()
            checked.add(value)


@runtime_checkable
class ByteStream(Protocol):
    """A response body read incrementally: iterate for bytes, then close."""

    def __iter__(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


@runtime_checkable
class AsyncByteStream(Protocol):
    """A response body read incrementally by an async transport: ``async for``
    for bytes, then ``await aclose()``."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


class BytesStream:
    """A ByteStream over bytes already in memory."""

    def __init__(self, data: bytes = b"") -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        if self._data:
            yield self._data

    def close(self) -> None:
        """Nothing to release: the bytes are in memory."""


@attrs.define(repr=False)
class Response:
    """A response whose body has not been read yet."""

    status_code: int
    headers: Headers
    #: The body: a :class:`ByteStream` from a sync transport, an
    #: :class:`AsyncByteStream` from an async one (read it with ``aread``).
    stream: Any
    request: Request

    def read(self) -> bytes:
        """Read the whole body and close the stream."""
        try:
            return b"".join(self.stream)
        finally:
            self.stream.close()

    def close(self) -> None:
        self.stream.close()

    async def aread(self) -> bytes:
        """Read the whole body of an async transport's response and close the stream."""
        try:
            return b"".join([chunk async for chunk in self.stream])
        finally:
            await self.stream.aclose()

    async def aclose(self) -> None:
        await self.stream.aclose()

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    def __repr__(self) -> str:
        return f"<Response {self.status_code} for {self.request.method} {redact_url(self.request.url)}>"


class Transport(abc.ABC):
    """The contract of a transport plugin: send one request, close when done.

    ``send`` returns as soon as the status line and headers are in; the body is
    read by iterating ``response.stream``, which raises only llmplug's own
    :class:`~llmplug.core.errors.APIConnectionError` family. Backend exceptions
    never escape. An async twin has the same shape with ``async`` methods.
    """

    #: The name users pass as ``transport=``.
    name: ClassVar[str] = ""

    @abc.abstractmethod
    def send(self, request: Request) -> Response:
        """Send ``request``; return the response with its body unread."""

    def close(self) -> None:
        """Release pooled connections."""

    def __enter__(self) -> Transport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} transport {self.name!r}>"


class AsyncTransport(abc.ABC):
    """The contract of an async transport plugin: :class:`Transport` with
    ``async`` methods. ``send`` returns once the head is in; ``response.stream``
    is an :class:`AsyncByteStream` that raises only llmplug's
    :class:`~llmplug.core.errors.APIConnectionError` family. Cancelling ``send``
    or a read releases the connection."""

    name: ClassVar[str] = ""

    @abc.abstractmethod
    async def send(self, request: Request) -> Response:
        """Send ``request``; return the response with its body unread."""

    async def aclose(self) -> None:
        """Release pooled connections."""

    async def __aenter__(self) -> AsyncTransport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} async transport {self.name!r}>"
