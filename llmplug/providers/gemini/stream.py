"""Stream parsing for ``gemini``: each event of a ``streamGenerateContent?alt=sse``
stream is a whole ``GenerateContentResponse`` holding only the new parts, and
:class:`ChunkParser` turns it into a :class:`ChatCompletionChunk` with the same
rules as :mod:`.response`, remembering what a candidate already sent so the
assembled message equals the non-streamed one. Other streams are decoded JSON
events that end with the body (:func:`stream_parser`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Callable

from llmplug.plugin import (
    ChatCompletionChunk,
    DONE,
    error_message,
    parse_json_event,
    SKIP,
    SSEEvent,
    StreamError,
    structure,
    StreamParser,
    Terminated,
)

from .response import _blocked_choice, _CallIds, _candidates, _choice, _openai_shaped, _read_parts, google_extras


def _add_streamed_part(parts: list[dict[str, Any]], part: Mapping[str, Any]) -> None:
    """Add a part that arrived in a stream: a piece of text continues the text part
    before it (same kind, thought or not, and no signature yet), taking its
    signature along; an empty text part (a bare signature) and any other part
    stand alone, as in the non-streamed reply."""
    prev = parts[-1] if parts else None
    text = part.get("text")
    if (
        prev is not None and isinstance(text, str) and text and isinstance(prev.get("text"), str)
        and prev.keys() <= {"text", "thought"} and part.keys() <= {"text", "thought", "thoughtSignature"}
        and bool(prev.get("thought")) == bool(part.get("thought"))
    ):
        prev["text"] += text
        if part.get("thoughtSignature"):
            prev["thoughtSignature"] = part["thoughtSignature"]
        return
    parts.append(copy.deepcopy(dict(part)))


class ChunkParser(StreamParser):
    """Turns the events of one ``streamGenerateContent`` stream into chunks.

    Each event is a whole ``GenerateContentResponse`` with only the new parts;
    the parser remembers which candidates started (the role is sent once),
    how many calls each made (indices and made-up ids continue), whether a
    call came (so ``STOP`` becomes ``"tool_calls"``) and each candidate's parts
    (text pieces joined): the chunk that finishes a candidate carries the
    message's ``extra_content.google`` (:func:`google_extras`), so the
    assembled message equals the non-streamed one.
    """

    def __init__(self) -> None:
        self.ids = _CallIds()
        self.started: set[int] = set()
        self.with_calls: set[int] = set()
        self.parts: dict[int, list[dict[str, Any]]] = {}

    def parse(self, event: SSEEvent) -> Any:
        payload = event.data
        if not payload.strip():
            return SKIP
        if payload == "[DONE]":
            return DONE
        data = parse_json_event(event)
        if isinstance(data, Mapping) and "error" in data and "candidates" not in data:
            raise StreamError(f"the server reported an error mid-stream: {error_message(data)}", payload=payload)
        return self.chunk(data)

    def chunk(self, data: Any) -> ChatCompletionChunk:
        if not isinstance(data, Mapping):
            return structure(data, ChatCompletionChunk)
        choices = []
        for index, cand in _candidates(data):
            parts = (cand.get("content") or {}).get("parts")
            texts, thoughts, calls = _read_parts(parts, data.get("responseId"), index, self.ids)
            delta: dict[str, Any] = {}
            if index not in self.started:
                self.started.add(index)
                delta["role"] = "assistant"
            text, thought = "".join(texts), "".join(thoughts)
            if text:
                delta["content"] = text
            if thought:
                delta["reasoning"] = thought
            if calls:
                delta["tool_calls"] = calls
                self.with_calls.add(index)
            seen = self.parts.setdefault(index, [])
            for part in parts if isinstance(parts, list) else []:
                if isinstance(part, Mapping):
                    _add_streamed_part(seen, part)
            if cand.get("finishReason"):
                extras = google_extras(self.parts.pop(index))
                if extras:
                    delta["extra_content"] = {"google": extras}
            choices.append(_choice(cand, index, "delta", delta, index in self.with_calls))
        blocked = None if choices else _blocked_choice(data, "delta")
        if blocked:
            choices.append(blocked)
        return _openai_shaped(data, choices, ChatCompletionChunk)


def _json_events(event: SSEEvent) -> Any:
    """Events of a generic stream: decoded JSON (``[DONE]`` ends an OpenAI-style one)."""
    if event.data == "[DONE]":
        return DONE
    return parse_json_event(event) if event.data.strip() else SKIP


def stream_parser(operation: str) -> Callable[[SSEEvent], Any]:
    """The parser of one stream of ``operation``: chat chunks, or JSON events ended by the body's end."""
    return ChunkParser() if operation == "chat.create" else Terminated(_json_events, by="eof")
