"""Dispatch: the sync driver, the one path every API call takes.

It loops over an :class:`~llmplug.core.exchange.Exchange` (which decides
everything: the request, redirects, retries, errors, the result), doing only
the I/O in between: send through the transport, read a body, sleep, and hand
out a stream (:mod:`llmplug.core.streaming`). An async driver is the same loop
with ``await``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .errors import APIError
from .exchange import USER_AGENT, ApiResult, Done, Exchange, Fail, OpenStream, Pages, ReadBody, Send, Settings, Step
from .http import WAITING, Headers, Request, Response, Timeout, Transport
from .values import NOT_GIVEN, Secret
from .operations import get_operation
from .plugins import PluginManager
from .retry import RetryPolicy
from .specs import ProviderSpec
from .accumulators import Accumulator
from .sse import SSEEvent
from .streaming import Stream, accumulator_for, iter_events

if TYPE_CHECKING:
    from .deadline import Deadline
    from .structured import Expectation

__all__ = ["ApiResult", "Dispatcher", "DriverBase"]

#: ``next()``'s default when a stream has no event at all.
_END: Any = object()


class DriverBase:
    """What the sync and async drivers share: the client's settings, and
    turning one call into an :class:`Exchange` and a stream's parts."""

    def __init__(
        self,
        *,
        plugins: PluginManager,
        provider: ProviderSpec,
        api_key: str | None,
        transport: Any,
        timeout: Timeout,
        retry: RetryPolicy,
        raise_for_status: bool = True,
        headers: Mapping[str, str] | None = None,
        require_finish_reason: bool = True,
    ) -> None:
        self.transport = transport
        self.settings = Settings(
            plugins=plugins,
            provider=provider,
            api_key=Secret(api_key),
            timeout=timeout,
            retry=retry,
            raise_for_status=raise_for_status,
            require_finish_reason=require_finish_reason,
            headers=Headers({"User-Agent": USER_AGENT, **provider.headers, **(headers or {})}),
        )

    @property
    def timeout(self) -> Timeout:
        return self.settings.timeout

    @property
    def retry(self) -> RetryPolicy:
        return self.settings.retry

    def exchange(
        self,
        operation: str,
        params: dict[str, Any],
        callback: Callable[[Any], Any] | None = None,
        *,
        timeout: Timeout | float | None | Any = NOT_GIVEN,
        max_retries: int | None = None,
        headers: Mapping[str, str] | None = None,
        expectation: Expectation | None = None,
        download: bool = False,
    ) -> Exchange:
        """The decisions of one call: ``timeout`` (for this call; NOT_GIVEN: the
        client's), ``max_retries`` (``None``: the client's), extra ``headers`` and
        the ``expectation`` of a typed result are the per-call options both
        drivers' ``call`` take (``download``: the driver writes the body to a
        destination, see :meth:`Dispatcher.call`)."""
        limits = self.settings.timeout if timeout is NOT_GIVEN else Timeout.coerce(timeout)
        return Exchange(
            self.settings,
            operation,
            params,
            limits=limits,
            max_retries=self.settings.retry.max_retries if max_retries is None else max_retries,
            extra_headers=headers,
            streams_out=bool(params.get("stream")) and callback is None,
            expectation=expectation,
            download=download,
        )

    def stream_parts(self, exchange: Exchange) -> tuple[Callable[[SSEEvent], Any], Accumulator]:
        """The provider's parser and the accumulator of ``exchange``'s stream."""
        settings = self.settings
        accumulator = accumulator_for(get_operation(exchange.operation).event, require_finish=settings.require_finish_reason)
        return settings.plugins.stream_parser(settings.provider, exchange.operation), accumulator

    def __repr__(self) -> str:
        return f"<{type(self).__name__} provider={self.settings.provider.name!r} transport={self.transport.name!r}>"


