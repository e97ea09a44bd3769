"""Shared pieces of the fake Gemini API: its errors, JSON replies, and reading contents.

:class:`GeminiError` carries a google.rpc status name and ``details``;
:func:`_invalid` is the 400 ``INVALID_ARGUMENT`` most checks raise. Replies are
JSON with Google's content type. The text of a turn's parts
(:func:`_part_text`) and the token count of contents (:func:`_tokens`, words
as in the OpenAI fake) are read the same way by every endpoint.
"""

from __future__ import annotations

import re

import base64

import json
import os
import time
from typing import Any

from ..openai_api.common import _words
from ..server import APIError, Reply, RouteTable

#: The Gemini route table: (method, path regex) -> handler(service, request, **groups).
#: Each endpoint module registers its handlers with ``@ROUTES.route(method, path)``;
#: paths match whole, so the order of registration does not matter.
ROUTES = RouteTable()


JSON_TYPE = "application/json; charset=UTF-8"


class GeminiError(APIError):
    """A Gemini-shaped error: status name and ``details`` as Google sends them."""

    def __init__(self, status: int, message: str, *, status_name: str | None = None, details: list[Any] | None = None):
        super().__init__(status, message, type=status_name)
        self.details = details


def _invalid(message: str, field: str | None = None) -> GeminiError:
    details = None
    if field is not None:
        details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": field, "description": message}]}]
    return GeminiError(400, message, details=details)


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)[:200]


def _json(data: Any) -> Reply:
    return Reply(json=data, content_type=JSON_TYPE)


#: google.rpc.Code numbers by HTTP status, for ``Status`` objects in batch outputs.
RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 412: 9, 429: 8, 499: 1, 500: 13, 501: 12, 503: 14, 504: 4}

_LOWER_ALNUM = "0123456789abcdefghijklmnopqrstuvwxyz"


def _timestamp(t: float) -> str:
    """A protobuf Timestamp in JSON: RFC 3339, UTC, nine fractional digits."""
    ns = round(t * 1_000_000_000)
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def _lower_id(n: int) -> str:
    """``n`` random lowercase letters and digits (Google's file and batch ids)."""
    return "".join(_LOWER_ALNUM[b % 36] for b in os.urandom(n))


def _rpc_status(exc: APIError) -> dict[str, Any]:
    """A ``google.rpc.Status`` for an error: ``{code, message[, details]}``, code a gRPC code."""
    status: dict[str, Any] = {"code": RPC_CODES.get(exc.status, 2), "message": exc.message}
    details = getattr(exc, "details", None)
    if details:
        status["details"] = details
    return status


def _part_text(parts: list[dict[str, Any]]) -> str:
    return " ".join(p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought"))


def _tokens(contents: list[dict[str, Any]]) -> int:
    count = 0
    for turn in contents:
        for part in turn.get("parts") or []:
            if isinstance(part.get("text"), str):
                count += _words(part["text"])
            for key in ("functionCall", "functionResponse"):
                if key in part:
                    count += _words(json.dumps(part[key]))
            if "inlineData" in part or "fileData" in part:
                count += 258  # what Gemini counts for an image
    return count


def page_window(req: Any, default: int, most: int) -> tuple[int, int]:
    """``(start, size)`` of a listing's page from ``pageSize`` and ``pageToken``
    (snake_case too), as Google reads them: a size <= 0 is the default, one
    over ``most`` is cut to it; a token is one this fake gave (:func:`page_token`)."""
    query = {k: v[-1] for k, v in req.query.items()}
    size_text = query.get("pageSize") or query.get("page_size") or str(default)
    if not re.fullmatch(r"-?\d+", size_text):
        raise _invalid(f"Invalid value at 'page_size' (TYPE_INT32), {_show(size_text)}")
    size = int(size_text)
    size = default if size <= 0 else min(size, most)
    token = query.get("pageToken") or query.get("page_token") or ""
    if not token:
        return 0, size
    try:
        return int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().removeprefix("offset:")), size
    except ValueError:
        raise _invalid("Invalid page token.") from None


def page_token(offset: int) -> str:
    """The ``nextPageToken`` of the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")
