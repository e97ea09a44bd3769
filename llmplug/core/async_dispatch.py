"""The async driver: the loop of :mod:`llmplug.core.dispatch` with ``await``.

The same :class:`~llmplug.core.exchange.Exchange` decides everything; this
module only sends through an :class:`~llmplug.core.http.AsyncTransport`, reads,
and sleeps with ``asyncio``. A call's total deadline bounds each await
(``asyncio.wait_for``): cancelling the send or the read releases its
connection, so no helper thread is needed here.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from .dispatch import DriverBase
from .errors import APIError
from .exchange import ApiResult, Done, Exchange, Fail, OpenStream, Pages, ReadBody, Send, Step
from .http import WAITING, AsyncTransport, Request, Response
from .streaming import AsyncStream, aiter_events

__all__ = ["AsyncDispatcher", "Pacer"]


class Pacer(Protocol):
    """What keeps the pace of many calls at once (see :mod:`llmplug.core.bulk`)."""

    async def before_send(self) -> None: ...

    def on_error(self, error: APIError) -> None: ...

    def on_result(self, result: ApiResult) -> None: ...

T = TypeVar("T")
_END: Any = object()
_READING = "reading the response body of"


class AsyncDispatcher(DriverBase):
    """Sends operations for one provider through one async transport."""

    transport: AsyncTransport

    async def call(
        self,
        operation: str,
        params: dict[str, Any],
        *,
        callback: Callable[[Any], Any] | None = None,
        pacer: Pacer | None = None,
        **options: Any,
    ) -> ApiResult | AsyncStream[Any]:
        """As :meth:`Dispatcher.call <llmplug.core.dispatch.Dispatcher.call>`; a
        stream is an :class:`AsyncStream`, and ``callback`` may be a coroutine
        function. A ``pacer`` (a bulk run's) is awaited before each attempt is
        sent and told of each failed attempt and of the result."""
        destination = options.pop("download", None)
        exchange = self.exchange(operation, params, callback, download=destination is not None, **options)
        if pacer is not None:
            exchange.observe = pacer.on_error
        step = exchange.start()
        while True:
            if isinstance(step, Done):
                if pacer is not None:
                    pacer.on_result(step.result)
                if destination is not None and step.result.status < 300:
                    return await self._save(step.result, destination)
                return step.result
            if isinstance(step, Fail):
                raise step.error
            try:
                if isinstance(step, OpenStream):
                    stream = self._open_stream(exchange, step.response)
                    if callback is None:
                        return stream
                    first = await anext(stream, _END)  # nothing reached the caller yet: still retryable
                    break
                if pacer is not None and isinstance(step, Send):
                    await pacer.before_send()
                step = await self._perform(step, exchange)
            except APIError as exc:
                step = exchange.on_error(exc)
        return await self._deliver(stream, first, callback)

    async def call_pages(self, operation: str, params: dict[str, Any], **options: Any) -> ApiResult:
        """Every page of a listing (see :meth:`Dispatcher.call_pages <llmplug.core.dispatch.Dispatcher.call_pages>`)."""
        pages = Pages(self.settings, operation, params)
        first = last = await self.call(operation, dict(params), **options)
        while (following := pages.following(last)) is not None:  # type: ignore[arg-type]
            last = await self.call(operation, following, **options)
            if last.status >= 300:  # type: ignore[union-attr]
                return last  # type: ignore[return-value]
            pages.merge(first, last)  # type: ignore[arg-type]
        return pages.result(first)  # type: ignore[arg-type]

    async def _perform(self, step: Step, exchange: Exchange) -> Step:
        """Do a Send, ReadBody or Wait step; the exchange's next step."""
        if isinstance(step, Send):
            if step.discard is not None:
                await step.discard.aclose()
            response = await _within(exchange, self.transport.send(step.request), step.request, WAITING)
            if exchange.deadline is not None:
                response.stream = _DeadlineBody(response.stream, exchange, step.request)
            return exchange.on_response(response)
        if isinstance(step, ReadBody):
            return exchange.on_body(step.response, await step.response.aread())
        await (self.settings.retry.asleep or asyncio.sleep)(step.seconds)  # type: ignore[union-attr]
        return exchange.resend()

    def _open_stream(self, exchange: Exchange, response: Response) -> AsyncStream[Any]:
        parse, accumulator = self.stream_parts(exchange)
        events = aiter_events(response, parse, accumulator, provider=self.settings.provider.name, on_error=exchange.finish)
        return AsyncStream(events, response, accumulator, exchange.expectation)

    async def _deliver(self, stream: AsyncStream[Any], first: Any, callback: Callable[[Any], Any]) -> ApiResult:
        """Hand ``first`` and the rest of ``stream`` to ``callback`` (awaited when it
        returns an awaitable); the assembled result."""
        async with stream:
            if first is not _END:
                if inspect.isawaitable(outcome := callback(first)):
                    await outcome
                async for event in stream:
                    if inspect.isawaitable(outcome := callback(event)):
                        await outcome
        return ApiResult(stream.status_code, stream.final, stream.headers)

    async def _save(self, result: ApiResult, target: Any) -> ApiResult:
        """:meth:`Dispatcher._save <llmplug.core.dispatch.Dispatcher._save>`, reading with ``async for``."""
        from .download import Destination

        response = result.body
        try:
            sink = Destination(target)
            try:
                async for chunk in response.stream:
                    sink.write(chunk)
            except BaseException:
                sink.abort()
                raise
        finally:
            await response.aclose()
        return ApiResult(result.status, sink.commit(), result.headers)

    async def aclose(self) -> None:
        await self.transport.aclose()


async def _within(exchange: Exchange, step: Awaitable[T], request: Request, what: str) -> T:
    """``await step``, at most until the call's total deadline (then APITimeoutError)."""
    if exchange.deadline is None:
        return await step
    from .deadline import total_timeout_error

    left = exchange.deadline - exchange.clock()
    if left <= 0:
        if inspect.iscoroutine(step):
            step.close()
        raise total_timeout_error(exchange.limits.total or 0.0, request, what)
    try:
        return await asyncio.wait_for(step, left)
    except asyncio.TimeoutError:
        raise total_timeout_error(exchange.limits.total or 0.0, request, what) from None


class _DeadlineBody:
    """An async body whose every read waits at most until the call's deadline."""

    def __init__(self, stream: Any, exchange: Exchange, request: Request) -> None:
        self._stream = stream
        self._exchange = exchange
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._stream.__aiter__()
        while True:
            try:
                chunk = await _within(self._exchange, chunks.__anext__(), self._request, _READING)
            except StopAsyncIteration:
                return
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()
