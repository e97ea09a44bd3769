"""Request building shared by every provider: JSON and multipart/form-data
bodies, paths, queries, and the header that carries the API key."""

from __future__ import annotations

import base64
import json
import mimetypes
import os
from collections.abc import Mapping
from typing import Any, Callable
from urllib.parse import quote, urlencode

import attrs

from .errors import ConfigurationError
from .hookspecs import hookimpl
from .http import Request
from .models import Model

__all__ = ["encode_json", "encode_multipart", "generic_request", "key_header", "path_segment", "query_string"]


def _default(value: Any) -> Any:
    if isinstance(value, Model):
        return value.raw
    if attrs.has(type(value)):
        return attrs.asdict(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot send a {type(value).__name__} as JSON: convert it to a str, number, list or dict")


def encode_json(data: Any) -> bytes:
    """Compact UTF-8 JSON; models are sent as the JSON they came from, bytes as base64."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=_default).encode("utf-8")


def encode_multipart(fields: Mapping[str, Any], files: Mapping[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its Content-Type. ``files`` maps a field to ``(filename, bytes)``."""
    boundary = "llmplug-" + os.urandom(16).hex()
    parts: list[bytes] = []
    for name, text, extra in _form_fields(fields):
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"\r\n{extra}\r\n{text}\r\n'.encode()
        )
    for name, (filename, content) in files.items():
        ctype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"; filename="{_quote(filename)}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n"
        )
        parts.append(head.encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def _form_fields(fields: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Form parts as ``(name, text, extra part headers)``: strings as they are,
    anything else as JSON (the OpenAPI default encoding of a multipart object)."""
    out: list[tuple[str, str, str]] = []
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, str):
            out.append((str(name), value, ""))
        else:
            out.append((str(name), json.dumps(value, separators=(",", ":")), "Content-Type: application/json\r\n"))
    return out


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def path_segment(value: Any) -> str:
    """``value`` quoted for use as one URL path segment."""
    return quote(str(value), safe="")


def query_string(params: Mapping[str, Any]) -> str:
    """``?a=1&b=2`` for the non-None params (booleans as true/false), or ``""``."""
    items = []
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        items.append((key, value))
    return "?" + urlencode(items, doseq=True) if items else ""


def generic_request(base_url: str, params: Mapping[str, Any]) -> Request:
    """The request of ``client.request(method, path, json=..., query=...)``:
    ``path`` relative to ``base_url``, JSON in and out. Any provider can use it."""
    path = params["path"]
    if path.startswith(("http://", "https://")):
        raise ConfigurationError(f"request() takes a path relative to the base URL, not a full URL: {path!r}")
    url = base_url + "/" + path.lstrip("/") + query_string(params.get("query") or {})
    headers = {"Accept": "text/event-stream" if params.get("stream") else "application/json"}
    content = None
    if params.get("json") is not None:
        content = encode_json(params["json"])
        headers["Content-Type"] = "application/json"
    return Request(params["method"], url, headers, content)


def key_header(name: str, prefix: str = "") -> Callable[..., Request | None]:
    """A ready-made ``llmplug_authenticate`` (``trylast``) that sends the key as
    ``name: prefix + key``, and no credential when there is no key::

        llmplug_authenticate = key_header("Authorization", "Bearer ")
    """

    @hookimpl(trylast=True)
    def llmplug_authenticate(provider: Any, request: Request, api_key: str | None) -> Request | None:
        if api_key:
            request.headers[name] = prefix + api_key
        return request

    return llmplug_authenticate
