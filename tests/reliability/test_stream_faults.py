"""Faults on a streamed call, through every transport, for a :class:`Stream` the
caller iterates and for a callback: the exact error, ``.received`` (what was
delivered before it), and when a retry is still allowed (before anything
reached the caller) or not (after)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

import llmplug
from tests.reliability.faultserver import drip, drop, partial_body, respond, sse, stall, trickle
from tests.reliability.support import BACKOFF, HELLO, USER, chunk, fails, response_event

MODES = ("iterate", "callback")


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def run_stream(client: llmplug.Client, mode: str, seen: list[str], **params: Any) -> Any:
    """Stream a chat completion, appending each delta's text to ``seen``; the final result."""
    if mode == "callback":
        result = client.create_chat_completion(USER, chunk_callback=lambda c: seen.append(c.choices[0].delta.content))
        return result.body
    with client.create_chat_completion(USER, stream=True, **params) as stream:
        for event in stream:
            seen.append(event.choices[0].delta.content)
        return stream.final


def stream_fails(expected: type[Exception], client: llmplug.Client, mode: str) -> tuple[Any, list[str]]:
    seen: list[str] = []
    error = fails(expected, run_stream, client, mode, seen)
    return error, seen


# -- a whole stream ------------------------------------------------------------------------------


def test_complete_stream(client, fault, mode):
    fault.queue(sse([*HELLO, chunk("", "stop")]))
    seen: list[str] = []
    final = run_stream(client, mode, seen)
    assert seen == ["Hel", "lo", ""]
    assert final.choices[0].message.content == "Hello" and final.choices[0].finish_reason == "stop"


# -- how a stream can end wrongly: every one is an error that keeps what arrived ---------------------

ENDINGS: dict[str, tuple[Callable[[], Any], type[Exception], str, str]] = {
    # name: (action, error, message part, received)
    "no-terminator": (lambda: sse(HELLO, end="eof"), llmplug.StreamError, "ended before it was complete", "Hello"),
    "closed": (lambda: sse(HELLO, end="close"), llmplug.StreamError, "stream broke after 2 events, 5 characters: connection failed while reading the response body", "Hello"),
    "reset": (lambda: sse(HELLO, end="reset"), llmplug.StreamError, "stream broke after 2 events, 5 characters: connection failed while reading the response body", "Hello"),
    "idle": (lambda: sse(HELLO, end="stall"), llmplug.StreamTimeoutError, "stream broke after 2 events, 5 characters: timed out while reading the response body", "Hello"),
    "mid-event-eof": (
        lambda: sse([chunk("Hel"), 'data: {"id": "chatcmpl-1", "cho'], end="eof"),
        llmplug.StreamError,
        "stream event is not valid JSON",
        "Hel",
    ),
    "mid-event-closed": (
        lambda: sse([chunk("Hel"), 'data: {"id": "chatcmpl-1", "cho'], end="close"),
        llmplug.StreamError,
        "stream broke after 1 event, 3 characters: connection failed while reading the response body",
        "Hel",
    ),
    "not-utf8": (
        lambda: sse([chunk("Hel"), b'data: {"x": "\xff"}\n\n']),
        llmplug.StreamError,
        "stream is not valid UTF-8",
        "Hel",
    ),
    "not-json": (lambda: sse([chunk("Hel"), "data: oops\n\n"]), llmplug.StreamError, "not valid JSON: 'oops'", "Hel"),
    "error-event": (
        lambda: sse([chunk("Hel"), {"error": {"message": "model overloaded", "code": "overloaded"}}]),
        llmplug.StreamError,
        "the server reported an error mid-stream: model overloaded (overloaded)",
        "Hel",
    ),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_stream_that_ends_wrongly(client, fault, sleeps, mode, ending):
    action, expected, message, received = ENDINGS[ending]
    fault.queue(action())
    error, seen = stream_fails(expected, client, mode)
    assert message in str(error)
    assert error.received == received and "".join(seen) == received
    assert [e.choices[0].delta.content for e in error.events] == seen
    assert error.attempts == 1 and len(fault.requests) == 1 and sleeps == []  # bytes reached the caller


def test_bad_event_keeps_its_payload(client, fault, mode):
    fault.queue(sse([chunk("Hel"), 'data: {"id": "chatcmpl-1", "cho'], end="eof"))
    error, _ = stream_fails(llmplug.StreamError, client, mode)
    assert error.payload == '{"id": "chatcmpl-1", "cho'


def test_idle_timeout_is_the_read_timeout(make_client, fault, mode):
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=0.2, total=5))
    fault.queue(sse(HELLO, end="stall"))
    started = time.monotonic()
    error, _ = stream_fails(llmplug.StreamTimeoutError, client, mode)
    assert 0.15 < time.monotonic() - started < 1.0
    assert error.received == "Hello" and isinstance(error, llmplug.APITimeoutError)


def test_pauses_shorter_than_the_idle_timeout_are_fine(make_client, fault, mode):
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=0.3, total=5))
    frames = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in [*HELLO, chunk("", "stop")]]
    fault.queue(trickle([*frames, b"data: [DONE]\n\n"], 0.15))  # 0.6 s in all, no gap of 0.3 s
    seen: list[str] = []
    assert run_stream(client, mode, seen).choices[0].message.content == "Hello" and seen == ["Hel", "lo", ""]


