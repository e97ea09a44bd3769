"""What the fake API exchanges: recorded requests (headers, uploads) and the
replies handlers and scripts give, with their encoding on the wire."""

from __future__ import annotations

import json as _json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Union

__all__ = [
    "APIError", "HeaderItems", "Headers", "RecordedRequest", "Reply", "UploadedFile", "byte_chunks", "encode_event",
    "encode_json", "parse_multipart",
]

HeaderItems = Union[Mapping[str, str], Iterable[tuple[str, str]]]


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive view of request headers.

    ``headers["content-type"]`` and ``.get()`` give the first value;
    :meth:`get_all` gives every value of a repeated header.
    """

    __slots__ = ("_items", "_index")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items = list(items)
        index: dict[str, list[str]] = {}
        for name, value in self._items:
            index.setdefault(name.lower(), []).append(value)
        self._index = index

    def __getitem__(self, name: str) -> str:
        if not isinstance(name, str):
            raise KeyError(name)
        return self._index[name.lower()][0]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index

    def __iter__(self) -> Iterator[str]:
        seen: set[str] = set()
        for name, _ in self._items:
            if name.lower() not in seen:
                seen.add(name.lower())
                yield name

    def __len__(self) -> int:
        return len(self._index)

    def get_all(self, name: str) -> list[str]:
        """Every value of ``name``, in received order."""
        return list(self._index.get(name.lower(), ()))

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass
class UploadedFile:
    """One file part of a multipart/form-data request."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass
class RecordedRequest:
    """A request as the fake server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Headers
    raw_headers: list[tuple[str, str]]
    body: bytes
    json: Any = None
    client_port: int = 0
    files: dict[str, UploadedFile] = field(default_factory=dict)
    form: dict[str, str] = field(default_factory=dict)
    #: ``time.monotonic()`` when the body had been read (for retry timing).
    received_at: float = 0.0
    #: How many requests the server was handling when this one arrived, itself included.
    in_flight: int = 0


@dataclass
class Reply:
    """What a route handler or a scripted entry answers.

    Exactly one of ``json`` (serialised), ``body`` (raw bytes/str),
    ``body_chunks`` (raw bytes streamed as they come: an iterable of bytes or
    memoryviews, sent with chunked transfer encoding, so a large file goes out
    without a copy of it being built) or ``events`` (Server-Sent Events: dicts
    become ``data: <json>``, strings and bytes go out verbatim) is normally
    set; none means an empty body.
    """

    status: int = 200
    json: Any = None
    body: bytes | str | None = None
    headers: HeaderItems | None = None
    content_type: str | None = None
    events: Iterable[Any] | None = None
    interval: float = 0.0
    chunk_size: int | None = None
    body_chunks: Iterable[bytes | memoryview] | None = None


def byte_chunks(data: bytes, size: int = 64 * 1024) -> Iterator[memoryview]:
    """``data`` in ``size``-byte pieces, as views of it (no copy): for ``Reply(body_chunks=...)``."""
    view = memoryview(data)
    for start in range(0, len(view), size):
        yield view[start:start + size]


class APIError(Exception):
    """Raised by a handler to answer with the service's error shape."""

    def __init__(
        self, status: int, message: str, *, type: str | None = None, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message = status, message
        #: The fields of the error body besides the message (as the service words them).
        self.type, self.param, self.code = type, param, code


def parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, UploadedFile], dict[str, str]]:
    """Split a multipart/form-data body into file parts and text fields."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    files: dict[str, UploadedFile] = {}
    form: dict[str, str] = {}
    if not message.is_multipart():
        return files, form
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[name] = UploadedFile(filename, part.get_content_type(), data)
        else:
            charset = part.get_content_charset() or "utf-8"
            form[name] = data.decode(charset, "replace")
    return files, form


def encode_json(value: Any) -> bytes:
    """JSON as OpenAI sends it: UTF-8, two-space indent."""
    return _json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")


def encode_event(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode("utf-8")
    return b"data: " + _json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n\n"
