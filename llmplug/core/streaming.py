"""Streams, the sync side: :func:`iter_events` reads a response body into a
:class:`~llmplug.core.stream_state.StreamState` and yields its events;
:class:`Stream` is the iterator a caller holds. The decisions (decoding,
parsing, assembling, how a stream ends) live in ``stream_state`` and
``accumulators``, shared with any other driver; their names are re-exported
here for plugins written against this module.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar

from .accumulators import (
    Accumulator,
    ChatAccumulator,
    CompletionAccumulator,
    ResponseAccumulator,
    accumulator_for,
    text_chunk_relay,
)
from .errors import APIError, StreamError
from .http import Response, redact_url
from .sse import SSEEvent
from .stream_state import DONE, SKIP, StreamParser, StreamState, Terminated, parse_json_event

__all__ = [
    "DONE",
    "SKIP",
    "Accumulator",
    "AsyncStream",
    "ChatAccumulator",
    "CompletionAccumulator",
    "ResponseAccumulator",
    "Stream",
    "StreamParser",
    "StreamState",
    "Terminated",
    "accumulator_for",
    "aiter_events",
    "iter_events",
    "parse_json_event",
    "text_chunk_relay",
]

T = TypeVar("T")
_UNCHECKED: Any = object()


def iter_events(
    response: Response,
    parse: Callable[[SSEEvent], Any],
    accumulator: Accumulator,
    *,
    provider: str | None = None,
    on_error: Callable[[APIError], Any] | None = None,
) -> Iterator[Any]:
    """Read ``response``'s SSE body and yield its events, as ``parse`` makes them
    and ``accumulator`` assembles them (see :class:`StreamState`).

    Stops reading at DONE. Errors are mapped and stamped with what arrived by
    :meth:`StreamState.failures`, which hands them to ``on_error`` first.
    Always closes the response.
    """
    state = StreamState(parse, accumulator, provider=provider)
    try:
        with state.failures(on_error):
            for chunk in response.stream:
                yield from state.feed(chunk)
                if state.saw_done:
                    break
            else:
                yield from state.flush()
            state.finish()
    finally:
        response.close()


async def aiter_events(
    response: Response,
    parse: Callable[[SSEEvent], Any],
    accumulator: Accumulator,
    *,
    provider: str | None = None,
    on_error: Callable[[APIError], Any] | None = None,
) -> AsyncIterator[Any]:
    """:func:`iter_events` for an async transport's response."""
    state = StreamState(parse, accumulator, provider=provider)
    try:
        with state.failures(on_error):
            async for chunk in response.stream:
                for event in state.feed(chunk):
                    yield event
                if state.saw_done:
                    break
            else:
                for event in state.flush():
                    yield event
            state.finish()
    finally:
        await response.aclose()


class _StreamBase(Generic[T]):
    """What :class:`Stream` and :class:`AsyncStream` share: the response, and
    ``final``, the assembled result once the stream was read to its end."""

    def __init__(self, events: Any, response: Response, accumulator: Accumulator, expectation: Any = None) -> None:
        self._events = events
        #: The checks of a typed result (``response_format=T``), run once on the assembled result.
        self._expectation = expectation
        self._checked: Any = _UNCHECKED
        self.response = response
        self._accumulator = accumulator
        self.status_code = response.status_code
        self.headers = response.headers
        self._started = False
        self._closed_early = False

    def _closing(self) -> Any:
        """Mark an unfinished stream as closed early; the events' close method."""
        if not self._accumulator.finished:
            self._closed_early = True
        return self._events

    @property
    def final(self) -> Any:
        """The assembled result; :class:`~llmplug.StreamError` (``.received``: what
        arrived) unless the stream was read to its end."""
        accumulator = self._accumulator
        if accumulator.finished:
            if self._expectation is None:
                return accumulator.result()
            if self._checked is _UNCHECKED:  # parse once; a typed error is raised each time
                try:
                    self._checked = self._expectation.check(
                        accumulator.result(), request=self.response.request, headers=self.headers
                    )
                except APIError as exc:
                    self._checked = exc
            if isinstance(self._checked, APIError):
                raise self._checked
            return self._checked
        error = accumulator.failed
        if error is not None:
            why = f"it failed with {type(error).__name__}: {error}"
        elif self._closed_early:
            why = "it was closed before its end"
        elif self._started:
            why = "it was read only in part; read the rest, or call until_done(), first"
        else:
            why = "nothing was read yet; iterate it, or call until_done(), first"
        raise StreamError(
            f"the stream was not read to its end: {why}", received=accumulator.received(), request=self.response.request
        ) from error

    def __repr__(self) -> str:
        request = self.response.request
        return f"<{type(self).__name__} {self.status_code} {request.method} {redact_url(request.url)}>"


class Stream(_StreamBase[T]):
    """An open stream of events: iterate it; it closes its connection when
    exhausted, on ``close()``, on leaving a ``with`` block, or on error.

    ``final`` is the assembled result (a ChatCompletion, a Response...) once
    the stream was read to its end; before that, or after ``close()`` or an
    error cut it short, reading it raises :class:`~llmplug.StreamError`.
    """

    def __iter__(self) -> Iterator[T]:
        self._started = True
        return self._events  # a for loop runs the events' own iterator: no frame of ours per event

    def __next__(self) -> T:
        self._started = True
        return next(self._events)

    def close(self) -> None:
        """Stop reading and release the connection."""
        close = getattr(self._closing(), "close", None)
        if close is not None:
            close()
        self.response.close()

    def __enter__(self) -> Stream[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def until_done(self) -> Any:
        """Read the rest of the stream and return the assembled result."""
        for _ in self:
            continue
        return self.final

    def snapshots(self) -> Iterator[Any]:
        """Read the stream, yielding the partial JSON value of its text (choice 0,
        or the Responses output text) after each event that changed it: plain
        dicts, lists and strings, each a prefix of the final value. ``final``
        (with ``.parsed``) once it ends."""
        from .structured import PartialTracker

        tracker = PartialTracker()
        for event in self:
            snapshot = tracker.update(event)
            if snapshot is not tracker.nothing:
                yield snapshot
        if (snapshot := tracker.end()) is not tracker.nothing:
            yield snapshot


class AsyncStream(_StreamBase[T]):
    """:class:`Stream` for an async client: ``async for`` it; ``aclose()``, leaving
    an ``async with`` block, or cancelling the task that reads it closes the
    connection."""

    def __aiter__(self) -> AsyncIterator[T]:
        self._started = True
        return self._events

    async def __anext__(self) -> T:
        self._started = True
        return await self._events.__anext__()

    async def aclose(self) -> None:
        """Stop reading and release the connection."""
        aclose = getattr(self._closing(), "aclose", None)
        if aclose is not None:
            await aclose()
        await self.response.aclose()

    async def __aenter__(self) -> AsyncStream[T]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def until_done(self) -> Any:
        """Read the rest of the stream and return the assembled result."""
        async for _ in self:
            continue
        return self.final

    async def snapshots(self) -> AsyncIterator[Any]:
        """:meth:`Stream.snapshots`, ``async for``."""
        from .structured import PartialTracker

        tracker = PartialTracker()
        async for event in self:
            snapshot = tracker.update(event)
            if snapshot is not tracker.nothing:
                yield snapshot
        if (snapshot := tracker.end()) is not tracker.nothing:
            yield snapshot
