"""Accumulators: a stream's events assembled into what the same call returns
non-streamed (content, refusals, tool calls, finish reasons, usage, every
choice of ``n > 1``), and the text-chunk relay of Lua-style callbacks."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .convert import structure
from .fastpath import LazyChunk
from .models import (
    ChatCompletion,
    ChatCompletionChunk,
    Completion,
    Response as ApiResponse,
    ResponseStreamEvent,
    TextChunk,
)

__all__ = [
    "Accumulator",
    "ChatAccumulator",
    "CompletionAccumulator",
    "ResponseAccumulator",
    "accumulator_for",
    "text_chunk_relay",
]


class Accumulator:
    """Collects a stream's events; ``result()`` is what the non-streamed call returns."""

    #: The event type it assembles; events of another type (a plugin's) pass by.
    event_type: type | None = None
    #: Set by :func:`iter_events` once the stream ended complete: ``result()`` is whole.
    finished: bool = False
    #: Set by :func:`iter_events` to the error that ended the stream, if one did.
    failed: BaseException | None = None
    #: Whether a whole answer needs its finish reason (the client's ``require_finish_reason``).
    require_finish: bool = True

    def add(self, event: Any) -> None:
        self.last = event

    def complete(self, saw_done: bool) -> bool:
        """Whether what arrived is a whole answer when the stream ends (at DONE
        if ``saw_done``, else at the end of the body)."""
        return saw_done

    def missing(self) -> str:
        """What an incomplete stream lacks, for its StreamError."""
        return "no terminating event"

    def received(self) -> Any:
        """What was delivered so far, for an error raised mid-stream."""
        return None

    def result(self) -> Any:
        return getattr(self, "last", None)


class _ChoiceState:
    __slots__ = (
        "role", "content", "refusal", "reasoning", "finish_reason", "function_call", "tool_calls", "logprobs", "extra",
        "extra_content",
    )

    def __init__(self) -> None:
        self.role = "assistant"
        #: The text pieces; ``None`` until a delta carries a ``content`` string
        #: (a refusal or a tool call streams ``content: null``, and so stays ``None``).
        self.content: list[str] | None = None
        #: The refusal pieces; ``None`` until a delta carries a ``refusal`` string.
        self.refusal: list[str] | None = None
        self.reasoning: list[str] = []
        self.finish_reason: str | None = None
        self.function_call: dict[str, str] | None = None
        self.tool_calls: list[dict[str, Any]] = []
        self.logprobs: list[Any] = []
        #: Choice-level fields a provider adds beyond OpenAI's (kept on the assembled choice).
        self.extra: dict[str, Any] = {}
        #: The deltas' ``extra_content`` (provider extras of the message), merged.
        self.extra_content: dict[str, Any] = {}

    def merge_tool_call(self, delta: Any) -> None:
        calls = self.tool_calls
        if delta.index is not None:
            while len(calls) <= delta.index:
                calls.append({"id": None, "type": "function", "function": {"name": None, "arguments": ""}})
            slot = calls[delta.index]
        else:  # a server that sends no index: a new id or a function name starts the next call
            slot = next((c for c in calls if delta.id and c["id"] == delta.id), None)
            if slot is None:
                if calls and not delta.id and not (delta.function and delta.function.name):
                    slot = calls[-1]
                else:
                    slot = {"id": None, "type": "function", "function": {"name": None, "arguments": ""}}
                    calls.append(slot)
        if delta.id:
            slot["id"] = delta.id
        elif slot["id"] is None and delta.id is not None:
            slot["id"] = delta.id
        if delta.type:
            slot["type"] = delta.type
        extra = {k: v for k, v in delta.raw.items() if k not in ("index", "id", "type", "function")} if isinstance(delta.raw, dict) else {}
        slot.update(extra)  # a provider's extra fields of the call, kept to be sent back
        fn = delta.function
        if fn is not None:
            if fn.name:
                slot["function"]["name"] = fn.name
            if fn.arguments:
                slot["function"]["arguments"] += fn.arguments

    def update(self, delta: dict[str, Any], choice: dict[str, Any]) -> None:
        """Take one chunk's choice: its delta's and its own fields, as JSON."""
        self.content = _add_piece(self.content, delta.get("content"))
        if len(delta) > ("content" in delta):  # more than a piece of text
            self._update_delta(delta)
        if choice.get("finish_reason") or choice.get("logprobs") or not _CHUNK_CHOICE_KEYS.issuperset(choice):
            self._update_choice(choice)

    def _update_delta(self, delta: dict[str, Any]) -> None:
        role = delta.get("role")
        if role:
            self.role = role
        self.refusal = _add_piece(self.refusal, delta.get("refusal"))
        reasoning = delta.get("reasoning")
        if reasoning:
            self.reasoning.append(reasoning)
        extra_content = delta.get("extra_content")
        if extra_content and isinstance(extra_content, dict):
            _merge_extra_content(self.extra_content, extra_content)

    def _update_choice(self, choice: dict[str, Any]) -> None:
        finish = choice.get("finish_reason")
        if finish:
            self.finish_reason = finish
        logprobs = choice.get("logprobs")
        if logprobs:
            self.logprobs.append(logprobs)
        if not _CHUNK_CHOICE_KEYS.issuperset(choice):  # choice-level fields a provider adds
            self.extra.update((key, choice[key]) for key in choice.keys() - _CHUNK_CHOICE_KEYS)

    def text(self) -> str:
        """The content so far, or the refusal so far when no content came."""
        parts = self.content or self.refusal or ()
        return "".join(parts)

    def message(self) -> dict[str, Any]:
        """The message as the non-streamed reply has it: ``content`` is ``None`` when
        no delta carried a content string, ``refusal`` is set when one carried a refusal."""
        msg: dict[str, Any] = {"role": self.role, "content": None if self.content is None else "".join(self.content)}
        if self.refusal is not None:
            msg["refusal"] = "".join(self.refusal)
        if self.reasoning:
            msg["reasoning"] = "".join(self.reasoning)
        if self.function_call is not None:
            msg["function_call"] = self.function_call
        if self.tool_calls:
            msg["tool_calls"] = self.tool_calls
        if self.extra_content:
            msg["extra_content"] = self.extra_content
        return msg


