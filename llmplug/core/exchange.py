"""One call's decisions, with no I/O: what to send, and what each outcome means.

An :class:`Exchange` is asked for the next :data:`Step` and told what
happened; a driver (the sync one in :mod:`llmplug.core.dispatch`, an async
twin) does the sending, reading and sleeping in between::

    step = exchange.start()
    while True:                       # the driver's loop
        Send(request)       -> send it;            step = exchange.on_response(response)
        ReadBody(response)  -> read it whole;      step = exchange.on_body(response, raw)
        OpenStream(response)-> hand out a stream   (a failure before its first event: exchange.on_error)
        Wait(seconds)       -> sleep;              step = exchange.resend()
        Done(result) / Fail(error)
        a transport error   ->                     step = exchange.on_error(error)

Provider hooks map the operation to a request and normalise bodies and
errors; auth, redirects, the retry policy, the total deadline's arithmetic,
key scrubbing and request logging are decided here, once for every driver.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Union

import attrs

from .errors import (
    APIError, APIResponseValidationError, APIStatusError, APITimeoutError, StructuredOutputError, request_id_of,
)
from .http import REDACTED, Headers, Request, Response, Timeout, check_headers, redact_url
from .values import Secret
from .logs import logger
from .operations import get_operation, with_defaults
from .plugins import PluginManager
from .redirects import MAX_REDIRECTS, redirect_request
from .retry import RetryPolicy
from .specs import ProviderSpec

__all__ = [
    "ApiResult", "Done", "Exchange", "Fail", "FollowUp", "OpenStream", "Pages", "ReadBody", "Send", "Settings", "Step", "Wait",
]

USER_AGENT = "llmplug/0.1"
#: Shorter keys are placeholders, not secrets: they are not scrubbed from messages.
MIN_SECRET_LENGTH = 8


@attrs.define(repr=False)
class ApiResult:
    """``status, body, headers`` of one call; unpacks like the Lua return values."""

    status: int
    body: Any
    headers: Headers

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.body, self.headers))

    @property
    def request_id(self) -> str | None:
        """The id the server gave this request (the headers of :data:`~llmplug.core.errors.REQUEST_ID_HEADERS`)."""
        return request_id_of(self.headers)

    def __repr__(self) -> str:
        return f"ApiResult(status={self.status}, body={type(self.body).__name__})"


@attrs.frozen
class FollowUp:
    """The next request of a call that takes more than one (a resumable upload's
    second step). A provider's ``llmplug_build_request`` sets
    ``request.extensions["follow_up"]`` to a function of the 2xx response that
    returns one; the same call then sends ``operation`` with ``params`` (mapped
    by ``llmplug_build_request``, retried on its own), and the last request's
    result is the call's. The function may raise an ``APIError``."""

    operation: str
    params: dict[str, Any]


#: How many follow-up requests one call may make.
MAX_FOLLOW_UPS = 10


@attrs.frozen
class Send:
    """Send ``request``; close ``discard`` (a redirect's response) first."""

    request: Request
    discard: Response | None = None


@attrs.frozen
class ReadBody:
    """Read ``response``'s whole body, then call ``on_body``."""

    response: Response


@attrs.frozen
class OpenStream:
    """``response`` is a 2xx event stream: hand it out as a stream."""

    response: Response


@attrs.frozen
class Wait:
    """Sleep ``seconds``, then call ``resend``."""

    seconds: float


@attrs.frozen
class Done:
    result: ApiResult


@attrs.frozen
class Fail:
    error: APIError


Step = Union[Send, ReadBody, OpenStream, Wait, Done, Fail]


@attrs.define(kw_only=True)
class Settings:
    """What every call of one client shares."""

    plugins: PluginManager
    provider: ProviderSpec
    api_key: Secret
    timeout: Timeout
    retry: RetryPolicy
    raise_for_status: bool = True
    require_finish_reason: bool = True
    headers: Headers = attrs.field(factory=Headers)


