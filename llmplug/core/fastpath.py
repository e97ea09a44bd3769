"""Hand-built models for the shapes every call returns, field for field what
the cattrs converter builds (scalars as sent, each model's ``.raw`` its own
dict): a chat completion, and the chat chunk a stream yields per event (lazy:
its choices are built when first read). Anything unusual (a wrong type, an odd
body) is left to the converter: each builder returns ``None`` for it. Tests
compare both over common and odd shapes.
"""

from __future__ import annotations

from typing import Any, Callable

from .models import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Choice,
    ChunkChoice,
    ChunkDelta,
    FunctionCall,
    FunctionCallDelta,
    Model,
    ToolCall,
    ToolCallDelta,
    Usage,
)

__all__ = ["FAST_PATHS", "LazyChunk", "usage_details"]

_MISSING: Any = object()


def _fast_chunk(data: Any) -> ChatCompletionChunk | None:
    """A chat chunk for the common shape: a :class:`LazyChunk` (its choices built
    when first read) for a text chunk, built at once for a chunk with a tool or
    function call; ``None`` for anything else (usage, a wrong type), which takes
    the converter. A stream structures one chunk per event: this is its hot
    path, and most chunks are never looked into (callbacks read their text, the
    accumulator reads their JSON)."""
    if type(data) is not dict or data.get("usage") is not None:
        return None
    shape = _choices_shape(data.get("choices", ()))
    if shape is None:
        return None
    chunk = LazyChunk.__new__(LazyChunk)
    _RAW.__set__(chunk, data)
    _SHAPED.__set__(chunk, None)
    if shape is _CALLS:  # the accumulator merges calls from the models: build them now
        chunk._build()
    return chunk


_TEXT, _CALLS = "text", "calls"


def _choices_shape(raw_choices: Any) -> str | None:
    """``_TEXT`` for chunk choices with no call, ``_CALLS`` when some delta has a
    tool or function call, both of the shape :func:`_build_choices` takes as is;
    else ``None``."""
    if type(raw_choices) is not list:
        return _TEXT if raw_choices == () else None
    shape = _TEXT
    for c in raw_choices:
        if type(c) is not dict:
            return None
        d = c.get("delta", _MISSING)
        if d is _MISSING:
            continue
        if type(d) is not dict:
            return None
        calls = d.get("tool_calls")
        if calls is not None:
            if type(calls) is not list:
                return None
            for t in calls:
                if type(t) is not dict or t.get("function") is not None and type(t["function"]) is not dict:
                    return None
            shape = _CALLS
        legacy = d.get("function_call")
        if legacy is not None:
            if type(legacy) is not dict:
                return None
            shape = _CALLS
    return shape


def _function_delta(data: Any) -> FunctionCallDelta | None:
    return None if data is None else FunctionCallDelta(name=data.get("name"), arguments=data.get("arguments"), raw=data)


def _build_choices(raw_choices: Any) -> list[ChunkChoice]:
    """Field for field what the converter builds from choices :func:`_choices_shape`
    accepts: scalars as sent, each model's ``.raw`` its own dict."""
    choices = []
    for c in raw_choices:
        d = c.get("delta", _MISSING)
        if d is _MISSING:
            delta = ChunkDelta()
        else:
            calls = d.get("tool_calls")
            delta = ChunkDelta(
                role=d.get("role"), content=d.get("content"), refusal=d.get("refusal"), reasoning=d.get("reasoning"),
                function_call=_function_delta(d.get("function_call")), raw=d,
                tool_calls=None if calls is None else [
                    ToolCallDelta(index=t.get("index"), id=t.get("id"), type=t.get("type"),
                                  function=_function_delta(t.get("function")), raw=t)
                    for t in calls
                ],
            )
        choices.append(ChunkChoice(
            index=c.get("index", 0), delta=delta, finish_reason=c.get("finish_reason"), logprobs=c.get("logprobs"), raw=c
        ))
    return choices


_RAW: Any = Model.__dict__["raw"]
_SHAPED: Any = Model.__dict__["shaped"]
_CHOICES: Any = ChatCompletionChunk.__dict__["choices"]


#: The fields a lazy chunk reads from its JSON, with their defaults.
_SCALARS = {"id": None, "object": "chat.completion.chunk", "created": None, "model": None, "usage": None,
            "system_fingerprint": None}


def _read_from_json(name: str, default: Any) -> property:
    """A lazy chunk's field: read from its JSON; set, it makes the chunk whole first."""
    slot = getattr(ChatCompletionChunk, name)

    def get(self: LazyChunk) -> Any:
        return _RAW.__get__(self).get(name, default)

    def set(self: LazyChunk, value: Any) -> None:
        self._build()
        slot.__set__(self, value)

    return property(get, set, doc=f"``{name}``, read from the JSON until the chunk is built")