def _add_piece(pieces: list[str] | None, piece: Any) -> list[str] | None:
    """``pieces`` with a delta's ``content`` (or ``refusal``) piece added. A string,
    ``""`` included, says the reply streams that field, so the list starts then;
    ``null`` or a missing key does not."""
    if isinstance(piece, str):
        if pieces is None:
            return [piece] if piece else []
        if piece:
            pieces.append(piece)
    return pieces


def _merge_extra_content(into: dict[str, Any], extra: dict[str, Any]) -> None:
    """A delta's ``extra_content`` merged into the earlier ones': dicts key by key,
    lists extended, any other value replaced (copies: the chunks stay as they came)."""
    for key, value in extra.items():
        have = into.get(key)
        if isinstance(have, dict) and isinstance(value, dict):
            _merge_extra_content(have, value)
        elif isinstance(have, list) and isinstance(value, list):
            have.extend(copy.deepcopy(value))
        else:
            into[key] = copy.deepcopy(value)


_CHUNK_CHOICE_KEYS = frozenset({"index", "delta", "finish_reason", "logprobs"})
_NO_DELTA: dict[str, Any] = {}


def _merge_logprobs(parts: list[Any]) -> Any:
    """The logprobs of a streamed choice: each key's lists (``content``, ``refusal``)
    joined in order, apart from each other; a key no chunk gave a list stays as sent
    (``null``), so a refusal's logprobs read ``{"content": None, "refusal": [...]}``."""
    if not parts:
        return None
    merged: dict[str, Any] = {}
    for part in parts:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if isinstance(value, list):
                joined = merged.get(key)
                if isinstance(joined, list):
                    joined.extend(value)
                else:
                    merged[key] = list(value)
            else:
                merged.setdefault(key, value)
    return merged


def _unfinished(indices: list[int]) -> str:
    return (
        f"choice {', '.join(map(str, indices))} had no finish_reason, so the answer may be cut short "
        "(for a server that never sends one: llmplug.new(..., require_finish_reason=False))"
    )