class Exchange:
    """The decisions of one call of ``operation`` with ``params``.

    ``stream`` says a stream is asked for; ``streams_out`` that the stream is
    handed to the caller as it opens (no callback), so an error status must be
    raised even with ``raise_for_status=False``. ``clock`` is the monotonic
    clock the total deadline is measured with; ``observe`` is told of each
    failed attempt.
    """

    def __init__(
        self,
        settings: Settings,
        operation: str,
        params: dict[str, Any],
        *,
        limits: Timeout,
        max_retries: int,
        extra_headers: Mapping[str, str] | None = None,
        streams_out: bool = False,
        clock: Callable[[], float] = time.monotonic,
        observe: Callable[[APIError], Any] | None = None,
        expectation: Any = None,
        download: bool = False,
    ) -> None:
        self.settings = settings
        self.operation = operation
        self.params = with_defaults(settings.provider, operation, params)
        self.stream = bool(params.get("stream"))
        self.streams_out = streams_out
        self.limits = limits
        self.max_retries = max_retries
        self.extra_headers = extra_headers
        self.clock = clock
        #: When the total deadline passes (``None``: no deadline).
        self.deadline: float | None = None if limits.total is None else clock() + limits.total
        self.attempt = 0
        self._redirects = 0
        self._follow_ups = 0
        #: Told of every failed attempt before it is decided on (a bulk run's pace keeper).
        self.observe = observe
        #: The checks of a typed result (``response_format=T``): :class:`~llmplug.core.structured.Expectation`.
        self.expectation = expectation
        #: A download: a 2xx body is not read here but handed to the driver (the result's body is the response).
        self.download = download

    # ------------------------------------------------------------ requests

    def start(self) -> Step:
        """The first attempt's request."""
        return self.resend()

    def resend(self) -> Step:
        """The next attempt's request (after a failure and its wait)."""
        self.attempt += 1
        self._redirects = 0
        settings = self.settings
        request = settings.plugins.build_request(settings.provider, self.operation, self.params)
        for name, value in settings.headers.items():
            if name not in request.headers:
                request.headers[name] = value
        if self.extra_headers:
            request.headers.update(self.extra_headers)
        limits = self.limits
        if self.deadline is not None:
            left = self.deadline - self.clock()
            if left <= 0:
                return self.on_error(APITimeoutError(f"total timeout of {limits.total}s reached", request=request))
            limits = attrs.evolve(limits, connect=_min(limits.connect, left), read=_min(limits.read, left))
        request.timeout = limits
        request.extensions.setdefault("operation", self.operation)
        request = settings.plugins.authenticate(settings.provider, request, settings.api_key.reveal())
        check_headers(request.headers)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s headers=%s", request.method, redact_url(request.url), request.headers.redacted())
        return Send(request)

    # ------------------------------------------------------------ outcomes

    def on_response(self, response: Response) -> Step:
        """The head of a response arrived: follow a redirect, read an error or a
        result, or open the stream."""
        request = response.request
        if logger.isEnabledFor(logging.INFO):
            logger.info("%s %s -> %d", request.method, redact_url(request.url), response.status_code)
        if self._redirects < MAX_REDIRECTS:
            follow = redirect_request(request, response)
            if follow is not None:
                self._redirects += 1
                logger.debug("redirected %s -> %s %s", redact_url(request.url), follow.method, redact_url(follow.url))
                return Send(follow, discard=response)
        if not response.is_success:
            return ReadBody(response)
        if self.download:
            return Done(ApiResult(response.status_code, response, response.headers))
        if self.stream and "event-stream" in response.headers.get("content-type", ""):
            return OpenStream(response)
        return ReadBody(response)

    def on_body(self, response: Response, raw: bytes) -> Step:
        """The whole body of ``response`` arrived."""
        if not response.is_success:
            return self.on_error(self._status_error(response, raw))
        if self.stream:  # a 2xx that is not the event stream asked for
            text = _decode_text(raw)
            ctype = response.headers.get("content-type", "")
            return self.on_error(APIResponseValidationError(
                f"asked for a stream but got {ctype or 'no content type'}: {text[:200]!r}",
                body=text, status_code=response.status_code, request=response.request,
                provider=self.settings.provider.name,
            ))
        follow = response.request.extensions.get("follow_up")
        try:
            if follow is not None:
                return self._follow(follow(response), response)
            body = self._decode(response, raw)
        except APIError as exc:
            return self.on_error(exc)
        if self.expectation is not None:
            try:
                self.expectation.check(body, request=response.request, headers=response.headers)
            except StructuredOutputError as exc:  # the reply came whole: not retried
                return Fail(self.finish(exc))
        return Done(ApiResult(response.status_code, body, response.headers))

    def on_error(self, exc: APIError) -> Step:
        """An attempt failed (a transport error, an error status, a bad body, a
        stream broken before its first event): wait and resend, or give up."""
        self.finish(exc)
        if self.observe is not None:
            self.observe(exc)
        delay = self._retry_delay(exc)
        if isinstance(delay, APIError):
            return Fail(delay)
        if delay is not None:
            return Wait(delay)
        settings = self.settings
        if isinstance(exc, APIStatusError) and not settings.raise_for_status and not self.streams_out:
            headers = exc.headers if isinstance(exc.headers, Headers) else Headers(exc.headers)
            return Done(ApiResult(exc.status_code, exc.body, headers))
        return Fail(exc)

    def finish(self, exc: APIError) -> APIError:
        """Record the attempt count and provider on ``exc`` and scrub the API key from its message."""
        exc.attempts = self.attempt
        exc.provider = exc.provider or self.settings.provider.name
        if getattr(exc, "_llmplug_no_cause", False):  # the backend's exception quoted a secret
            exc.__cause__ = exc.__context__ = None
        key = self.settings.api_key.reveal()
        # A placeholder such as "x" or "EMPTY" (local servers) is no secret, and
        # replacing it would garble the server's words.
        if key and len(key) >= MIN_SECRET_LENGTH and key in exc.message:
            exc.message = exc.message.replace(key, REDACTED)
            exc.args = (exc.message,)
        return exc

    def _follow(self, follow: FollowUp, response: Response) -> Step:
        """The next request of the same call (a provider asked for it)."""
        self._follow_ups += 1
        if self._follow_ups > MAX_FOLLOW_UPS:
            return Fail(self.finish(APIResponseValidationError(
                f"{self.operation} asked for more than {MAX_FOLLOW_UPS} follow-up requests",
                body=None, status_code=response.status_code, request=response.request,
                provider=self.settings.provider.name,
            )))
        self.operation, self.params = follow.operation, follow.params
        self.attempt = 0  # the new request has its own retries
        return self.resend()

    # ------------------------------------------------------------ decisions

    def _retry_delay(self, exc: APIError) -> float | APIError | None:
        """Seconds to wait before the next attempt, ``None`` to give up with ``exc``,
        or the APITimeoutError to raise when the wait would cross the deadline."""
        retry, operation, attempt = self.settings.retry, self.operation, self.attempt
        if attempt > self.max_retries or not retry.should_retry(exc) or getattr(exc, "deadline_passed", False):
            logger.debug("giving up on %s after %d attempt(s): %s: %s", operation, attempt, type(exc).__name__, exc)
            return None
        delay = retry.wait(attempt, exc)
        if delay > retry.max_wait:
            exc.message = f"{exc.message} (server asked to retry after {delay:.1f}s, more than max_wait)"
            exc.args = (exc.message,)
            logger.debug("not retrying %s: the server asked for %.1fs, more than max_wait", operation, delay)
            return None
        if self.deadline is not None and self.clock() + delay >= self.deadline:
            error = APITimeoutError(
                f"total timeout of {self.limits.total}s reached after {attempt} attempt(s); last error: "
                f"{type(exc).__name__}: {exc}",
                request=exc.request,
                provider=self.settings.provider.name,
            )
            error.__cause__ = exc
            return self.finish(error)
        logger.debug(
            "retrying %s in %.2fs (retry %d of %d) after %s: %s",
            operation, delay, attempt, self.max_retries, type(exc).__name__, exc,
        )
        return delay

    def _status_error(self, response: Response, raw: bytes) -> APIStatusError:
        try:
            body: Any = json.loads(raw)
        except ValueError:  # an HTML or text error page: keep its text
            body = _decode_text(raw)
        settings = self.settings
        return settings.plugins.parse_error(settings.provider, self.operation, response, body)

    def _decode(self, response: Response, raw: bytes) -> Any:
        """The normalised result of a 2xx body."""
        op = get_operation(self.operation)
        if op.raw:
            return raw
        if not raw:
            return None
        settings = self.settings
        try:
            data = json.loads(raw)
        except ValueError as exc:
            text = _decode_text(raw)
            if op.result is None or not settings.raise_for_status:
                return text
            ctype = response.headers.get("content-type", "no content type")
            problem = "is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else "is not JSON"
            raise APIResponseValidationError(
                f"the {response.status_code} body of {self.operation} {problem} ({ctype}): {text[:200]!r}",
                body=text,
                status_code=response.status_code,
                request=response.request,
                provider=settings.provider.name,
            ) from None
        return settings.plugins.parse_response(settings.provider, self.operation, data, response, self.params)


