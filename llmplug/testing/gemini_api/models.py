"""The models the fake Gemini API knows, and ``GET /v1beta/models[/{model}]``.

:data:`MODELS` is the catalogue (each server serves a copy, ``svc.models``);
:data:`_THINKING` says which models think and whether that can be turned off,
:data:`_EMBED_DIMS` the embedding models' dimensions. Listing pages with
``pageSize``/``pageToken`` as Gemini does.
"""

from __future__ import annotations

import base64
import copy
import re
from typing import TYPE_CHECKING, Any

from ..server import RecordedRequest, Reply
from .common import ROUTES, _invalid, _json, _show

if TYPE_CHECKING:
    from .service import GeminiService


_GEN_METHODS = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]


def _model(
    name: str, display: str, version: str, methods: list[str], inp: int, out: int, **extra: Any
) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "version": version,
        "displayName": display,
        "description": f"{display} (fake)",
        "inputTokenLimit": inp,
        "outputTokenLimit": out,
        "supportedGenerationMethods": methods,
        **extra,
    }


_CHAT = {"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2}

#: The models the fake knows. ``thinking``: thinks by default ("always": cannot be
#: turned off; "optional": off unless asked); ``signatures``: requires thought
#: signatures on the current turn's calls (Gemini 3).
MODELS: list[dict[str, Any]] = [
    _model("gemini-2.5-flash", "Gemini 2.5 Flash", "001", _GEN_METHODS, 1048576, 65536, thinking=True, **_CHAT),
    _model("gemini-2.5-pro", "Gemini 2.5 Pro", "2.5", _GEN_METHODS, 1048576, 65536, thinking=True, **_CHAT),
    _model("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", "001", _GEN_METHODS, 1048576, 65536,
           thinking=True, **_CHAT),
    _model("gemini-2.0-flash", "Gemini 2.0 Flash", "2.0", _GEN_METHODS, 1048576, 8192, **_CHAT),
    _model("gemini-3-pro-preview", "Gemini 3 Pro Preview", "3-pro-preview-11-2025", _GEN_METHODS, 1048576, 65536,
           thinking=True, **_CHAT),
    _model("gemini-embedding-001", "Gemini Embedding 001", "001",
           ["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"], 2048, 1),
    _model("text-embedding-004", "Text Embedding 004", "004", ["embedContent"], 2048, 1),
]

_THINKING = {"gemini-2.5-flash": "default", "gemini-2.5-pro": "always", "gemini-2.5-flash-lite": "optional",
             "gemini-3-pro-preview": "always"}

_EMBED_DIMS = {"gemini-embedding-001": 3072, "text-embedding-004": 768}


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(entry)


@ROUTES.route("GET", r"/v1beta/models")
def list_models(svc: GeminiService, req: RecordedRequest) -> Reply:
    query = {k: v[-1] for k, v in req.query.items()}
    size_text = query.get("pageSize") or query.get("page_size") or "50"
    if not re.fullmatch(r"-?\d+", size_text):
        raise _invalid(f"Invalid value at 'page_size' (TYPE_INT32), {_show(size_text)}")
    size = int(size_text)
    size = 50 if size <= 0 else min(size, 1000)
    token = query.get("pageToken") or query.get("page_token") or ""
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().removeprefix("offset:"))
        except ValueError:
            raise _invalid("Invalid page token.") from None
    page = svc.models[start:start + size]
    body: dict[str, Any] = {"models": [_public(m) for m in page]}
    if start + size < len(svc.models):
        body["nextPageToken"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode().rstrip("=")
    return _json(body)


@ROUTES.route("GET", r"/v1beta/models/(?P<model>[^/:]+)")
def get_model(svc: GeminiService, req: RecordedRequest, model: str) -> Reply:
    return _json(_public(svc.model(model)))
