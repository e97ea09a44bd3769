"""The Gemini provider ``gemini``: Gemini's native v1beta REST API, normalised to the
core models the OpenAI provider returns (``gemini-openai``, Gemini's
OpenAI-compatible endpoint, is in :mod:`llmplug.providers.openai`). This package
is the plugin module; each job has its room: :mod:`.request` and :mod:`.messages`
(OpenAI-style params and messages to ``generateContent`` bodies, Gemini's parts
and thought signatures replayed), :mod:`.response` (Gemini's JSON to the core
models, the finish-reason table), :mod:`.stream` (``streamGenerateContent``
events to chunks), :mod:`.files` (the Files API: resumable uploads, downloads),
:mod:`.errors` (Google's error shape and ``RetryInfo``) and
:mod:`.plugin` (registration and hooks); :mod:`.retry_info` is a built-in
plugin of its own (``RetryInfo`` for ``gemini-openai`` too). The provider does no I/O: ``models()``
follows ``nextPageToken`` through every page (``llmplug_next_page``). The
choices made are documented in the README and docs/gemini.md.
"""

from __future__ import annotations

import importlib
from typing import Any

from .plugin import (
    FAMILY,
    PROVIDERS,
    llmplug_authenticate,
    llmplug_batch_format,
    llmplug_build_request,
    llmplug_next_page,
    llmplug_parse_error,
    llmplug_parse_response,
    llmplug_register_providers,
    llmplug_stream_parser,
    llmplug_structured_output,
)

#: The rooms' public names, imported on first use: a client of another
#: provider never loads them (name -> module of this package).
_LAZY = {
    "parse_gemini_error": "errors", "retry_info_delay": "errors",
    "GENERATED_ID_PREFIX": "messages", "map_messages": "messages",
    "build_gemini_request": "request", "chat_body": "request", "embedding_body": "request", "map_tools": "request",
    "model_resource": "request",
    "completion_from_gemini": "response", "embeddings_from_gemini": "response", "finish_reason": "response",
    "models_from_gemini": "response",
    "ChunkParser": "stream",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)


__all__ = [
    "FAMILY",
    "GENERATED_ID_PREFIX",
    "PROVIDERS",
    "ChunkParser",
    "build_gemini_request",
    "chat_body",
    "completion_from_gemini",
    "embedding_body",
    "embeddings_from_gemini",
    "finish_reason",
    "map_messages",
    "map_tools",
    "model_resource",
    "models_from_gemini",
    "parse_gemini_error",
    "retry_info_delay",
    "llmplug_authenticate",
    "llmplug_batch_format",
    "llmplug_build_request",
    "llmplug_next_page",
    "llmplug_parse_error",
    "llmplug_parse_response",
    "llmplug_register_providers",
    "llmplug_stream_parser",
    "llmplug_structured_output",
]