class LazyChunk(ChatCompletionChunk):
    """A :class:`ChatCompletionChunk` that reads its fields from its JSON and
    builds its ``choices`` when they are first read; it then becomes a plain
    ``ChatCompletionChunk`` (equal, and of that class), as it does when any field
    or ``.raw`` is set (the choices come from the JSON they came from)."""

    __slots__ = ()

    def _build(self) -> list[ChunkChoice]:
        data = _RAW.__get__(self)
        for name, default in _SCALARS.items():
            getattr(ChatCompletionChunk, name).__set__(self, data.get(name, default))
        choices = _build_choices(data.get("choices", ()))
        _CHOICES.__set__(self, choices)
        self.__class__ = ChatCompletionChunk  # type: ignore[assignment]
        return choices

    @property  # type: ignore[override]
    def choices(self) -> list[ChunkChoice]:
        return self._build()

    @choices.setter
    def choices(self, value: list[ChunkChoice]) -> None:
        self._build()
        _CHOICES.__set__(self, value)

    @property  # type: ignore[override]
    def raw(self) -> Any:
        return _RAW.__get__(self)

    @raw.setter
    def raw(self, value: Any) -> None:
        self._build()
        _RAW.__set__(self, value)

    def __eq__(self, other: object) -> bool:
        self._build()
        return self == other

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        for choice in _RAW.__get__(self).get("choices", ()):
            if choice.get("index", 0) == 0:
                delta = choice.get("delta")
                return (delta.get("content") if delta else None) or ""
        return ""


for _name, _default in _SCALARS.items():
    setattr(LazyChunk, _name, _read_from_json(_name, _default))


def _fast_completion(data: Any) -> ChatCompletion | None:
    """A chat completion of the common shape, built by hand; ``None`` for anything else."""
    if type(data) is not dict:
        return None
    raw_choices = data.get("choices", ())
    usage = data.get("usage")
    if type(raw_choices) is not list and raw_choices != () or usage is not None and type(usage) is not dict:
        return None
    choices = []
    for c in raw_choices:
        if type(c) is not dict:
            return None
        m = c.get("message", _MISSING)
        if m is _MISSING:
            message = ChatMessage()
        elif type(m) is not dict:
            return None
        else:
            message = _message(m)
            if message is None:
                return None
        choices.append(Choice(
            index=c.get("index", 0), message=message, finish_reason=c.get("finish_reason"), logprobs=c.get("logprobs"),
            raw=c,
        ))
    return ChatCompletion(
        id=data.get("id"), object=data.get("object", "chat.completion"), created=data.get("created"),
        model=data.get("model"), choices=choices, usage=None if usage is None else _usage(usage),
        system_fingerprint=data.get("system_fingerprint"), raw=data,
    )


def _message(m: dict[str, Any]) -> ChatMessage | None:
    calls = m.get("tool_calls")
    tool_calls = None
    if calls is not None:
        if type(calls) is not list:
            return None
        tool_calls = []
        for t in calls:
            function = t.get("function", _MISSING) if type(t) is dict else None
            if function is None or function is not _MISSING and type(function) is not dict:
                return None
            tool_calls.append(ToolCall(
                id=t.get("id"), type=t.get("type", "function"),
                function=FunctionCall() if function is _MISSING else _function(function), raw=t,
            ))
    legacy = m.get("function_call")
    if legacy is not None and type(legacy) is not dict:
        return None
    return ChatMessage(
        role=m.get("role", "assistant"), content=m.get("content"), tool_calls=tool_calls,
        function_call=None if legacy is None else _function(legacy), refusal=m.get("refusal"),
        reasoning=m.get("reasoning"), raw=m,
    )


def _function(data: dict[str, Any]) -> FunctionCall:
    return FunctionCall(name=data.get("name"), arguments=data.get("arguments", ""), raw=data)


def _usage(data: dict[str, Any]) -> Usage:
    usage = Usage(
        prompt_tokens=data.get("prompt_tokens"), completion_tokens=data.get("completion_tokens"),
        total_tokens=data.get("total_tokens"), reasoning_tokens=data.get("reasoning_tokens"),
        cached_tokens=data.get("cached_tokens"), raw=data,
    )
    usage_details(usage, data)
    return usage


def usage_details(usage: Usage, data: dict[str, Any]) -> None:
    """Fill ``reasoning_tokens`` and ``cached_tokens`` from OpenAI's nested details where not given."""
    details = data.get("completion_tokens_details")
    if usage.reasoning_tokens is None and isinstance(details, dict):
        usage.reasoning_tokens = details.get("reasoning_tokens")
    details = data.get("prompt_tokens_details")
    if usage.cached_tokens is None and isinstance(details, dict):
        usage.cached_tokens = details.get("cached_tokens")


#: model class -> its hand-built path (``None`` from it: use the converter).
FAST_PATHS: dict[type, Callable[[Any], Any]] = {ChatCompletionChunk: _fast_chunk, ChatCompletion: _fast_completion}
