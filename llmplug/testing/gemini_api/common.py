"""Shared pieces of the fake Gemini API: its errors, JSON replies, and reading contents.

:class:`GeminiError` carries a google.rpc status name and ``details``;
:func:`_invalid` is the 400 ``INVALID_ARGUMENT`` most checks raise. Replies are
JSON with Google's content type. The text of a turn's parts
(:func:`_part_text`) and the token count of contents (:func:`_tokens`, words
as in the OpenAI fake) are read the same way by every endpoint.
"""

from __future__ import annotations

import json
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
