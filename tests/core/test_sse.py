"""Tests for the incremental Server-Sent Events decoder."""

from __future__ import annotations

from collections.abc import Iterator

import attrs
import pytest

from llmplug.core.sse import SSEDecoder, SSEEvent, iter_sse


def E(data: str, event: str = "message", id: str | None = None) -> SSEEvent:
    return SSEEvent(data=data, event=event, id=id)


def decode(chunks: list[bytes]) -> list[SSEEvent]:
    """Feed ``chunks`` one by one through a decoder, then flush."""
    decoder = SSEDecoder()
    out: list[SSEEvent] = []
    for chunk in chunks:
        out.extend(decoder.feed(chunk))
    out.extend(decoder.flush())
    return out


OPENAI_CHUNKS = [
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}',
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hello"}}]}',
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":" world"}}]}',
    '{"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
]
OPENAI = "".join(f"data: {c}\n\n" for c in OPENAI_CHUNKS) + "data: [DONE]\n\n"
OPENAI_EVENTS = [E(c) for c in OPENAI_CHUNKS] + [E("[DONE]")]

RESPONSES = (
    "event: response.created\n"
    'data: {"type":"response.created","response":{"id":"resp_1"}}\n'
    "\n"
    "event: response.output_text.delta\n"
    'data: {"type":"response.output_text.delta","delta":"Hi"}\n'
    "\n"
    "event: response.completed\n"
    'data: {"type":"response.completed","response":{"id":"resp_1","status":"completed"}}\n'
    "\n"
)
RESPONSES_EVENTS = [
    E('{"type":"response.created","response":{"id":"resp_1"}}', "response.created"),
    E('{"type":"response.output_text.delta","delta":"Hi"}', "response.output_text.delta"),
    E('{"type":"response.completed","response":{"id":"resp_1","status":"completed"}}', "response.completed"),
]