class ChatAccumulator(Accumulator):
    """Assembles chat completion chunks: content, tool calls merged by index,
    finish reasons, usage and every choice when ``n > 1``."""

    event_type = ChatCompletionChunk

    def __init__(self) -> None:
        self.head: dict[str, Any] = {}
        self.choices: dict[int, _ChoiceState] = {}
        self.usage: Any = None

    def add(self, chunk: ChatCompletionChunk) -> None:
        if type(chunk) is LazyChunk:  # its JSON is its whole truth: read it, build no model for it
            data = chunk.raw  # usage is None: a chunk with usage is never lazy
            if not self.head:
                self.head = {"id": data.get("id"), "created": data.get("created"), "model": data.get("model")}
            if data.get("system_fingerprint"):
                self.head["system_fingerprint"] = data["system_fingerprint"]
            states = self.choices
            for c in data.get("choices", ()):  # text only: a chunk with a call is built, never lazy
                index = c.get("index", 0)
                (states.get(index) or self._state(index)).update(c.get("delta") or _NO_DELTA, c)
            return
        if not self.head:
            self.head = {"id": chunk.id, "created": chunk.created, "model": chunk.model}
        if chunk.system_fingerprint:
            self.head["system_fingerprint"] = chunk.system_fingerprint
        if chunk.usage is not None:
            self.usage = chunk.usage.raw
        for choice in chunk.choices:
            self._add_choice(choice)

    def _add_choice(self, choice: Any) -> None:
        state = self._state(choice.index)
        delta = choice.delta
        if delta.tool_calls:
            for call in delta.tool_calls:
                state.merge_tool_call(call)
        if delta.function_call is not None:
            fc = state.function_call or {"name": "", "arguments": ""}
            fc["name"] = delta.function_call.name or fc["name"]
            fc["arguments"] += delta.function_call.arguments or ""
            state.function_call = fc
        extra_content = delta.raw.get("extra_content") if isinstance(delta.raw, dict) else None
        fields = {"role": delta.role, "content": delta.content, "refusal": delta.refusal, "reasoning": delta.reasoning}
        choice_raw = choice.raw if isinstance(choice.raw, dict) else {}
        state.update(
            {**fields, "extra_content": extra_content},
            {**choice_raw, "finish_reason": choice.finish_reason, "logprobs": choice.logprobs},
        )

    def _state(self, index: int) -> _ChoiceState:
        state = self.choices.get(index)
        if state is None:
            state = self.choices[index] = _ChoiceState()
        return state

    def complete(self, saw_done: bool) -> bool:
        if not self.require_finish:
            return True
        return bool(self.choices) and all(s.finish_reason for s in self.choices.values())

    def missing(self) -> str:
        if not self.choices:
            return "no choice arrived"
        return _unfinished([i for i, s in sorted(self.choices.items()) if not s.finish_reason])

    def received(self) -> str:
        """Choice 0's text so far: its content, or its refusal when no content came."""
        state = self.choices.get(0)
        return state.text() if state else ""

    def result(self) -> ChatCompletion:
        data = {
            "id": self.head.get("id"),
            "object": "chat.completion",
            "created": self.head.get("created"),
            "model": self.head.get("model"),
            "choices": [
                {
                    **state.extra,
                    "index": index,
                    "message": state.message(),
                    "finish_reason": state.finish_reason,
                    "logprobs": _merge_logprobs(state.logprobs),
                }
                for index, state in sorted(self.choices.items())
            ],
            "usage": self.usage,
        }
        if "system_fingerprint" in self.head:
            data["system_fingerprint"] = self.head["system_fingerprint"]
        return structure(data, ChatCompletion)


