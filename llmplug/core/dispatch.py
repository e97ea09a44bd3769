"""Dispatch: the one path every API call takes.

``call(operation, params)``: provider hooks map the operation to a Request ->
the auth hook adds credentials -> the transport sends it (with retries and
timeouts) -> provider hooks normalise the body, the stream events or the error.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs

from .logs import logger
from .errors import APIError, APIResponseValidationError, APIStatusError, APITimeoutError
from .http import Headers, Request, Response, Secret, Timeout, Transport
from .operations import get_operation
from .plugins import PluginManager
from .redirects import MAX_REDIRECTS, redirect_request
from .retry import RetryPolicy
from .specs import ProviderSpec
from .streaming import Stream, accumulator_for, iter_events

USER_AGENT = "llmplug/0.1"


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
    ) -> None:
        self.plugins = plugins
        self.provider = provider
        self._api_key = Secret(api_key)
        self.transport = transport
        self.timeout = timeout
        self.retry = retry
        self.raise_for_status = raise_for_status
        self.headers = Headers({"User-Agent": USER_AGENT, **provider.headers, **(headers or {})})

    def call(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        callback: Callable[[Any], None] | None = None,
        timeout: Timeout | float | None = None,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ApiResult | Stream[Any]:
        """Run ``operation``. With ``params["stream"]`` true: a :class:`Stream`, or with
        ``callback`` the result assembled after calling it for each event."""
        stream = bool(params.get("stream"))
        limits = Timeout.coerce(timeout) if timeout is not None else self.timeout
        retries = self.retry.max_retries if max_retries is None else max_retries
        deadline = None if limits.total is None else time.monotonic() + limits.total
        attempt = 0
        while True:
            try:
                response = self._attempt(operation, params, limits, deadline, headers)
                if stream:
                    return self._stream(operation, response, callback)
                return ApiResult(response.status_code, self._read_body(operation, response), response.headers)
            except APIError as exc:
                attempt += 1
                if attempt > retries or not self.retry.should_retry(exc):
                    return self._give_up(exc)
                delay = self.retry.wait(attempt, exc)
                if delay > self.retry.max_wait:
                    exc.message = f"{exc.message} (server asked to retry after {delay:.1f}s, more than max_wait)"
                    exc.args = (exc.message,)
                    return self._give_up(exc)
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise APITimeoutError(
                        f"total timeout of {limits.total}s reached after {attempt} attempt(s)",
                        provider=self.provider.name,
                    ) from exc
                logger.debug("retrying %s (attempt %d of %d) in %.2fs: %s", operation, attempt, retries, delay, exc)
                self.retry.sleep(delay)

    # ------------------------------------------------------------ steps

    def _attempt(
        self,
        operation: str,
        params: dict[str, Any],
        limits: Timeout,
        deadline: float | None,
        extra_headers: Mapping[str, str] | None,
    ) -> Response:
        request = self.plugins.build_request(self.provider, operation, params)
        for name, value in self.headers.items():
            if name not in request.headers:
                request.headers[name] = value
        if extra_headers:
            request.headers.update(extra_headers)
        if deadline is not None:
            left = max(deadline - time.monotonic(), 0.001)
            limits = attrs.evolve(limits, connect=_min(limits.connect, left), read=_min(limits.read, left))
        request.timeout = limits
        request.extensions.setdefault("operation", operation)
        request = self.plugins.authenticate(self.provider, request, self._api_key.reveal())
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s headers=%s", request.method, request.url, request.headers.redacted())
        response = self._send(request)
        for _ in range(MAX_REDIRECTS):
            follow = redirect_request(request, response)
            if follow is None:
                break
            response.close()
            logger.debug("redirected %s -> %s %s", request.url, follow.method, follow.url)
            request = follow
            response = self._send(request)
        if not response.is_success:
            raise self._status_error(operation, response)
        return response

    def _send(self, request: Request) -> Response:
        try:
            return self.transport.send(request)
        except APIError as exc:
            exc.provider = exc.provider or self.provider.name
            raise

    def _status_error(self, operation: str, response: Response) -> APIStatusError:
        raw = response.read()
        body: Any = _decode_text(raw)
        try:
            body = json.loads(raw)
        except ValueError:
            pass
        error = self.plugins.parse_error(self.provider, operation, response, body)
        logger.debug("%s %s -> %s", response.request.method, response.request.url, response.status_code)
        return error

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
        except ValueError:
            text = _decode_text(raw)
            if op.result is None or not self.raise_for_status:
                return text
            ctype = response.headers.get("content-type", "no content type")
            raise APIResponseValidationError(
                f"expected a JSON body from {operation}, got {ctype}: {text[:200]!r}",
                body=text,
                status_code=response.status_code,
                request=response.request,
                provider=self.provider.name,
            ) from None
        return self.plugins.parse_response(self.provider, operation, data, response)

    def _stream(self, operation: str, response: Response, callback: Callable[[Any], None] | None) -> Any:
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
        accumulator = accumulator_for(get_operation(operation).event)
        parse = self.plugins.stream_parser(self.provider, operation)
        events = iter_events(response, parse, accumulator, provider=self.provider.name)
        stream: Stream[Any] = Stream(events, response, accumulator)
        if callback is None:
            return stream
        with stream:
            for event in stream:
                callback(event)
        return ApiResult(response.status_code, stream.final, response.headers)

    def close(self) -> None:
        self.transport.close()

    def __repr__(self) -> str:
        return f"<Dispatcher provider={self.provider.name!r} transport={self.transport.name!r}>"


def _min(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")