class Pages:
    """A paged listing's decisions (``llmplug_next_page``), no I/O: the params of
    the next page, and each page merged into the first result, whose ``.data``
    then holds every item and whose ``.raw`` keeps the later pages' JSON under
    ``"next_pages"``. At most ``limit`` pages follow the first."""

    def __init__(self, settings: Settings, operation: str, params: dict[str, Any], limit: int = 100) -> None:
        self.settings = settings
        self.operation = operation
        self.params = params
        self.limit = limit
        self.pages: list[Any] = []

    def following(self, result: ApiResult) -> dict[str, Any] | None:
        """The params of the page after ``result`` (the last page read), or ``None``."""
        if result.status >= 300 or len(self.pages) >= self.limit:
            return None
        settings = self.settings
        params = settings.plugins.next_page(settings.provider, self.operation, self.params, result.body)
        if params is None or params == self.params:
            return None
        self.params = params
        return dict(params)

    def merge(self, first: ApiResult, page: ApiResult) -> None:
        """Add ``page``'s items to ``first``."""
        first.body.data.extend(page.body.data)
        if isinstance(first.body.shaped, dict) and isinstance(page.body.shaped, dict):  # dict access sees every item
            first.body.shaped["data"] = [*first.body.shaped.get("data", []), *page.body.shaped.get("data", [])]
        self.pages.append(page.body.raw)

    def result(self, first: ApiResult) -> ApiResult:
        """``first`` with every page merged in."""
        if self.pages:
            first.body.raw = {**first.body.raw, "next_pages": self.pages}
        return first


def _min(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
