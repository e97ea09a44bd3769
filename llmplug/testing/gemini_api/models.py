"""The models the fake Gemini API knows, and ``GET /v1beta/models[/{model}]``.

:data:`MODELS` is the catalogue (each server serves a copy, ``svc.models``);
:data:`_THINKING` says which models think and whether that can be turned off,
:data:`_EMBED_DIMS` the embedding models' dimensions. Listing pages with
``pageSize``/``pageToken`` as Gemini does.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..server import RecordedRequest, Reply
from .common import ROUTES, _json, page_token, page_window

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
    start, size = page_window(req, 50, 1000)
    page = svc.models[start:start + size]
    body: dict[str, Any] = {"models": [_public(m) for m in page]}
    if start + size < len(svc.models):
        body["nextPageToken"] = page_token(start + size)
    return _json(body)


@ROUTES.route("GET", r"/v1beta/models/(?P<model>[^/:]+)")
def get_model(svc: GeminiService, req: RecordedRequest, model: str) -> Reply:
    return _json(_public(svc.model(model)))
