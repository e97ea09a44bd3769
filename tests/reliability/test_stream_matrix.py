"""The stream-fault matrix (issue 10): each way a stream's body can fail or end,
through each provider/operation that streams ("dialects"), each transport, and
both an iterated :class:`Stream` and a callback.

Asserted every time: the exact error type (no subclass, no API key shown), the
message, ``.received`` (the text assembled so far), ``.events`` (what was
delivered), the transport's error as ``__cause__``, and how many requests the
fault server saw: a stream is never retried once an event reached the caller;
with a callback, a break before the first event is. A ``data: [DONE]`` line in
a body with one ``data:`` line per event ends the stream there: nothing after
it is parsed or delivered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

import llmplug
from tests.conftest import TEST_KEY
from tests.reliability.faultserver import FaultServer, cut_chunk, partial_body, sse
from tests.reliability.support import USER, chunk, fails, response_event

MODES = ("iterate", "callback")
#: Short limits: a stall costs 0.2 s; the fault server answers everything else at once.
TIMEOUT = llmplug.Timeout(connect=1.0, read=0.2, total=3.0)
PIECES = ("Hel", "lo")  # the text every stream carries before its fault
TEXT = "".join(PIECES)


# -- dialects: one per provider/operation that streams ---------------------------------------------


@attrs.frozen
class Dialect:
    """How one provider/operation streams: its client, its frames, how to call it
    and how to read the text of what it delivers."""

    name: str
    provider: str
    key: bool  # whether the client gets an API key
    start: Callable[[llmplug.Client, Callable[[Any], None] | None], Any]  # a Stream, or with a callback an ApiResult
    piece: Callable[[str], bytes]  # an SSE frame carrying a piece of text
    finish: bytes  # the frame that completes the answer
    end: str  # how a whole stream ends: "done" ([DONE]) or "eof" (end of the body)
    text: Callable[[Any], str]  # the text a delivered event carries
    final_text: Callable[[Any], str]  # the text of the assembled result
    prelude: tuple[bytes, ...] = ()  # frames before the first piece (delivered events without text)
    finish_reason: Callable[[Any], Any] | None = None  # of the assembled result, where a finish reason is optional
    options: dict[str, Any] = attrs.field(factory=dict)  # more arguments of llmplug.new

    def frames(self, texts: tuple[str, ...] = PIECES) -> list[bytes]:
        return [*self.prelude, *(self.piece(t) for t in texts)]

    def whole(self) -> list[bytes]:
        """The frames of a complete stream (without its [DONE], which ``sse`` adds)."""
        return [*self.frames(), self.finish]


def _data(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload).encode() + b"\n\n"


def _chat_start(client: llmplug.Client, callback: Callable[[Any], None] | None) -> Any:
    if callback is not None:
        return client.create_chat_completion(USER, chunk_callback=callback)
    return client.create_chat_completion(USER, stream=True)


def _chat_text(event: Any) -> str:
    return (event.choices[0].delta.content or "") if event.choices else ""


def _completion_start(client: llmplug.Client, callback: Callable[[Any], None] | None) -> Any:
    if callback is not None:
        return client.completion("hi", chunk_callback=callback)
    return client.completion("hi", stream=True)


def _completion_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": "gpt-3.5-turbo-instruct",
        "choices": [{"index": 0, "text": text, "finish_reason": finish, "logprobs": None}],
    }


def _response_start(client: llmplug.Client, callback: Callable[[Any], None] | None) -> Any:
    if callback is not None:
        return client.create_response("hi", stream_callback=callback)
    return client.create_response("hi", stream=True)


def _response_piece(text: str) -> bytes:
    return response_event("response.output_text.delta", delta=text, item_id="m1", output_index=0, content_index=0)


RESPONSE_CREATED = response_event(
    "response.created", response={"id": "resp_1", "object": "response", "status": "in_progress", "output": []}
)
RESPONSE_COMPLETED = response_event(
    "response.completed",
    response={
        "id": "resp_1",
        "object": "response",
        "status": "completed",
        "output": [
            {
                "type": "message",
                "id": "m1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": TEXT, "annotations": []}],
            }
        ],
    },
)


def _gemini_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": "gemini-2.5-flash", "responseId": "r1"}


def _chat_final(final: Any) -> str:
    return final.choices[0].message.content


def _chat_reason(final: Any) -> Any:
    return final.choices[0].finish_reason


def _chat_dialect(name: str, provider: str, key: bool = True, **options: Any) -> Dialect:
    return Dialect(
        name=name,
        provider=provider,
        key=key,
        options=options,
        start=_chat_start,
        piece=lambda t: _data(chunk(t)),
        finish=_data(chunk("", "stop")),
        end="done",
        text=_chat_text,
        final_text=_chat_final,
        finish_reason=_chat_reason,
    )


DIALECTS = [
    _chat_dialect("openai-chat", "openai"),
    Dialect(
        name="openai-completions",
        provider="openai",
        key=True,
        start=_completion_start,
        piece=lambda t: _data(_completion_chunk(t)),
        finish=_data(_completion_chunk("", "stop")),
        end="done",
        text=lambda e: e.choices[0].text or "",
        final_text=lambda f: f.choices[0].text,
        finish_reason=lambda f: f.choices[0].finish_reason,
    ),
    Dialect(
        name="openai-responses",
        provider="openai",
        key=True,
        start=_response_start,
        piece=_response_piece,
        finish=RESPONSE_COMPLETED,
        end="eof",
        text=str,
        final_text=lambda f: f.output_text,
        prelude=(RESPONSE_CREATED,),
    ),
    _chat_dialect("compatible-chat", "openai-compatible", key=False, default_model="local-model"),
    _chat_dialect("gemini-openai-chat", "gemini-openai"),
    Dialect(
        name="gemini-native",
        provider="gemini",
        key=True,
        start=_chat_start,
        piece=lambda t: _data(_gemini_chunk(t)),
        finish=_data(_gemini_chunk("", "STOP")),
        end="eof",
        text=_chat_text,
        final_text=_chat_final,
        finish_reason=_chat_reason,
    ),
]
OPTIONAL_FINISH = [d for d in DIALECTS if d.finish_reason is not None]  # every dialect but Responses


@pytest.fixture(params=DIALECTS, ids=lambda d: d.name)
def dialect(request: pytest.FixtureRequest) -> Dialect:
    return request.param


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def connect(fault: FaultServer, transport: str, sleeps: list[float]) -> Iterator[Callable[..., llmplug.Client]]:
    """``connect(dialect, **options)``: a client of the dialect's provider on the
    fault server through ``transport``: TIMEOUT, 2 retries, a sleep that only records."""
    clients: list[llmplug.Client] = []

    def make(d: Dialect, **options: Any) -> llmplug.Client:
        options.setdefault("timeout", TIMEOUT)
        options.setdefault("max_retries", 2)
        options.setdefault("retry", llmplug.RetryPolicy(sleep=sleeps.append, random=lambda: 0.0))
        key = TEST_KEY if d.key else None
        options = {**d.options, **options}
        client = llmplug.new(d.provider, api_key=key, base_url=fault.base_url, transport=transport, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


def run(d: Dialect, client: llmplug.Client, mode: str, seen: list[Any]) -> Any:
    """Stream through ``client``, appending each delivered event to ``seen``; the assembled result."""
    if mode == "callback":
        return d.start(client, seen.append).body
    with d.start(client, None) as stream:
        for event in stream:
            seen.append(event)
        return stream.final


def texts(d: Dialect, events: list[Any]) -> list[str]:
    return [d.text(e) for e in events]


def single_newlines(frame: bytes) -> bytes:
    """A frame in the one-line-per-field layout with no blank line after the event."""
    assert frame.endswith(b"\n\n")
    return frame[:-1]


# -- a whole stream --------------------------------------------------------------------------------


def test_whole_stream(connect, fault, sleeps, dialect, mode):
    d = dialect
    fault.queue(sse(d.whole(), end=d.end))
    seen: list[Any] = []
    final = run(d, connect(d), mode, seen)
    assert d.final_text(final) == TEXT
    assert texts(d, seen) == [""] * len(d.prelude) + [*PIECES, ""]
    assert len(fault.requests) == 1 and sleeps == []
    assert ("authorization" in fault.requests[0].headers or "x-goog-api-key" in fault.requests[0].headers) == d.key


# -- a body that fails after events were delivered: StreamError, not retried ---------------------------


def _half(frame: bytes) -> bytes:
    return frame[: len(frame) // 2]


#: name: (action for a dialect, error type, message part, whether the transport's error is the cause)
FAULTS: dict[str, tuple[Callable[[Dialect], Any], type[Exception], str, bool]] = {
    "reset": (
        lambda d: sse(d.frames(), end="reset"),
        llmplug.StreamError,
        "characters: connection failed while reading the response body",
        True,
    ),
    "closed": (
        lambda d: sse(d.frames(), end="close"),
        llmplug.StreamError,
        "characters: connection failed while reading the response body",
        True,
    ),
    "chunk-cut": (
        lambda d: cut_chunk(d.frames(), d.piece("XYZ")[:10], len(d.piece("XYZ"))),
        llmplug.StreamError,
        "characters: connection failed while reading the response body",
        True,
    ),
    "content-length-cut": (
        lambda d: partial_body(
            b"".join([*d.frames(), d.piece("XYZ"), d.finish]),
            len(b"".join(d.frames())),
            then="close",
            content_type="text/event-stream",
        ),
        llmplug.StreamError,
        "characters: connection failed while reading the response body",
        True,
    ),
    "mid-event-closed": (
        lambda d: sse([*d.frames(), _half(d.piece("XYZ"))], end="close"),
        llmplug.StreamError,
        "characters: connection failed while reading the response body",
        True,
    ),
    "mid-event-eof": (
        lambda d: sse([*d.frames(), _half(d.piece("XYZ"))], end="eof"),
        llmplug.StreamError,
        "stream event is not valid JSON",
        False,
    ),
    "not-utf8": (
        lambda d: sse([*d.frames(), b'data: {"x": "\xff"}\n\n', d.finish], end=d.end),
        llmplug.StreamError,
        "stream is not valid UTF-8",
        False,
    ),
    "stall": (
        lambda d: sse(d.frames(), end="stall"),
        llmplug.StreamTimeoutError,
        "characters: timed out while reading the response body",
        True,
    ),
    "no-finish-eof": (
        lambda d: sse(d.frames(), end="eof"),
        llmplug.StreamError,
        "stream ended before it was complete (",
        False,
    ),
    "no-finish-done": (
        lambda d: sse(d.frames(), end="done"),
        llmplug.StreamError,
        "stream ended before it was complete (at [DONE]: ",
        False,
    ),
}


@pytest.mark.parametrize("fault_name", list(FAULTS))
def test_fault_after_events(connect, fault, sleeps, dialect, mode, fault_name):
    d = dialect
    action, expected, message, caused = FAULTS[fault_name]
    fault.queue(action(d))
    fault.queue(sse(d.whole(), end=d.end))  # there for a retry that must not happen
    seen: list[Any] = []
    started = time.monotonic()
    error = fails(expected, run, d, connect(d), mode, seen)
    elapsed = time.monotonic() - started
    count = len(d.prelude) + len(PIECES)
    assert message in str(error)
    if caused:
        assert str(error).startswith(f"stream broke after {count} events, {len(TEXT)} characters: ")
        cause = llmplug.APITimeoutError if expected is llmplug.StreamTimeoutError else llmplug.APIConnectionError
        assert isinstance(error.__cause__, cause)
    if expected is llmplug.StreamTimeoutError:
        assert isinstance(error, llmplug.APITimeoutError) and elapsed < 1.5
    assert error.received == TEXT
    assert len(error.events) == count and error.events == seen
    assert texts(d, seen) == [""] * len(d.prelude) + list(PIECES)
    assert error.attempts == 1 and len(fault.requests) == 1 and sleeps == []


# -- a break before the first event: retried with a callback; a Stream already handed over is not ---------


@pytest.mark.parametrize("ending", ["reset", "close"])
def test_break_before_the_first_event(connect, fault, sleeps, dialect, mode, ending):
    d = dialect
    fault.queue(sse([], end=ending))
    fault.queue(sse(d.whole(), end=d.end))
    seen: list[Any] = []
    client = connect(d)
    if mode == "callback":
        assert d.final_text(run(d, client, mode, seen)) == TEXT
        assert texts(d, seen) == [""] * len(d.prelude) + [*PIECES, ""]
        assert len(fault.requests) == 2 and sleeps == [0.5]
    else:
        error = fails(llmplug.StreamError, run, d, client, mode, seen)
        assert str(error).startswith("stream broke after 0 events, 0 characters: connection failed")
        assert isinstance(error.__cause__, llmplug.APIConnectionError)
        assert error.received == "" and error.events == [] and seen == []
        assert len(fault.requests) == 1 and sleeps == []


# -- one data: line per event, no blank lines: [DONE] mid-body ends the stream ---------------------------

#: What the server sends after its [DONE] line: none of it may be parsed or delivered.
TRAILERS: dict[str, Callable[[Dialect], bytes]] = {
    "more-events": lambda d: single_newlines(d.piece("XX")) + single_newlines(d.finish),
    "garbage": lambda d: b"data: oops, not JSON\n{{{ not even a field\n\x00\x01\n",
    "not-utf8": lambda d: b'data: {"x": "\xff"}\n\xff\xfe\xfd\n',
}


@pytest.mark.parametrize("split", ["one-chunk", "chunk-per-line"])
@pytest.mark.parametrize("trailer", list(TRAILERS))
def test_done_mid_body_ends_the_stream(connect, fault, sleeps, dialect, mode, trailer, split):
    d = dialect
    body = b"".join(single_newlines(f) for f in d.whole()) + b"data: [DONE]\n" + TRAILERS[trailer](d)
    pieces = [body] if split == "one-chunk" else body.splitlines(keepends=True)
    fault.queue(sse(pieces, end="eof"))
    seen: list[Any] = []
    final = run(d, connect(d), mode, seen)
    assert d.final_text(final) == TEXT
    assert texts(d, seen) == [""] * len(d.prelude) + [*PIECES, ""]  # nothing from after [DONE]
    assert len(fault.requests) == 1 and sleeps == []


# -- require_finish_reason=False: a stream that ends properly without finish reasons is whole ----------------


@pytest.mark.parametrize("dialect", OPTIONAL_FINISH, ids=lambda d: d.name)
def test_finish_reason_not_required(connect, fault, sleeps, dialect, mode):
    d = dialect
    fault.queue(sse(d.frames(), end=d.end))  # [DONE] for the OpenAI dialects, the end of the body for Gemini
    seen: list[Any] = []
    final = run(d, connect(d, require_finish_reason=False), mode, seen)
    assert d.final_text(final) == TEXT and d.finish_reason(final) is None
    assert texts(d, seen) == list(PIECES)
    assert len(fault.requests) == 1 and sleeps == []


@pytest.mark.parametrize("dialect", [d for d in OPTIONAL_FINISH if d.end == "done"], ids=lambda d: d.name)
def test_finish_reason_not_required_still_needs_done(connect, fault, sleeps, dialect, mode):
    """A [DONE]-terminated dialect whose body ends without [DONE] is cut short, finish reasons or not."""
    d = dialect
    fault.queue(sse(d.frames(), end="eof"))
    seen: list[Any] = []
    error = fails(llmplug.StreamError, run, d, connect(d, require_finish_reason=False), mode, seen)
    assert "stream ended before it was complete (no terminating event)" in str(error)
    assert error.received == TEXT and len(error.events) == len(PIECES) == len(seen)
    assert len(fault.requests) == 1 and sleeps == []
