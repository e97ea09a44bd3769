"""The fake OpenAI API as a service: its route table, auth, errors and headers.

:data:`ROUTES` maps every endpoint under ``/v1`` to its handler in the
endpoint's module; :class:`OpenAIService` checks the bearer key, words errors
as OpenAI does, adds OpenAI's response headers, and keeps the in-memory stores
(files, responses, batch jobs) of one server. Importing this module registers
the service as a default of every ``FakeAPI``; :func:`openai_service` finds it
on a running ``FakeAPI``.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from ..batches import BatchClock, BatchSettings
from ..server import RecordedRequest, Reply, Service, register_service
from . import batches, chat, embedding, files, images, legacy_completions, models, moderation, responses
from .common import ROUTES, _hex, _rand

if TYPE_CHECKING:
    from .batches import OpenAIBatch


_STATUS_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Bad request.", "invalid_request_error", None),
    401: (
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory"),
    404: ("The requested resource does not exist.", "invalid_request_error", None),
    409: ("The request conflicted with another request.", "invalid_request_error", None),
    422: ("The request could not be processed.", "invalid_request_error", None),
    429: (
        "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}


class OpenAIService(Service):
    """The OpenAI API under ``/v1``, with in-memory files, responses and batch jobs.

    ``files`` (metadata) and ``file_data`` (bytes) hold uploads and batch
    outputs by file id; ``batches`` the batch jobs by id
    (:class:`~llmplug.testing.openai_api.batches.OpenAIBatch`, in creation
    order: change one's ``settings`` to retime it, or call ``batch(id)`` for it
    brought up to the batch clock).
    """

    prefix = "/v1"
    routes = ROUTES

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.file_data: dict[str, bytes] = {}
        self.responses: dict[str, dict[str, Any]] = {}
        self.response_inputs: dict[str, list[dict[str, Any]]] = {}
        self.batches: dict[str, OpenAIBatch] = {}
        #: ``custom_id`` -> HTTP status: that batch line is answered with this API's
        #: canned error of that status (500, 429...) instead of its endpoint's answer.
        self.fail_batch_lines: dict[str, int] = {}
        #: Held while a batch job is read or moved on (answering its lines included).
        self.batch_lock = threading.RLock()
        self.batch_clock = BatchClock()  # FakeAPI replaces both with its shared ones
        self.batch_settings = BatchSettings()

    def reset(self) -> None:
        self.files.clear()
        self.file_data.clear()
        self.responses.clear()
        self.response_inputs.clear()
        with self.batch_lock:
            self.batches.clear()
        self.fail_batch_lines.clear()

    def add_file(
        self, data: bytes, purpose: str, filename: str, *, created_at: int | None = None,
        expires_at: int | None = None,
    ) -> dict[str, Any]:
        """Store ``data`` as a file (as an upload or a batch output would) and
        return its metadata; the bytes are kept as given, not copied."""
        created = int(time.time()) if created_at is None else created_at
        meta = {
            "object": "file",
            "id": "file-" + _rand(22),
            "purpose": purpose,
            "filename": filename,
            "bytes": len(data),
            "created_at": created,
            "expires_at": expires_at,
            "status": "processed",
            "status_details": None,
        }
        self.file_data[meta["id"]] = data
        self.files[meta["id"]] = meta
        return dict(meta)

    def batch(self, batch_id: str) -> OpenAIBatch:
        """The batch job ``batch_id``, brought up to the batch clock (KeyError if unknown)."""
        with self.batch_lock:
            job = self.batches[batch_id]
            job.advance_to(self.batch_clock.now())
            return job

    def authenticate(self, request: RecordedRequest, api_key: str) -> Reply | None:
        auth = request.headers.get("authorization")
        if auth is None or not auth.strip():
            return self.error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
                "username) if you're accessing the API from your browser and are prompted for a username and "
                "password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
                type="invalid_request_error",
            )
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() != "bearer" or token.strip() != api_key:
            return self.status_error(401)
        return None

    def status_error(self, status: int) -> Reply:
        message, type_, code = _STATUS_ERRORS.get(
            status,
            ("The server had an error processing your request.", "server_error", None)
            if status >= 500
            else (f"Request failed with status {status}.", "invalid_request_error", None),
        )
        return self.error(status, message, type=type_, code=code)

    def not_found(self, request: RecordedRequest) -> Reply:
        return self.error(404, f"Invalid URL ({request.method} {request.path})", type="invalid_request_error")

    def internal_error(self) -> Reply:
        return self.status_error(500)

    def response_headers(self, request: RecordedRequest, elapsed: float) -> list[tuple[str, str]]:
        return [
            ("openai-version", "2020-10-01"),
            ("openai-processing-ms", str(max(1, round(elapsed * 1000)))),
            ("x-request-id", "req_" + _hex(32)),
        ]


register_service(OpenAIService)


def openai_service(api: Any) -> OpenAIService:
    """The :class:`OpenAIService` a ``FakeAPI`` runs (its files, batch jobs...)."""
    for service in api.services:
        if isinstance(service, OpenAIService):
            return service
    raise LookupError("this FakeAPI serves no OpenAI API: create it with the default services")
