"""The stream state without sockets: bytes in, events out, and the one rule of
how each kind of stream ends and what an error carries."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmplug.core.accumulators import accumulator_for
from llmplug.core.convert import structure
from llmplug.core.errors import APIConnectionError, APITimeoutError, StreamError, StreamTimeoutError
from llmplug.core.models import ChatCompletionChunk, Completion, ResponseStreamEvent
from llmplug.core.stream_state import DONE, SKIP, StreamState, Terminated, parse_json_event


def chat_parser(event: Any) -> Any:
    if event.data == "[DONE]":
        return DONE
    return structure(parse_json_event(event), ChatCompletionChunk)


def chunk(text: str, finish: str | None = None, index: int = 0) -> bytes:
    body = {"id": "c", "choices": [{"index": index, "delta": {"content": text}, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def state_for(parse: Any, event_type: type | None = ChatCompletionChunk, **options: Any) -> StreamState:
    return StreamState(parse, accumulator_for(event_type, **options), provider="test")


def run(state: StreamState, body: bytes, *, byte_by_byte: bool = False) -> list[Any]:
    """Feed ``body`` as a driver would, then end the stream; the events handed out."""
    out: list[Any] = []
    pieces = [body[i : i + 1] for i in range(len(body))] if byte_by_byte else [body]
    for piece in pieces:
        out += state.feed(piece)
        if state.saw_done:
            break
    else:
        out += state.flush()
    state.finish()
    return out


DONE_CHAT = Terminated(chat_parser, by="done")


@pytest.mark.parametrize("byte_by_byte", [False, True])
def test_a_whole_chat_stream_and_nothing_after_done(byte_by_byte: bool) -> None:
    seen: list[str] = []

    def parse(event: Any) -> Any:
        seen.append(event.data)
        return chat_parser(event)

    state = state_for(Terminated(parse, by="done"))
    events = run(state, chunk("Hel") + chunk("lo", "stop") + b"data: [DONE]\n\ndata: never parsed\n\n", byte_by_byte=byte_by_byte)
    assert [e.choices[0].delta.content for e in events] == ["Hel", "lo"] == [e.choices[0].delta.content for e in state.delivered]
    assert state.accumulator.finished and state.accumulator.result().choices[0].message.content == "Hello"
    assert "never parsed" not in seen


# Each ending: (parser, event type, body, accumulator options, the error's message part or None for whole).
ENDINGS: dict[str, tuple[Any, Any, bytes, dict[str, Any], str | None]] = {
    "done-terminated, whole": (DONE_CHAT, ChatCompletionChunk, chunk("a", "stop") + b"data: [DONE]\n\n", {}, None),
    "done-terminated, no [DONE]": (DONE_CHAT, ChatCompletionChunk, chunk("a", "stop"), {}, "(no terminating event)"),
    "done-terminated, [DONE] without finish": (
        DONE_CHAT, ChatCompletionChunk, chunk("a") + b"data: [DONE]\n\n", {}, "(at [DONE]: choice 0 had no finish_reason"),
    "[DONE] without finish, not required": (
        DONE_CHAT, ChatCompletionChunk, chunk("a") + b"data: [DONE]\n\n", {"require_finish": False}, None),
    "n=2, one choice unfinished": (
        DONE_CHAT, ChatCompletionChunk, chunk("a", "stop") + chunk("b", None, 1) + b"data: [DONE]\n\n", {}, "choice 1 had no"),
    "no choice at all": (DONE_CHAT, ChatCompletionChunk, b"data: [DONE]\n\n", {}, "no choice arrived"),
    "bare parser, finished at the end of the body": (chat_parser, ChatCompletionChunk, chunk("a", "stop"), {}, None),
    "bare parser, unfinished at the end of the body": (
        chat_parser, ChatCompletionChunk, chunk("a"), {}, "(at the end of the body: choice 0 had no finish_reason"),
    "eof-terminated: whatever arrived": (Terminated(parse_json_event, by="eof"), None, b"data: {}\n\n", {}, None),
    "responses without a final event": (
        lambda e: structure(parse_json_event(e), ResponseStreamEvent), ResponseStreamEvent,
        b'data: {"type": "response.output_text.delta", "delta": "Hi"}\n\n', {}, "no response.completed"),
    "text completion unfinished": (
        Terminated(lambda e: DONE if e.data == "[DONE]" else structure(parse_json_event(e), Completion), by="done"),
        Completion, b'data: {"choices": [{"index": 0, "text": "x"}]}\n\ndata: [DONE]\n\n', {}, "choice 0 had no finish_reason"),
    "a plugin's events, ended by [DONE]": (lambda e: DONE if e.data == "[DONE]" else e.data, ChatCompletionChunk,
                                            b"data: x\n\ndata: [DONE]\n\n", {}, None),
    "a plugin's events, ended by the body": (lambda e: e.data, ChatCompletionChunk, b"data: x\n\n", {},
                                             "(at the end of the body"),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
def test_how_each_stream_ends(ending: str) -> None:
    parse, event_type, body, options, message = ENDINGS[ending]
    state = state_for(parse, event_type, **options)
    if message is None:
        run(state, body)
        assert state.accumulator.finished
    else:
        with pytest.raises(StreamError, match="stream ended before it was complete") as info:
            run(state, body)
        assert message in str(info.value) and not state.accumulator.finished


def test_a_bad_payload_raises_after_the_events_before_it() -> None:
    state = state_for(DONE_CHAT)
    events = state.feed(chunk("Hel") + b"data: {oops\n\n" + chunk("never"))
    assert next(events).choices[0].delta.content == "Hel"
    with pytest.raises(StreamError, match="not valid JSON") as info:
        next(events)
    state.stamp(info.value)
    assert info.value.received == "Hel" and len(info.value.events) == 1 and info.value.provider == "test"


def test_broken_says_how_much_arrived_and_when_a_retry_is_safe() -> None:
    state = state_for(DONE_CHAT)
    early = state.broken(APIConnectionError("connection failed while reading"))
    assert type(early) is StreamError and early.retryable
    assert str(early) == "stream broke after 0 events, 0 characters: connection failed while reading"
    list(state.feed(chunk("Hel") + chunk("lo")))
    late = state.broken(APITimeoutError("timed out while reading"))
    assert type(late) is StreamTimeoutError and isinstance(late, APITimeoutError) and not late.retryable
    assert str(late) == "stream broke after 2 events, 5 characters: timed out while reading"
    assert state.stamp(late).received == "Hello" and len(late.events) == 2


def test_skip_is_not_delivered() -> None:
    state = state_for(lambda e: SKIP if e.data == "ping" else chat_parser(e))
    assert [e.choices[0].delta.content for e in run(state, b"data: ping\n\n" + chunk("a", "stop"))] == ["a"]


def test_a_parser_object_keeps_state_and_says_how_its_stream_ends() -> None:
    from llmplug.core.stream_state import StreamParser

    class Numbered(StreamParser):
        ends = "done"

        def __init__(self) -> None:
            self.seen = 0

        def parse(self, event: Any) -> Any:
            self.seen += 1
            return chat_parser(event)

    parser = Numbered()
    state = state_for(parser)
    with pytest.raises(StreamError, match="no terminating event"):
        run(state, chunk("a", "stop"))  # finished, but "done" needs [DONE]
    assert parser.seen == 1
    run(state_for(Numbered()), chunk("a", "stop") + b"data: [DONE]\n\n")
    with pytest.raises(ValueError, match="ends is one of answer, done, eof"):
        class Odd(Numbered):
            ends = "never"

        state_for(Odd())