# Each sample: (stream bytes, the events it must decode to).
SAMPLES: dict[str, tuple[bytes, list[SSEEvent]]] = {
    "openai": (OPENAI.encode(), OPENAI_EVENTS),
    "responses": (RESPONSES.encode(), RESPONSES_EVENTS),
    "crlf": (OPENAI.replace("\n", "\r\n").encode(), OPENAI_EVENTS),
    "cr_only": (RESPONSES.replace("\n", "\r").encode(), RESPONSES_EVENTS),
    "mixed_line_ends": (b"data: a\r\ndata: b\rdata: c\n\r\ndata: d\r\r", [E("a\nb\nc"), E("d")]),
    "multiline_data": (
        b"data: line one\ndata: line two\ndata:\ndata:  two spaces\ndata:no space\n\n",
        [E("line one\nline two\n\n two spaces\nno space")],
    ),
    "fields": (
        b": keep-alive comment\n"
        b"id: 7\n"
        b"retry: 3000\n"
        b"foo: bar\n"
        b"data: first\n"
        b"\n"
        b": ping\n"
        b"\n"  # a blank line with no data dispatches nothing
        b"event: ignored-no-data\n"
        b"\n"  # ... and resets the event name
        b"data: second\n"
        b"id: 8\n"
        b"\n"
        b"data: third\n"  # id persists
        b"id: bad\x00id\n"  # an id with NUL is ignored
        b"\n"
        b"id\n"  # no colon: field "id" with an empty value
        b"data\n"  # no colon: a data line with an empty value
        b"\n",
        [E("first", id="7"), E("second", id="8"), E("third", id="8"), E("", id="")],
    ),
    "leading_whitespace": (
        b" data: x\n\tevent: named\n   data:y\n  : indented comment\n   \n\n",
        [E("x\ny", "named")],
    ),
    "missing_blank_lines": (
        b'data: {"a":1}\n'
        b'data: {"b":2}\n'
        b"data: [1, 2]\n"
        b"\n"
        b'event: e\ndata: {"c":3}\ndata: {"d":4}\n\n'
        b'data: {"e":\ndata:  5}\n\n'  # one JSON value over two lines: not split
        b"data: 1\ndata: 2\n\n"  # scalars are not split
        b"data: text\ndata: {}\ndata: more\n\n",  # pending "text\n{}" is not JSON
        [
            E('{"a":1}'),
            E('{"b":2}'),
            E("[1, 2]"),
            E('{"c":3}', "e"),
            E('{"d":4}'),
            E('{"e":\n 5}'),
            E("1\n2"),
            E("text\n{}\nmore"),
        ],
    ),
    "missing_blank_lines_to_the_end": (b'data: {"a":1}\ndata: {"b":2}', [E('{"a":1}'), E('{"b":2}')]),
    "no_trailing_newline": (b"data: a\n\nevent: last\ndata: b", [E("a"), E("b", "last")]),
    "no_trailing_blank_line": (b"data: a\n\ndata: b\r\n", [E("a"), E("b")]),
    "bom": (b"\xef\xbb\xbfdata: x\n\n", [E("x")]),
    "bom_only_at_start": (b"data: a\n\n\xef\xbb\xbfdata: b\n\n", [E("a")]),
    "utf8": (
        "event: ünïcödé\ndata: héllo 世界 🎉\ndata: Ωmega\r\n\r\ndata: ж\n\n".encode(),
        [E("héllo 世界 🎉\nΩmega", "ünïcödé"), E("ж")],
    ),
    "empty": (b"", []),
    # The same rules in the layout of servers that put one data: line per event
    # (no blank line between events): every event still comes out whole and named.
    "one_line_per_event": (
        "".join(f"data: {c}\n" for c in OPENAI_CHUNKS).encode() + b"data: [DONE]\n",
        OPENAI_EVENTS,
    ),
    "one_line_per_event_done_mid_body": (
        b'data: {"a":1}\ndata: [DONE]\ndata: {"b":2}\ndata: not json\n',
        [E('{"a":1}'), E("[DONE]"), E('{"b":2}'), E("not json")],
    ),
    "one_line_per_event_done_first": (b"data: [DONE]\ndata: [DONE]\n", [E("[DONE]"), E("[DONE]")]),
    "one_line_per_event_named": (RESPONSES.replace("\n\n", "\n").encode(), RESPONSES_EVENTS),
    "one_line_per_event_crlf": (
        "".join(f"data: {c}\r\n" for c in OPENAI_CHUNKS).encode() + b"data: [DONE]\r\n",
        OPENAI_EVENTS,
    ),
    "one_line_per_event_fields": (
        b": keep-alive comment\n"
        b"id: 7\n"
        b"retry: 3000\n"
        b"foo: bar\n"
        b'data: {"n":1}\n'
        b": ping\n"  # comments, retry and unknown fields between events change nothing
        b"retry: 10\n"
        b"id: 8\n"  # an id after a whole event belongs to the next one
        b'data: {"n":2}\n'
        b'data: {"n":3}\n'  # id persists
        b"  event: named\n"  # leading whitespace is ignored here too
        b"\tdata: [DONE]\n",
        [E('{"n":1}', id="7"), E('{"n":2}', id="8"), E('{"n":3}', id="8"), E("[DONE]", "named", id="8")],
    ),
    "only_comments": (b": hello\n\n: again\n", []),
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_unsplit(name: str) -> None:
    raw, expected = SAMPLES[name]
    assert decode([raw]) == expected
    assert list(iter_sse([raw])) == expected


@pytest.mark.parametrize("name", list(SAMPLES))
def test_split_at_every_offset(name: str) -> None:
    raw, expected = SAMPLES[name]
    whole = decode([raw])
    assert whole == expected
    for i in range(len(raw) + 1):
        assert decode([raw[:i], raw[i:]]) == whole, f"split at {i}: {raw[:i]!r} | {raw[i:]!r}"


@pytest.mark.parametrize("name", list(SAMPLES))
def test_one_byte_at_a_time(name: str) -> None:
    raw, expected = SAMPLES[name]
    chunks = [raw[i : i + 1] for i in range(len(raw))]
    assert decode(chunks) == decode([raw]) == expected
    assert list(iter_sse(chunks)) == expected


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    # Counted as two line ends, "\r" | "\n" would dispatch "a" on its own.
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\ndata: b\r") == []
    assert decoder.feed(b"\n") == []
    assert decoder.feed(b"\r") == [E("a\nb")]
    assert decoder.feed(b"\ndata: c\n\n") == [E("c")]
    assert decoder.flush() == []


def test_cr_then_cr_is_two_line_ends() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    assert decoder.feed(b"\r") == [E("a")]


def test_events_come_out_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\ndata: b\n\ndata: c") == [E("a"), E("b")]
    assert decoder.feed(b"\n") == []
    assert decoder.flush() == [E("c")]
    assert decoder.flush() == []


def test_flush_resets_for_a_new_stream() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"\xef\xbb\xbfid: 1\nevent: x\ndata: a") == []
    assert decoder.flush() == [E("a", "x", "1")]
    # A fresh stream: the BOM is skipped again, no id or event name carried over.
    assert decoder.feed(b"\xef\xbb\xbfdata: b\n\n") == [E("b")]


