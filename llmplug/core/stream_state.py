"""A stream's state, with no I/O: bytes in, events out.

:class:`StreamState` is fed the body's bytes by whichever driver reads the
socket (the sync :func:`~llmplug.core.streaming.iter_events`, an async twin):
it decodes SSE, parses each event with the provider's parser, feeds the
accumulator, and holds the one rule of how a stream ends and what an error
carries (``.received``, ``.events``). ``DONE``/``SKIP`` and
:class:`Terminated` are what a provider's stream parser returns and is.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

from .accumulators import Accumulator
from .errors import APIConnectionError, APIError, APITimeoutError, StreamError, StreamTimeoutError
from .sse import SSEDecoder, SSEEvent

__all__ = ["DONE", "ENDINGS", "SKIP", "StreamParser", "StreamState", "Terminated", "ending_of", "parse_json_event"]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"llmplug.core.streaming.{self.name}"


#: Returned by a ``llmplug_stream_parser`` parser for an event that ends the stream.
DONE: Any = _Marker("DONE")
#: Returned by a ``llmplug_stream_parser`` parser for an event that carries nothing.
SKIP: Any = _Marker("SKIP")


#: How a stream may end (a parser's ``ends``); see :class:`StreamParser`.
ENDINGS = ("answer", "done", "eof")


class StreamParser:
    """A provider's parser of one stream: an object, made once per stream (so
    it may keep state on ``self``), that turns each Server-Sent Event into a
    core model, :data:`SKIP` or :data:`DONE` (``parse``), and says how its
    stream ends (``ends``):

    - ``"answer"`` (the default): at DONE or at the end of the body, once the
      accumulator judges the answer whole: every choice has a finish reason
      (chat and text completions, whichever provider), or ``response.completed``
      / ``.incomplete`` came (Responses);
    - ``"done"``: the same, and DONE must come (OpenAI's ``[DONE]``): a body
      that ends first is a StreamError even if every choice had finished;
    - ``"eof"``: a clean end of the body is whole, whatever arrived (generic
      streams with no terminating event).

    A plain function works as a parser too (its stream ends as ``"answer"``).
    """

    ends: str = "answer"

    def parse(self, event: SSEEvent) -> Any:
        raise NotImplementedError

    def __call__(self, event: SSEEvent) -> Any:
        return self.parse(event)


class Terminated(StreamParser):
    """A parser function with how its stream ends: ``Terminated(parse, by="done")``
    or ``by="eof"`` (see :class:`StreamParser`)."""

    def __init__(self, parse: Callable[[SSEEvent], Any], by: str) -> None:
        if by not in ("done", "eof"):
            raise ValueError(f"a stream ends by 'done' or 'eof', not {by!r}")
        self.parse = parse  # type: ignore[method-assign]
        self.ends = self.by = by  # ``by`` kept: a functools.wraps wrapper copies both


def ending_of(parse: Callable[[SSEEvent], Any]) -> str:
    """How the stream of ``parse`` ends (its ``ends``; ``by`` for older wrappers)."""
    ends = getattr(parse, "ends", None) or getattr(parse, "by", None) or "answer"
    if ends not in ENDINGS:
        raise ValueError(f"a stream parser's ends is one of {', '.join(ENDINGS)}, not {ends!r}")
    return ends


#: The C scanner under ``json.loads``, called directly: one call per event on the hot path.
_scan_json = json.JSONDecoder().scan_once


def parse_json_event(event: SSEEvent) -> Any:
    """Decode an SSE payload as JSON or raise a StreamError that carries it."""
    data = event.data
    try:
        value, end = _scan_json(data, 0)
        if end == len(data):
            return value
    except (StopIteration, ValueError):
        pass
    try:  # what the scanner does not take whole (surrounding white space, or not JSON): json.loads' verdict
        return json.loads(data)
    except ValueError:
        raise StreamError(f"stream event is not valid JSON: {data[:200]!r}", payload=data) from None


class StreamState:
    """What one stream has said so far; fed bytes, it hands back the events to deliver.

    ``feed(chunk)`` iterates the parsed events that a chunk completes, adding
    each to the accumulator as it is handed out (so ``.received`` is what was
    delivered), and raises StreamError for a payload that cannot be decoded or
    parsed once the events before it were handed out. ``flush()`` does the same
    for the end of the body; ``finish()`` then raises if the answer is not
    whole, or marks the result whole. ``broken(exc)`` is the StreamError for a
    transport failure while the body was read; ``stamp(exc)`` gives any error
    what arrived.
    """

    def __init__(self, parse: Callable[[SSEEvent], Any], accumulator: Accumulator, *, provider: str | None = None) -> None:
        self._decoder = SSEDecoder()
        self._ends = ending_of(parse)
        # A StreamParser is called through its ``parse`` (one call an event, not two).
        self._parse = parse.parse if type(parse).__call__ is StreamParser.__call__ else parse  # type: ignore[attr-defined]
        self.accumulator = accumulator
        self.provider = provider
        #: The events handed out so far.
        self.delivered: list[Any] = []
        #: DONE came: nothing after it is read.
        self.saw_done = False
        self._assembled = False  # whether an event of the accumulator's type came (a plugin's parser may yield others)

    def feed(self, chunk: bytes) -> Iterator[Any]:
        """The events that ``chunk`` completes."""
        try:
            return self._take(self._decoder.feed(chunk))
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc) from None

    def flush(self) -> Iterator[Any]:
        """The body ended: the events still pending in the decoder."""
        try:
            return self._take(self._decoder.flush())
        except UnicodeDecodeError as exc:
            raise self._not_utf8(exc) from None

    def _not_utf8(self, exc: UnicodeDecodeError) -> StreamError:
        return StreamError(f"stream is not valid UTF-8: {exc}", provider=self.provider)

    def _take(self, events: list[SSEEvent]) -> Iterator[Any]:
        parse = self._parse
        accumulator = self.accumulator
        kind = accumulator.event_type
        keep = self.delivered.append
        for event in events:
            item = parse(event)
            if item is SKIP:
                continue
            if item is DONE:  # nothing after it is read
                self.saw_done = True
                return
            if kind is None or isinstance(item, kind):
                accumulator.add(item)
                self._assembled = True
            keep(item)
            yield item

    def finish(self) -> None:
        """The stream's end (DONE, or the end of the body): StreamError if the
        answer is not whole; else mark the accumulator's result whole.

        The one rule, by the parser's ``ends`` (see :class:`StreamParser`): an
        ``"eof"`` stream is whole at a clean end; a ``"done"`` one needs DONE;
        and (but for ``"eof"``) the accumulator must judge the answer whole. A
        plugin's parser whose events the accumulator does not know is whole at
        DONE or at the end of the body.
        """
        ends = self._ends
        if ends != "eof":
            if ends == "done" and not self.saw_done:
                raise StreamError("stream ended before it was complete (no terminating event)", provider=self.provider)
            accumulator = self.accumulator
            judged = self._assembled or not self.delivered
            if not (accumulator.complete(self.saw_done) if judged else self.saw_done):
                end = "at [DONE]" if self.saw_done else "at the end of the body"
                raise StreamError(
                    f"stream ended before it was complete ({end}: {accumulator.missing()})", provider=self.provider
                )
        self.accumulator.finished = True

    def broken(self, exc: APIConnectionError) -> StreamError:
        """The StreamError for a body read that failed after the response started:
        a StreamTimeoutError for a timeout; retryable while no event was delivered."""
        count = len(self.delivered)
        amount = f"{count} event{'s' if count != 1 else ''}"
        received = self.accumulator.received()
        if isinstance(received, str):
            amount += f", {len(received)} character{'s' if len(received) != 1 else ''}"
        cls = StreamTimeoutError if isinstance(exc, APITimeoutError) else StreamError
        error = cls(f"stream broke after {amount}: {exc.message}", request=exc.request, provider=exc.provider)
        error.retryable = not self.delivered and not getattr(exc, "deadline_passed", False)
        if getattr(exc, "_llmplug_no_cause", False):  # its backend exception quoted a secret
            exc.__cause__ = exc.__context__ = None
        return error

    @contextlib.contextmanager
    def failures(self, on_error: Callable[[APIError], Any] | None = None) -> Iterator[None]:
        """Around the reading of the body, for every driver: a transport failure
        becomes :meth:`broken`'s StreamError (the one place that maps it, for
        every transport); every API error gets what arrived (:meth:`stamp`) and
        goes through ``on_error`` before it is raised; any failure is kept as the
        accumulator's ``failed``."""
        try:
            try:
                yield
            except APIConnectionError as exc:
                raise self.broken(exc) from exc
        except APIError as exc:
            self.stamp(exc)
            self.accumulator.failed = exc
            if on_error is not None:
                on_error(exc)
            raise
        except Exception as exc:  # a plugin's parser failing: no API error, but the stream is over
            self.accumulator.failed = exc
            raise

    def stamp(self, exc: APIError) -> APIError:
        """Give ``exc`` what arrived before it: ``.received``, and ``.events`` on a StreamError."""
        if isinstance(exc, StreamError):
            exc.events = self.delivered
        exc.received = self.accumulator.received()
        if exc.provider is None:
            exc.provider = self.provider
        return exc
