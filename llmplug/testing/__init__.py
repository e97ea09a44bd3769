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

Batch APIs (OpenAI's ``/v1/batches``, Gemini's ``:batchGenerateContent`` and
``batches/*``, with their files) run on a clock the test controls
(:mod:`llmplug.testing.batches`): ``api.batch_clock`` starts at the real time
when the server starts and then moves only when advanced, so a test steps a
job through its states and sees its counts grow::

    api.batch_clock.advance(10)   # validated: in_progress / BATCH_STATE_RUNNING
    api.batch_clock.advance(70)   # all lines answered, finalized: completed / SUCCEEDED

Phase lengths and limits are ``api.batch_settings`` (``validate_seconds``
10, ``run_seconds`` 60, ``finalize_seconds`` 10, ``cancel_seconds`` 1, the
24 h / 48 h windows, 50,000 lines, 200 MB, 20 MB inline), copied into each
job when it is created: set ``api.batch_settings.run_seconds = 90_000``
before creating a job to let it expire (or cancel it mid-way). Lines fail as
the synchronous endpoint would fail them (a bad body), or on demand through
``openai_service(api).fail_batch_lines`` / ``gemini_service(api).fail_batch_lines``.
``api.reset()`` forgets the jobs and files and restores the clock and the
settings. See :mod:`llmplug.testing.openai_api` and
:mod:`llmplug.testing.gemini_api` for the wire shapes.
"""

from __future__ import annotations

from .batches import BatchClock, BatchSettings
from .cassette import Cassette, CassetteError
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
from .openai_api import OpenAIService, openai_service  # registers the default service
from .gemini_api import GeminiService, gemini_service  # registers Gemini's /v1beta next to OpenAI's /v1

__all__ = [
    "Cassette",
    "CassetteError",
    "APIError",
    "BatchClock",
    "BatchSettings",
    "FakeAPI",
    "GeminiService",
    "Headers",
    "OpenAIService",
    "RecordedRequest",
    "Reply",
    "RouteTable",
    "Service",
    "UploadedFile",
    "gemini_service",
    "openai_service",
    "register_service",
]
