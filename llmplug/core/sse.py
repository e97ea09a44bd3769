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
    * servers that leave out the blank line between events (one ``data:`` line
      per event): when a ``data:``, ``event:`` or ``id:`` line arrives while
      the pending data is already a whole JSON object or array, or ``[DONE]``,
      the pending event is dispatched first, so every other rule holds as in
      the blank-line layout.

    Line ends are ``\\n``, ``\\r\\n`` or ``\\r``, also when ``\\r\\n`` is split
    across chunks. A UTF-8 BOM at the start of the stream is skipped. Complete
    lines are decoded as strict UTF-8 (no replacement characters): the events
    of the lines before an invalid byte are returned first, and the
    ``UnicodeDecodeError`` is raised by the next :meth:`feed` or :meth:`flush`,
    so a caller that stops at ``[DONE]`` never sees bytes after it. There is no
    line-length limit; an unfinished line is kept as a list of byte chunks, so a
    long line costs linear time. ``id`` persists from event to event, as in
    WHATWG (an ``id:`` with an empty value sets it to ``""``).
    """

    __slots__ = ("_parts", "_started", "_skip_lf", "_data", "_event", "_id", "_error")

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._parts: list[bytes] = []  # the unfinished last line (no line ends in it)
        self._started = False  # False until the BOM check is done
        self._skip_lf = False  # the last chunk ended in "\r": drop a leading "\n"
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None
        self._error: UnicodeDecodeError | None = None  # raised by the next feed or flush

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Take the next bytes of the stream; return the events they complete."""
        if self._error is not None:
            raise self._error
        if not chunk:
            return []
        if self._started and not (self._parts or self._skip_lf or self._data or self._event):
            events = self._whole_data_events(chunk)
            if events is not None:
                return events
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
        try:
            text = complete.decode("utf-8")
        except UnicodeDecodeError as exc:
            return self._up_to_invalid(complete, exc)
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        lines.pop()  # ``text`` ends with a line end: the last piece is ""
        return self._lines(lines)

    def _whole_data_events(self, chunk: bytes) -> list[SSEEvent] | None:
        """The hot path: with nothing pending, a chunk of whole events of one
        ``data:`` line each (``data: {...}\n\n``...) decodes here, as the
        general path would; ``None`` for anything else."""
        if chunk[-2:] != b"\n\n" or b"\r" in chunk:
            return None
        try:
            blocks = chunk.decode("utf-8").split("\n\n")
        except UnicodeDecodeError:
            return None
        blocks.pop()  # the chunk ends with a blank line: the last piece is ""
        events = []
        for block in blocks:
            if block[:5] != "data:" or "\n" in block:
                return None
            events.append(SSEEvent(block[6:] if block[5:6] == " " else block[5:], "message", self._id))
        return events

    def flush(self) -> list[SSEEvent]:
        """End of stream: process an unfinished last line and dispatch the pending event.

        The decoder is then back in its initial state, ready for a new stream.
        """
        if self._error is not None:
            error, self._error = self._error, None
            self._reset()
            raise error
        rest = b"".join(self._parts)
        self._parts = []
        out = self._lines([rest.decode("utf-8")]) if rest else []
        if self._data:
            out.append(self._dispatch())
        self._reset()
        return out

    def _up_to_invalid(self, complete: bytes, error: UnicodeDecodeError) -> list[SSEEvent]:
        """The events of the lines before the first one that is not UTF-8; ``error``
        is kept for the next call."""
        good: list[str] = []
        for line in complete.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")[:-1]:
            try:
                good.append(line.decode("utf-8"))
            except UnicodeDecodeError:
                break
        self._error = error
        out = self._lines(good)
        if self._pending_is_whole():  # one line per event: the bad line would have ended it
            out.append(self._dispatch())
        return out

    def _pending_is_whole(self) -> bool:
        """Whether the pending data is a whole event already (``[DONE]`` or a JSON value)."""
        data = self._data
        if not data or (len(data) == 1 and not data[0]):
            return False
        return (len(data) == 1 and data[0] == "[DONE]") or _is_complete_json("\n".join(data))

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
                if self._data and self._pending_is_whole():
                    out.append(self._dispatch())
                self._data.append(value)
            elif name == "event":
                if self._data and self._pending_is_whole():
                    out.append(self._dispatch())
                self._event = value
            elif name == "id":
                if self._data and self._pending_is_whole():
                    out.append(self._dispatch())
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
