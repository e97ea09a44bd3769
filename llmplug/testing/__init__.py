"""A faithful fake of LLM HTTP APIs for tests, ours and our users'.

>>> from llmplug.testing import FakeAPI
>>> with FakeAPI() as api:  # doctest: +SKIP
...     api.queue("POST", "/v1/chat/completions", status=429, headers={"retry-after": "1"})
...     ...  # point a client at api.base_url

The default service is OpenAI's API under ``/v1`` (see
:mod:`llmplug.testing.openai_api`). Another API is a :class:`Service`
subclass with its own :class:`RouteTable`, registered with
:func:`register_service` or passed as ``FakeAPI(services=[...])``.
Structured outputs are answered alike by every service: a deterministic
instance of the request's JSON Schema (:mod:`llmplug.testing.schemas`).
"""

from __future__ import annotations

from .server import (
    APIError,
    FakeAPI,
    Headers,
    RecordedRequest,
    Reply,
    RouteTable,
    Service,
    UploadedFile,
    register_service,
)
from .openai_api import OpenAIService  # registers the default service
from .gemini_api import GeminiService  # registers Gemini's /v1beta next to OpenAI's /v1

__all__ = [
    "APIError",
    "FakeAPI",
    "GeminiService",
    "Headers",
    "OpenAIService",
    "RecordedRequest",
    "Reply",
    "RouteTable",
    "Service",
    "UploadedFile",
    "register_service",
]