class CompletionAccumulator(Accumulator):
    """Assembles legacy text-completion chunks."""

    event_type = Completion

    def __init__(self) -> None:
        self.head: dict[str, Any] = {}
        self.texts: dict[int, list[str]] = {}
        self.finish: dict[int, str | None] = {}
        self.usage: Any = None

    def add(self, chunk: Completion) -> None:
        if not self.head:
            self.head = {"id": chunk.id, "created": chunk.created, "model": chunk.model}
        if chunk.usage is not None:
            self.usage = chunk.usage.raw
        for choice in chunk.choices:
            self.texts.setdefault(choice.index, []).append(choice.text or "")
            if choice.finish_reason:
                self.finish[choice.index] = choice.finish_reason
            else:
                self.finish.setdefault(choice.index, None)

    def complete(self, saw_done: bool) -> bool:
        if not self.require_finish:
            return True
        return bool(self.finish) and all(self.finish.values())

    def missing(self) -> str:
        if not self.finish:
            return "no choice arrived"
        return _unfinished([i for i, f in sorted(self.finish.items()) if not f])

    def received(self) -> str:
        return "".join(self.texts.get(0, []))

    def result(self) -> Completion:
        choices = [
            {"index": i, "text": "".join(parts), "finish_reason": self.finish.get(i), "logprobs": None}
            for i, parts in sorted(self.texts.items())
        ]
        return structure({**self.head, "object": "text_completion", "choices": choices, "usage": self.usage}, Completion)


class ResponseAccumulator(Accumulator):
    """Follows a Responses API stream; the result is the response of ``response.completed``."""

    FINAL = ("response.completed", "response.incomplete")
    event_type = ResponseStreamEvent

    def __init__(self) -> None:
        self.text: list[str] = []
        #: The ``response.refusal.delta`` pieces, apart from the text.
        self.refusal: list[str] = []
        self.final: ApiResponse | None = None

    def add(self, event: ResponseStreamEvent) -> None:
        kind = event.type
        if kind == "response.output_text.delta" and isinstance(event.delta, str):
            self.text.append(event.delta)
        elif kind == "response.refusal.delta" and isinstance(event.delta, str):
            self.refusal.append(event.delta)
        elif kind in self.FINAL and event.response is not None:
            self.final = event.response

    def complete(self, saw_done: bool) -> bool:
        return self.final is not None

    def missing(self) -> str:
        return "no response.completed or response.incomplete event"

    def received(self) -> str:
        """The output text so far, or the refusal text so far when no text came."""
        return "".join(self.text or self.refusal)

    def result(self) -> ApiResponse | None:
        return self.final


_ACCUMULATORS: dict[type, Callable[[], Accumulator]] = {
    ChatCompletionChunk: ChatAccumulator,
    Completion: CompletionAccumulator,
    ResponseStreamEvent: ResponseAccumulator,
}


def accumulator_for(event_type: type | None, *, require_finish: bool = True) -> Accumulator:
    """A fresh accumulator for a stream of ``event_type`` events; with
    ``require_finish=False`` a chat or text-completion stream whose choices got
    no finish reason still counts as whole when it ends properly."""
    factory = _ACCUMULATORS.get(event_type) if event_type is not None else None
    accumulator = factory() if factory is not None else Accumulator()
    accumulator.require_finish = require_finish
    return accumulator


def text_chunk_relay(callback: Callable[[TextChunk, Any], Any]) -> Callable[[Any], None]:
    """A chat chunk callback that calls ``callback(TextChunk, raw_event)`` for each
    choice delta carrying text, refusal text or tool calls (Lua's ``chat`` and
    session callbacks); refusal text comes in ``TextChunk.refusal``. When
    ``callback`` returns awaitables (a coroutine function, on an async client),
    the relay returns one awaitable that awaits them in order."""

    def relay(event: Any) -> Any:
        if not isinstance(event, ChatCompletionChunk):
            return None
        pending = None
        for choice in event.choices:
            delta = choice.delta
            if delta.content or delta.tool_calls or delta.refusal:
                outcome = callback(TextChunk(delta.content or "", choice.index, delta.tool_calls, delta.refusal or None), event.raw)
                if outcome is not None and hasattr(outcome, "__await__"):
                    pending = [*(pending or ()), outcome]
        return None if pending is None else in_order(pending)

    return relay


async def in_order(awaitables: list[Any]) -> None:
    """Await ``awaitables`` one after the other."""
    for awaitable in awaitables:
        await awaitable
