"""Dispatch: the one path every API call takes.

``call(operation, params)``: provider hooks map the operation to a Request ->
the auth hook adds credentials -> the transport sends it (with retries and
timeouts) -> provider hooks normalise the body, the stream events or the error.
"""

from __future__ import annotations

import json
import logging
import time
from functools import partial
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from .errors import APIError, APIResponseValidationError, APIStatusError, APITimeoutError
from .http import (
    NOT_GIVEN,
    REDACTED,
    ByteStream,
    Headers,
    Request,
    Response,
    Secret,
    Timeout,
    Transport,
    check_headers,
    redact_url,
)
from .deadline import Deadline, DeadlineStream
from .logs import logger
from .operations import get_operation
from .plugins import PluginManager
from .redirects import MAX_REDIRECTS, redirect_request
from .retry import RetryPolicy
from .specs import ProviderSpec
from .streaming import Stream, accumulator_for, iter_events
from .transport_support import WAITING

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
        return self.headers.get("x-request-id")

    def __repr__(self) -> str:
        return f"ApiResult(status={self.status}, body={type(self.body).__name__})"


class Dispatcher:
    """Sends operations for one provider through one transport."""

    def __init__(
        self,
        *,
        plugins: PluginManager,
        provider: ProviderSpec,
        api_key: str | None,
        transport: Transport,
        timeout: Timeout,
        retry: RetryPolicy,
        raise_for_status: bool = True,
        headers: Mapping[str, str] | None = None,
        require_finish_reason: bool = True,
    ) -> None:
        self.plugins = plugins
        self.provider = provider
        self._api_key = Secret(api_key)
        self.transport = transport
        self.timeout = timeout
        self.retry = retry
        self.raise_for_status = raise_for_status
        self.require_finish_reason = require_finish_reason
        self.headers = Headers({"User-Agent": USER_AGENT, **provider.headers, **(headers or {})})

    def call(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        callback: Callable[[Any], None] | None = None,
        timeout: Timeout | float | None = NOT_GIVEN,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResult | Stream[Any]:
        """Run ``operation``. With ``params["stream"]`` true: a :class:`Stream`, or with
        ``callback`` the result assembled after calling it for each event.

        A failed attempt is retried while nothing has reached the caller: a
        plain call until its body is decoded, a stream until it is handed over
        (with a callback: until the first event is). ``timeout.total`` bounds
        the whole call: every attempt, every wait between them and the body.
        """
        stream = bool(params.get("stream"))
        limits = self.timeout if timeout is NOT_GIVEN else Timeout.coerce(timeout)
        retries = self.retry.max_retries if max_retries is None else max_retries
        deadline = None if limits.total is None else Deadline(time.monotonic() + limits.total, limits.total)
        try:
            return self._call(operation, params, stream, callback, limits, retries, deadline, headers)
        finally:
            if deadline is not None:
                deadline.stop()  # its helper thread ends; a returned Stream's next read starts another

    def _call(
        self,
        operation: str,
        params: dict[str, Any],
        stream: bool,
        callback: Callable[[Any], None] | None,
        limits: Timeout,
        retries: int,
        deadline: Deadline | None,
        headers: Mapping[str, str] | None,
    ) -> ApiResult | Stream[Any]:
        """The attempts of :meth:`call`."""
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._attempt(operation, params, limits, deadline, headers)
                if not stream:
                    return ApiResult(response.status_code, self._read_body(operation, response), response.headers)
                events = self._open_stream(operation, response, attempt)
                if callback is None:
                    return events
                first = next(events, _END)  # nothing reached the caller yet: still retryable
            except APIError as exc:
                self._finish(exc, attempt)
                delay = self._retry_delay(operation, exc, attempt, retries, limits, deadline)
                if delay is None:
                    if stream and callback is None:
                        raise exc  # a Stream cannot carry an error status: raise it even without raise_for_status
                    return self._give_up(exc)
                self.retry.sleep(delay)
                continue
            return self._deliver(events, first, callback)

    def _retry_delay(
        self, operation: str, exc: APIError, attempt: int, retries: int, limits: Timeout, deadline: Deadline | None
    ) -> float | None:
        """Seconds to wait before the next attempt, ``None`` to give up with ``exc``;
        raises APITimeoutError when the wait would cross the total deadline."""
        if attempt > retries or not self.retry.should_retry(exc) or getattr(exc, "deadline_passed", False):
            logger.debug("giving up on %s after %d attempt(s): %s: %s", operation, attempt, type(exc).__name__, exc)
            return None
        delay = self.retry.wait(attempt, exc)
        if delay > self.retry.max_wait:
            exc.message = f"{exc.message} (server asked to retry after {delay:.1f}s, more than max_wait)"
            exc.args = (exc.message,)
            logger.debug("not retrying %s: the server asked for %.1fs, more than max_wait", operation, delay)
            return None
        if deadline is not None and time.monotonic() + delay >= deadline.at:
            error = APITimeoutError(
                f"total timeout of {limits.total}s reached after {attempt} attempt(s); last error: "
                f"{type(exc).__name__}: {exc}",
                request=exc.request,
                provider=self.provider.name,
            )
            self._finish(error, attempt)
            raise error from exc
        logger.debug(
            "retrying %s in %.2fs (retry %d of %d) after %s: %s",
            operation, delay, attempt, retries, type(exc).__name__, exc,
        )
        return delay

    def _finish(self, exc: APIError, attempts: int) -> APIError:
        """Record the attempt count on ``exc`` and scrub the API key from its message."""
        exc.attempts = attempts
        exc.provider = exc.provider or self.provider.name
        if getattr(exc, "_llmplug_no_cause", False):  # the backend's exception quoted a secret
            exc.__cause__ = exc.__context__ = None
        key = self._api_key.reveal()
        # A placeholder such as "x" or "EMPTY" (local servers) is no secret, and
        # replacing it would garble the server's words.
        if key and len(key) >= MIN_SECRET_LENGTH and key in exc.message:
            exc.message = exc.message.replace(key, REDACTED)
            exc.args = (exc.message,)
        return exc

    # ------------------------------------------------------------ steps

    def _attempt(
        self,
        operation: str,
        params: dict[str, Any],
        limits: Timeout,
        deadline: Deadline | None,
        extra_headers: Mapping[str, str] | None,
    ) -> Response:
        request = self.plugins.build_request(self.provider, operation, params)
        for name, value in self.headers.items():
            if name not in request.headers:
                request.headers[name] = value
        if extra_headers:
            request.headers.update(extra_headers)
        if deadline is not None:
            left = deadline.left()
            if left <= 0:
                raise APITimeoutError(f"total timeout of {limits.total}s reached", request=request)
            limits = attrs.evolve(limits, connect=_min(limits.connect, left), read=_min(limits.read, left))
        request.timeout = limits
        request.extensions.setdefault("operation", operation)
        request = self.plugins.authenticate(self.provider, request, self._api_key.reveal())
        check_headers(request.headers)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s headers=%s", request.method, redact_url(request.url), request.headers.redacted())
        response = self._send(request, deadline, limits)
        for _ in range(MAX_REDIRECTS):
            follow = redirect_request(request, response)
            if follow is None:
                break
            response.close()
            logger.debug("redirected %s -> %s %s", redact_url(request.url), follow.method, redact_url(follow.url))
            request = follow
            response = self._send(request, deadline, limits)
        if not response.is_success:
            raise self._status_error(operation, response)
        return response

    def _send(self, request: Request, deadline: Deadline | None, limits: Timeout) -> Response:
        try:
            if deadline is None:
                response = self.transport.send(request)
            else:  # waits at most until the deadline, even while a server trickles the head
                response = deadline.run(lambda: self.transport.send(request), request, WAITING, Response.close)
        except APIError as exc:
            exc.provider = exc.provider or self.provider.name
            raise
        if logger.isEnabledFor(logging.INFO):
            logger.info("%s %s -> %d", request.method, redact_url(request.url), response.status_code)
        if deadline is not None:
            response.stream = DeadlineStream(response.stream, deadline, request)
        return response

    def _status_error(self, operation: str, response: Response) -> APIStatusError:
        raw = response.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:  # an HTML or text error page: keep its text
            body = _decode_text(raw)
        return self.plugins.parse_error(self.provider, operation, response, body)

    def _give_up(self, exc: APIError) -> ApiResult:
        if isinstance(exc, APIStatusError) and not self.raise_for_status:
            headers = exc.headers if isinstance(exc.headers, Headers) else Headers(exc.headers)
            return ApiResult(exc.status_code, exc.body, headers)
        raise exc

    def _read_body(self, operation: str, response: Response) -> Any:
        raw = response.read()
        op = get_operation(operation)
        if operation == "files.content":
            return raw
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            text = _decode_text(raw)
            if op.result is None or not self.raise_for_status:
                return text
            ctype = response.headers.get("content-type", "no content type")
            problem = "is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else "is not JSON"
            raise APIResponseValidationError(
                f"the {response.status_code} body of {operation} {problem} ({ctype}): {text[:200]!r}",
                body=text,
                status_code=response.status_code,
                request=response.request,
                provider=self.provider.name,
            ) from None
        return self.plugins.parse_response(self.provider, operation, data, response)

    def _open_stream(self, operation: str, response: Response, attempts: int) -> Stream[Any]:
        """The :class:`Stream` over a 2xx response, after checking it is an event stream."""
        ctype = response.headers.get("content-type", "")
        if "event-stream" not in ctype:
            text = _decode_text(response.read())
            raise APIResponseValidationError(
                f"asked for a stream but got {ctype or 'no content type'}: {text[:200]!r}",
                body=text,
                status_code=response.status_code,
                request=response.request,
                provider=self.provider.name,
            )
        accumulator = accumulator_for(get_operation(operation).event, require_finish=self.require_finish_reason)
        parse = self.plugins.stream_parser(self.provider, operation)
        # A mid-stream error is scrubbed and stamped like the errors of call().
        on_error = partial(self._finish, attempts=attempts)
        events = iter_events(response, parse, accumulator, provider=self.provider.name, on_error=on_error)
        return Stream(events, response, accumulator)

    def _deliver(self, stream: Stream[Any], first: Any, callback: Callable[[Any], None]) -> ApiResult:
        """Hand ``first`` and the rest of ``stream`` to ``callback``; the assembled result."""
        with stream:
            if first is not _END:
                callback(first)
                for event in stream:
                    callback(event)
        return ApiResult(stream.status_code, stream.final, stream.headers)

    def close(self) -> None:
        self.transport.close()

    def __repr__(self) -> str:
        return f"<Dispatcher provider={self.provider.name!r} transport={self.transport.name!r}>"


#: ``next()``'s default when a stream has no event at all.
_END: Any = object()


def _min(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