def test_bom_split_and_partial_bom() -> None:
    assert decode([b"\xef", b"\xbb", b"\xbf", b"data: x\n\n"]) == [E("x")]
    assert decode([b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n"]) == []  # only one BOM is skipped
    with pytest.raises(UnicodeDecodeError):
        decode([b"\xef\xbb"])  # a BOM prefix that never completes is invalid UTF-8


@pytest.mark.parametrize(
    "raw",
    [
        b"data: \xff\n\n",
        b"data: ok\n\ndata: \xc3\x28\n\n",  # bad continuation byte
        b"data: \xe4\xb8\n\n",  # truncated multi-byte character before a line end
        b"data: \xe4\xb8",  # truncated at the end of the stream: raised by flush
        b"\xed\xa0\x80data: surrogate\n\n",  # encoded surrogate
    ],
)
def test_invalid_utf8_raises(raw: bytes) -> None:
    with pytest.raises(UnicodeDecodeError):
        decode([raw])
    for i in range(len(raw) + 1):
        with pytest.raises(UnicodeDecodeError):
            decode([raw[:i], raw[i:]])


def test_invalid_utf8_after_done_is_not_raised_before_it() -> None:
    """The events before a line that is not UTF-8 come out first; the error is
    raised by the next call, which a caller that stops at [DONE] never makes."""
    for layout in (b"\n", b"\n\n"):
        decoder = SSEDecoder()
        raw = b'data: {"a":1}' + layout + b"data: [DONE]" + layout + b"data: \xff\xfe" + layout
        assert decoder.feed(raw) == [E('{"a":1}'), E("[DONE]")]
        with pytest.raises(UnicodeDecodeError):
            decoder.feed(b"data: more\n\n")
        with pytest.raises(UnicodeDecodeError):
            decode([raw])


def test_long_line_in_small_chunks() -> None:
    payload = "x" * 1_000_000 + "é"
    raw = f"data: {payload}\n\ndata: after\n\n".encode()
    chunks = [raw[i : i + 4096] for i in range(0, len(raw), 4096)]
    assert decode(chunks) == [E(payload), E("after")]


def test_many_events_in_4k_chunks() -> None:
    raw = b"".join(b'data: {"i":%d}\n\n' % i for i in range(5000))
    chunks = [raw[i : i + 4096] for i in range(0, len(raw), 4096)]
    events = decode(chunks)
    assert [e.data for e in events] == ['{"i":%d}' % i for i in range(5000)]


def test_iter_sse_is_incremental() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"data: first\n\n"
        raise RuntimeError("connection dropped")

    it = iter_sse(chunks())
    assert next(it) == E("first")
    with pytest.raises(RuntimeError, match="connection dropped"):
        next(it)


def test_iter_sse_flushes_at_the_end() -> None:
    assert list(iter_sse(iter([b"data: a\n\nda", b"ta: b"]))) == [E("a"), E("b")]


def test_event_defaults_and_frozen() -> None:
    event = SSEEvent("x")
    assert (event.data, event.event, event.id) == ("x", "message", None)
    assert event == E("x") != E("x", "other")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        event.data = "y"  # type: ignore[misc]
    assert not hasattr(event, "__dict__")