class Dispatcher(DriverBase):
    """Sends operations for one provider through one (sync) transport."""

    transport: Transport

    def call(
        self, operation: str, params: dict[str, Any], *, callback: Callable[[Any], None] | None = None, **options: Any
    ) -> ApiResult | Stream[Any]:
        """Run ``operation``. With ``params["stream"]`` true: a :class:`Stream`, or with
        ``callback`` the result assembled after calling it for each event.
        ``options``: the per-call ``timeout``, ``max_retries`` and ``headers`` (see :meth:`exchange`).

        With ``download=`` a path or binary file, a 2xx body is written there
        chunk by chunk (:class:`~llmplug.core.download.Destination`) and the
        result's body is the destination.

        A failed attempt is retried while nothing has reached the caller: a
        plain call until its body is decoded, a stream until it is handed over
        (with a callback: until the first event is). ``timeout.total`` bounds
        the whole call: every attempt, every wait between them and the body.
        """
        destination = options.pop("download", None)
        exchange = self.exchange(operation, params, callback, download=destination is not None, **options)
        deadline = None if exchange.deadline is None else _deadline(exchange.deadline, exchange.limits.total or 0.0)
        try:
            result = self._drive(exchange, callback, deadline)
            return result if destination is None or result.status >= 300 else self._save(result, destination)
        finally:
            if deadline is not None:
                deadline.stop()  # its helper thread ends; a returned Stream's next read starts another

    def call_pages(self, operation: str, params: dict[str, Any], **options: Any) -> ApiResult:
        """Run a paged listing and follow every page (see :class:`~llmplug.core.exchange.Pages`);
        a page with an error status (``raise_for_status=False``) is returned as it is."""
        pages = Pages(self.settings, operation, params)
        first = last = self.call(operation, dict(params), **options)
        while (following := pages.following(last)) is not None:
            last = self.call(operation, following, **options)
            if last.status >= 300:
                return last
            pages.merge(first, last)
        return pages.result(first)

    def _drive(self, exchange: Exchange, callback: Callable[[Any], None] | None, deadline: Deadline | None) -> Any:
        """The loop: do what each step says until the exchange is done."""
        step = exchange.start()
        while True:
            if isinstance(step, Done):
                return step.result
            if isinstance(step, Fail):
                raise step.error
            try:
                if isinstance(step, OpenStream):
                    stream = self._open_stream(exchange, step.response)
                    if callback is None:
                        return stream
                    first = next(stream, _END)  # nothing reached the caller yet: still retryable
                    break
                step = self._perform(step, exchange, deadline)
            except APIError as exc:
                step = exchange.on_error(exc)
        return self._deliver(stream, first, callback)

    def _perform(self, step: Step, exchange: Exchange, deadline: Deadline | None) -> Step:
        """Do a Send, ReadBody or Wait step; the exchange's next step."""
        if isinstance(step, Send):
            if step.discard is not None:
                step.discard.close()
            return exchange.on_response(self._send(step.request, deadline))
        if isinstance(step, ReadBody):
            return exchange.on_body(step.response, step.response.read())
        self.settings.retry.sleep(step.seconds)
        return exchange.resend()

    def _send(self, request: Request, deadline: Deadline | None) -> Response:
        try:
            if deadline is None:
                response = self.transport.send(request)
            else:  # waits at most until the deadline, even while a server trickles the head
                response = deadline.run(lambda: self.transport.send(request), request, WAITING, Response.close)
        except APIError as exc:
            exc.provider = exc.provider or self.settings.provider.name
            raise
        if deadline is not None:
            from .deadline import DeadlineStream

            response.stream = DeadlineStream(response.stream, deadline, request)
        return response

    def _open_stream(self, exchange: Exchange, response: Response) -> Stream[Any]:
        parse, accumulator = self.stream_parts(exchange)
        # A mid-stream error is scrubbed and stamped like the errors of call().
        events = iter_events(response, parse, accumulator, provider=self.settings.provider.name, on_error=exchange.finish)
        return Stream(events, response, accumulator, exchange.expectation)

    def _deliver(self, stream: Stream[Any], first: Any, callback: Callable[[Any], None]) -> ApiResult:
        """Hand ``first`` and the rest of ``stream`` to ``callback``; the assembled result."""
        with stream:
            if first is not _END:
                callback(first)
                for event in stream:
                    callback(event)
        return ApiResult(stream.status_code, stream.final, stream.headers)

    def _save(self, result: ApiResult, target: Any) -> ApiResult:
        """Write the open response of ``result`` to ``target``; the result with the destination as body."""
        from .download import Destination

        response = result.body
        try:
            sink = Destination(target)
            try:
                for chunk in response.stream:
                    sink.write(chunk)
            except BaseException:
                sink.abort()
                raise
        finally:
            response.close()
        return ApiResult(result.status, sink.commit(), result.headers)

    def close(self) -> None:
        self.transport.close()


def _deadline(at: float, total: float) -> Deadline:
    """The helper thread of a call with a total timeout (its module loads only for such calls)."""
    from .deadline import Deadline

    return Deadline(at, total)