def test_total_timeout_ends_a_stream_that_never_stops(make_client, fault, mode):
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=0.3, total=0.5))
    fault.queue(trickle((b'data: {"id": "c", "choices": [{"index": 0, "delta": {"content": "x"}}]}\n\n' for _ in range(100)), 0.05))
    started = time.monotonic()
    error, seen = stream_fails(llmplug.StreamTimeoutError, client, mode)
    assert time.monotonic() - started < 1.0
    assert "total timeout of 0.5s reached while reading the response body" in str(error)
    assert len(seen) >= 3 and error.received == "x" * len(seen)


def test_a_number_as_timeout_retries_a_stream_that_stalls_before_its_head(make_client, fault, sleeps, mode):
    client = make_client(fault.base_url, timeout=0.4, max_retries=1)
    fault.queue(stall())
    fault.queue(sse([*HELLO, chunk("", "stop")]))
    seen: list[str] = []
    assert run_stream(client, mode, seen).choices[0].message.content == "Hello"
    assert len(fault.requests) == 2 and sleeps == [0.5]


def test_total_deadline_ends_a_stream_that_drips_one_byte_every_200ms(make_client, fault, mode):
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=5, total=1.0))
    frames = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in [*HELLO, chunk("", "stop")])
    fault.queue(drip({"Content-Type": "text/event-stream"}, frames, 0.2))
    started = time.monotonic()
    error, seen = stream_fails(llmplug.StreamTimeoutError, client, mode)
    assert 0.9 < time.monotonic() - started < 1.6
    assert "total timeout of 1.0s reached while reading the response body" in str(error)
    assert error.received == "" and seen == [] and len(fault.requests) == 1


def test_responses_stream_without_completed_event(client, fault, mode):
    events = [
        response_event("response.created", response={"id": "resp_1", "object": "response", "status": "in_progress", "output": []}),
        response_event("response.output_text.delta", delta="Hi", item_id="m1", output_index=0, content_index=0),
    ]
    fault.queue(sse(events, end="eof"))
    seen: list[Any] = []

    def run() -> None:
        if mode == "callback":
            client.create_response("hi", stream_callback=seen.append)
            return
        with client.create_response("hi", stream=True) as stream:
            seen.extend(stream)

    error = fails(llmplug.StreamError, run)
    assert error.received == "Hi" and len(seen) == 2
    assert "ended before it was complete" in str(error)


# -- before any byte reached the caller: retried -----------------------------------------------------


def test_status_error_before_the_stream_is_retried(client, fault, sleeps, mode):
    fault.queue(respond(503, "busy"), times=2)
    fault.queue(sse([*HELLO, chunk("", "stop")]))
    seen: list[str] = []
    final = run_stream(client, mode, seen)
    assert final.choices[0].message.content == "Hello" and seen == ["Hel", "lo", ""]
    assert len(fault.requests) == 3 and sleeps == BACKOFF


def test_connection_lost_before_the_stream_is_retried(client, fault, sleeps, mode):
    fault.queue(drop())
    fault.queue(stall())
    fault.queue(sse([*HELLO, chunk("", "stop")]))
    seen: list[str] = []
    assert run_stream(client, mode, seen).choices[0].message.content == "Hello"
    assert len(fault.requests) == 3 and sleeps == BACKOFF


def test_status_error_on_every_attempt(client, fault, sleeps, mode):
    fault.queue(respond(429, '{"error": {"message": "slow down"}}', headers={"x-request-id": "req_9"}), times=3)
    error, seen = stream_fails(llmplug.RateLimitError, client, mode)
    assert (error.status_code, error.request_id, error.body) == (429, "req_9", {"error": {"message": "slow down"}})
    assert seen == [] and error.attempts == 3 and sleeps == BACKOFF


def test_stream_cut_before_its_first_event(client, fault, sleeps, mode):
    """Headers, then a reset before any event. With a callback nothing reached the
    caller, so it is retried; a Stream was already handed over, so it is not."""
    fault.queue(sse([], end="reset"))
    fault.queue(sse([*HELLO, chunk("", "stop")]))
    seen: list[str] = []
    if mode == "callback":
        assert run_stream(client, mode, seen).choices[0].message.content == "Hello"
        assert len(fault.requests) == 2 and sleeps == [0.5]
    else:
        error = fails(llmplug.StreamError, run_stream, client, mode, seen)
        assert "stream broke after 0 events, 0 characters" in str(error)
        assert isinstance(error.__cause__, llmplug.APIConnectionError)
        assert error.received == "" and seen == [] and error.events == []
        assert len(fault.requests) == 1 and sleeps == []


def test_stream_reply_that_is_not_a_stream(client, fault, sleeps, mode):
    fault.queue(respond(200, "<html>hello</html>", content_type="text/html"))
    error, _ = stream_fails(llmplug.APIResponseValidationError, client, mode)
    assert "asked for a stream but got text/html" in str(error) and error.body == "<html>hello</html>"
    assert len(fault.requests) == 1 and sleeps == []


def test_stream_whose_non_stream_body_is_cut_is_retried(client, fault, sleeps, mode):
    fault.queue(partial_body(b'{"error": "x"}' * 10, 5, content_type="application/json", then="reset"))
    fault.queue(sse([*HELLO, chunk("", "stop")]))
    seen: list[str] = []
    assert run_stream(client, mode, seen).choices[0].message.content == "Hello"
    assert len(fault.requests) == 2 and sleeps == [0.5]


def test_closing_a_stream_early_is_not_an_error(make_client, fault):
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=3, total=5))
    fault.queue(sse(HELLO, end="stall"))
    started = time.monotonic()
    with client.create_chat_completion(USER, stream=True) as stream:
        first = next(stream)
    assert time.monotonic() - started < 1.5  # closing did not wait for the stalled server (read=3)
    assert first.choices[0].delta.content == "Hel" and list(stream) == []
