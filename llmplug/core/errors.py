"""The error tree. Every llmplug error derives from :class:`LLMPlugError`::

    LLMPlugError
    ├── ConfigurationError (ValueError)      bad input: says what to fix
    │   ├── UnknownProviderError             lists the provider names that exist
    │   ├── UnknownTransportError            lists the transport names that exist
    │   │   └── TransportNotInstalledError   a registered transport's library is missing
    │   ├── MissingAPIKeyError               names the env variables looked at
    │   └── UnsupportedOperationError        the provider has no such endpoint
    ├── PluginError                          a plugin failed to load or clashes
    └── APIError                             something went wrong talking to the server
        ├── APIConnectionError               no usable response (safe to retry)
        │   └── APITimeoutError              a connect/read/total timeout
        ├── StreamError                      a stream broke, ended early or held bad data
        │   └── StreamTimeoutError           ...by a timeout (also an APITimeoutError)
        ├── APIResponseValidationError       a 2xx body that is not what was promised
        ├── StructuredOutputError            the reply is not the typed output asked for
        │   ├── RefusalError                 the model refused (``.refusal``)
        │   ├── LengthFinishReasonError      the reply was cut by the token limit
        │   ├── ContentFilterFinishReasonError  the reply was stopped by a content filter
        │   ├── InvalidJSONError             the reply is not JSON
        │   └── StructuredValidationError    JSON that does not fit the type (``.errors``)
        └── APIStatusError                   a non-2xx status
            ├── BadRequestError 400          ├── ConflictError 409
            ├── AuthenticationError 401      ├── UnprocessableEntityError 422
            ├── PermissionDeniedError 403    ├── RateLimitError 429
            ├── NotFoundError 404            └── InternalServerError >= 500

Retry-safe: APIConnectionError, APITimeoutError, 408, 409, 429 and 5xx statuses.
No error message, argument or repr includes an API key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "ContentFilterFinishReasonError",
    "InternalServerError",
    "InvalidJSONError",
    "LengthFinishReasonError",
    "LLMPlugError",
    "make_status_error",
    "MissingAPIKeyError",
    "NotFoundError",
    "PermissionDeniedError",
    "PluginError",
    "RateLimitError",
    "RefusalError",
    "REQUEST_ID_HEADERS",
    "request_id_of",
    "status_error_class",
    "StreamError",
    "StreamTimeoutError",
    "StructuredOutputError",
    "StructuredValidationError",
    "UnknownNameError",
    "UnknownProviderError",
    "UnknownTransportError",
    "UnprocessableEntityError",
    "UnsupportedOperationError",
]


class LLMPlugError(Exception):
    """Root of every error llmplug raises."""


class ConfigurationError(LLMPlugError, ValueError):
    """Bad input or configuration; the message says what to fix."""


class UnknownNameError(ConfigurationError, LookupError):
    """A name that no plugin registered; the message lists those that exist."""

    kind = "name"

    def __init__(self, name: str, available: Iterable[str], hint: str = "") -> None:
        self.name = name
        self.available = sorted(available)
        listing = ", ".join(self.available) or "(none)"
        super().__init__(f"unknown {self.kind} {name!r}; available: {listing}{hint}")


class UnknownProviderError(UnknownNameError):
    kind = "provider"


class UnknownTransportError(UnknownNameError):
    kind = "transport"


class TransportNotInstalledError(UnknownTransportError):
    """A registered transport whose library cannot be imported; the message says what to install.

    An :class:`UnknownTransportError`, since it cannot be used either: ``available``
    lists the transports that are installed, ``missing`` the modules this one needs.
    """

    def __init__(self, name: str, available: Iterable[str], missing: Iterable[str], install: str) -> None:
        self.name = name
        self.available = sorted(available)
        installed = ", ".join(self.available) or "(none)"
        ConfigurationError.__init__(self, f"transport {name!r} is not installed: {install}; installed: {installed}")
        self.missing = tuple(missing)


class MissingAPIKeyError(ConfigurationError):
    """The provider needs a key and none was given or found in the environment."""


class UnsupportedOperationError(ConfigurationError):
    """The provider has no equivalent of the requested operation."""


class PluginError(LLMPlugError):
    """A plugin failed to load, registered a clashing name, or implements no known hook."""


class APIError(LLMPlugError):
    """A failure talking to the API. ``request`` is the (redacted-repr) request sent."""

    def __init__(self, message: str, *, request: Any = None, provider: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request
        self.provider = provider
        #: For a failure mid-stream: what had been delivered before it (text or a model).
        self.received: Any = None
        #: How many attempts the call made before this error (set by dispatch).
        self.attempts: int = 1


class APIConnectionError(APIError):
    """The server could not be reached or dropped the connection. Safe to retry."""


class APITimeoutError(APIConnectionError):
    """A connect, read (idle) or total timeout expired. Safe to retry."""


class StreamError(APIError):
    """A stream broke, ended without its terminator, or carried a payload that is not JSON.

    ``payload`` is the offending data (if any); ``received`` the text assembled
    before the failure (choice 0's content, the Responses output text);
    ``events`` the events delivered before it. When
    the connection failed, the transport's error is the ``__cause__``.
    """

    def __init__(
        self, message: str, *, payload: str | None = None, received: Any = None, events: list[Any] | None = None, **base: Any
    ) -> None:
        super().__init__(message, **base)  # request=, provider=
        self.payload = payload
        self.received = received
        self.events: list[Any] = [] if events is None else events
        #: The connection broke before any event reached the caller: safe to retry.
        self.retryable = False


class StreamTimeoutError(StreamError, APITimeoutError):
    """A stream stalled past the read timeout, or ran past the total deadline,
    after its response started: both a StreamError (with ``received``) and an
    APITimeoutError."""


class APIResponseValidationError(APIError):
    """A success status whose body is not what the operation returns (e.g. not JSON)."""

    def __init__(self, message: str, *, body: Any, status_code: int, **base: Any) -> None:
        super().__init__(message, **base)  # request=, provider=
        self.body = body
        self.status_code = status_code


class StructuredOutputError(APIError):
    """The reply is not the typed output asked for (``response_format=T``,
    ``text_format=T``). Raised only when a type was given (a typed tool's bad
    arguments go back to the model instead); keeps what came:

    - ``raw_text``: the reply's text as it came (``""`` when there was none);
    - ``completion``: the whole result (a ChatCompletion or Response) it came in;
    - ``response_format``: the type asked for;
    - ``errors``: where it failed (``"expected int @ $.age"``...), when known;
    - ``headers`` of the response, and its ``request_id``.
    """

    def __init__(
        self,
        message: str,
        *,
        raw_text: str = "",
        completion: Any = None,
        response_format: Any = None,
        errors: Iterable[str] = (),
        headers: Mapping[str, str] | None = None,
        **base: Any,
    ) -> None:
        super().__init__(message, **base)  # request=, provider=
        self.raw_text = raw_text
        self.completion = completion
        self.response_format = response_format
        self.errors = list(errors)
        self.headers = headers if headers is not None else {}

    @property
    def request_id(self) -> str | None:
        """The id the server gave the request (see :data:`REQUEST_ID_HEADERS`)."""
        return request_id_of(self.headers)


class RefusalError(StructuredOutputError):
    """The model refused: ``refusal`` is its words (OpenAI's ``message.refusal``, or
    why Gemini blocked the prompt). ``on_refusal="return"`` returns the result instead."""

    def __init__(self, message: str, *, refusal: str, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.refusal = refusal


class LengthFinishReasonError(StructuredOutputError):
    """The reply was cut by the token limit (``finish_reason == "length"``, Gemini's
    ``MAX_TOKENS``, an incomplete response); ``raw_text`` is the part that came."""


class ContentFilterFinishReasonError(StructuredOutputError):
    """A content filter stopped the reply (``finish_reason == "content_filter"``)."""


class InvalidJSONError(StructuredOutputError):
    """The reply is not JSON (``errors`` says where it broke)."""


class StructuredValidationError(StructuredOutputError):
    """The reply is JSON that does not fit the type: ``errors`` lists each place."""


#: status -> the APIStatusError subclass declared for it (``class X(APIStatusError, status=N)``).
_BY_STATUS: dict[int, type[APIStatusError]] = {}


class APIStatusError(APIError):
    """The server answered with a non-2xx status.

    A subclass declared with ``status=N`` is the error raised for status ``N``.
    """

    status_code: int = 0

    def __init_subclass__(cls, status: int | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status_code = status
            _BY_STATUS[status] = cls

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        provider: str | None = None,
        request: Any = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, request=request, provider=provider)
        self.status_code = status_code
        self.body = body
        self.headers = headers if headers is not None else {}
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        rid = f" (request id {self.request_id})" if self.request_id else ""
        who = f"{self.provider}: " if self.provider else ""
        return f"{who}{self.status_code} {self.message}{rid}"


class BadRequestError(APIStatusError, status=400): ...
class AuthenticationError(APIStatusError, status=401): ...
class PermissionDeniedError(APIStatusError, status=403): ...
class NotFoundError(APIStatusError, status=404): ...
class ConflictError(APIStatusError, status=409): ...
class UnprocessableEntityError(APIStatusError, status=422): ...


class RateLimitError(APIStatusError, status=429):
    """Retried by the client (``max_retries``, honouring ``Retry-After``) before it is raised."""


class InternalServerError(APIStatusError, status=500):
    """Any status from 500 up; retried by the client, like 408, 409 and 429, before it is raised."""


def status_error_class(status_code: int) -> type[APIStatusError]:
    """The APIStatusError subclass for ``status_code``."""
    if status_code >= 500:
        return InternalServerError
    return _BY_STATUS.get(status_code, APIStatusError)


#: Where servers put the id of a request, most common first (``request-id``: Anthropic).
REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-goog-request-id", "openai-request-id")


def request_id_of(headers: Mapping[str, str] | None) -> str | None:
    """The request id a response's ``headers`` carry (see :data:`REQUEST_ID_HEADERS`), if any."""
    if headers:
        for name in REQUEST_ID_HEADERS:
            if name in headers:
                return headers[name]
    return None


def make_status_error(
    message: str,
    *,
    status_code: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    provider: str | None = None,
    request: Any = None,
    retry_after: float | None = None,
    request_id: str | None = None,
) -> APIStatusError:
    """Build the typed error for a non-2xx response (the subclass of its status);
    ``request_id`` defaults to the one in ``headers``."""
    request_id = request_id if request_id is not None else request_id_of(headers)
    cls = status_error_class(status_code)
    return cls(
        message,
        status_code=status_code,
        body=body,
        headers=headers,
        request_id=request_id,
        provider=provider,
        request=request,
        retry_after=retry_after,
    )
