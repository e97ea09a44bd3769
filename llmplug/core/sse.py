"""An incremental Server-Sent Events decoder (WHATWG, tolerant of sloppy servers)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import attrs

__all__ = ["SSEDecoder", "SSEEvent", "iter_sse"]

_BOM = b"\xef\xbb\xbf"
_LF = 0x0A
_CR = 0x0D


@attrs.frozen(slots=True)
class SSEEvent:
    """One dispatched event: its data lines joined with ``"\\n"``, its name and id."""

    data: str
    event: str = "message"
    id: str | None = None


def _is_complete_json(text: str) -> bool:
    """Whether ``text`` is a whole JSON object or array (the missing-blank-line test).

    Only objects and arrays count: a scalar such as ``1`` or ``true`` is also
    plausible plain text, and splitting multi-line text on it would change data.
    """
    head = text.lstrip()[:1]
    if head != "{" and head != "[":
        return False
    tail = text.rstrip()[-1:]
    if tail != "}" and tail != "]":
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


class SSEDecoder:
    """Turns a byte stream, fed in chunks of any size, into :class:`SSEEvent` s.

    Follows the WHATWG event-stream rules, with these deliberate tolerances:

    * whitespace (spaces, tabs) before a field name is ignored;
    * when a ``data:`` line arrives while the pending data is already a whole
      JSON object or array, the pending event is dispatched first (servers that
      leave out the blank line between JSON events).

    Line ends are ``\\n``, ``\\r\\n`` or ``\\r``, also when ``\\r\\n`` is split
    across chunks. A UTF-8 BOM at the start of the stream is skipped. Complete
    lines are decoded as strict UTF-8: invalid bytes raise ``UnicodeDecodeError``
    from :meth:`feed` or :meth:`flush` (no replacement characters). There is no
    line-length limit; an unfinished line is kept as a list of byte chunks, so a
    long line costs linear time. ``id`` persists from event to event, as in
    WHATWG (an ``id:`` with an empty value sets it to ``""``).
    """

    __slots__ = ("_parts", "_started", "_skip_lf", "_data", "_event", "_id")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._parts: list[bytes] = []  # the unfinished last line (no line ends in it)
        self._started = False  # False until the BOM check is done
        self._skip_lf = False  # the last chunk ended in "\r": drop a leading "\n"
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Take the next bytes of the stream; return the events they complete."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == _LF:
                chunk = chunk[1:]
                if not chunk:
                    return []
        if not self._started:
            head = b"".join(self._parts) + chunk if self._parts else chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._parts = [head]
                return []
            self._parts = []
            self._started = True
            chunk = head[3:] if head.startswith(_BOM) else head
            if not chunk:
                return []

        end = chunk.rfind(b"\n")
        if b"\r" in chunk:
            end = max(end, chunk.rfind(b"\r"))
        if end < 0:
            self._parts.append(chunk)
            return []
        end += 1
        if end == len(chunk):
            complete = chunk
            self._skip_lf = chunk[-1] == _CR
        else:
            complete = chunk[:end]
        if self._parts:
            self._parts.append(complete)
            complete = b"".join(self._parts)
            self._parts = []
        if end != len(chunk):
            self._parts.append(chunk[end:])

        # Line ends are ASCII, so decoding whole lines together equals decoding
        # each line: a multi-byte character never straddles ``complete``'s end.
        text = complete.decode("utf-8")
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        lines.pop()  # ``text`` ends with a line end: the last piece is ""
        return self._lines(lines)

    def flush(self) -> list[SSEEvent]:
        """End of stream: process an unfinished last line and dispatch the pending event.

        The decoder is then back in its initial state, ready for a new stream.
        """
        rest = b"".join(self._parts)
        self._parts = []
        out = self._lines([rest.decode("utf-8")]) if rest else []
        if self._data:
            out.append(self._dispatch())
        self._reset()
        return out

    def _dispatch(self) -> SSEEvent:
        data = self._data
        event = SSEEvent(data[0] if len(data) == 1 else "\n".join(data), self._event or "message", self._id)
        self._data = []
        self._event = ""
        return event

    def _lines(self, lines: list[str]) -> list[SSEEvent]:
        """Interpret complete, decoded lines; return the events they dispatch."""
        out: list[SSEEvent] = []
        for line in lines:
            if not line:  # blank line: dispatch
                if self._data:
                    out.append(self._dispatch())
                else:
                    self._event = ""
                continue
            if line.startswith("data:"):  # the hot path
                name = "data"
                value = line[5:]
            else:
                colon = line.find(":")
                if colon < 0:
                    name, value = line, ""
                else:
                    name, value = line[:colon], line[colon + 1 :]
                if name[:1] in (" ", "\t"):
                    name = name.lstrip(" \t")
                if not name:  # a comment (or a whitespace-only line)
                    continue
            if value[:1] == " ":
                value = value[1:]
            if name == "data":
                data = self._data
                if data and (len(data) > 1 or data[0]) and _is_complete_json("\n".join(data)):
                    out.append(self._dispatch())
                    data = self._data
                data.append(value)
            elif name == "event":
                self._event = value
            elif name == "id":
                if "\0" not in value:
                    self._id = value
            # "retry" and unknown fields are ignored.
        return out


def iter_sse(chunks: Iterable[bytes]) -> Iterator[SSEEvent]:
    """Decode an iterable of byte chunks into events: feed every chunk, then flush."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.flush()
