"""The fake OpenAI API as a service: its route table, auth, errors and headers.

:data:`ROUTES` maps every endpoint under ``/v1`` to its handler in the
endpoint's module; :class:`OpenAIService` checks the bearer key, words errors
as OpenAI does, adds OpenAI's response headers, and keeps the in-memory stores
(files, responses) of one server. Importing this module registers the service
as a default of every ``FakeAPI``.
"""

from __future__ import annotations

from typing import Any

from ..server import RecordedRequest, Reply, Service, register_service
from . import chat, embedding, files, images, legacy_completions, models, moderation, responses
from .common import ROUTES, _hex


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
    """The OpenAI API under ``/v1``, with in-memory files and responses."""

    prefix = "/v1"
    routes = ROUTES

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.file_data: dict[str, bytes] = {}
        self.responses: dict[str, dict[str, Any]] = {}
        self.response_inputs: dict[str, list[dict[str, Any]]] = {}

    def reset(self) -> None:
        self.files.clear()
        self.file_data.clear()
        self.responses.clear()
        self.response_inputs.clear()

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
