"""The cattrs converter that turns decoded JSON into the core models.

Each model gets the decoded JSON in ``.raw``; a body of an unexpected shape
yields a model with defaults and the data kept in ``.raw`` rather than a crash.
cattrs is imported, and the converter built, on the first :func:`structure`
call, so ``import llmplug`` does not pay for it.
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Optional, TypeVar

from .logs import logger
from .models import ChatCompletionChunk, ChunkChoice, ChunkDelta, FunctionCallDelta, Model, ToolCallDelta, Usage

__all__ = ["get_converter", "structure"]

T = TypeVar("T")


def _as_is(value: Any, _: Any) -> Any:
    return value


def _usage_details(usage: Usage, data: dict[str, Any]) -> None:
    details = data.get("completion_tokens_details")
    if usage.reasoning_tokens is None and isinstance(details, dict):
        usage.reasoning_tokens = details.get("reasoning_tokens")
    details = data.get("prompt_tokens_details")
    if usage.cached_tokens is None and isinstance(details, dict):
        usage.cached_tokens = details.get("cached_tokens")


_converter: Any = None


def get_converter() -> Any:
    """The cattrs converter of the core models (built once, on first use)."""
    global _converter
    if _converter is None:
        _converter = _build_converter()
    return _converter


def _build_converter() -> Any:
    import cattrs
    from cattrs.gen import make_dict_structure_fn, override

    converter = cattrs.Converter(detailed_validation=False)
    # JSON scalars are taken as the server sent them: no coercion, nothing lost, and fast.
    for scalar in (str, int, float, bool):
        converter.register_structure_hook(scalar, _as_is)
        converter.register_structure_hook(Optional[scalar], _as_is)
    converter.register_unstructure_hook(bytes, lambda b: base64.b64encode(b).decode("ascii"))
    converter.register_structure_hook(bytes, lambda v, _: base64.b64decode(v) if isinstance(v, str) else bytes(v))

    def model_hook(cls: type[Model]) -> Callable[[Any, Any], Model]:
        fields = make_dict_structure_fn(cls, converter, raw=override(omit=True), shaped=override(omit=True))
        post = _usage_details if issubclass(cls, Usage) else None

        def structure(data: Any, _: Any) -> Model:
            if not isinstance(data, dict):
                raise TypeError(f"{cls.__name__} needs a JSON object, got {type(data).__name__}")
            obj = fields(data, cls)
            if post is not None:
                post(obj, data)
            obj.raw = data
            return obj

        return structure

    converter.register_structure_hook_factory(lambda t: isinstance(t, type) and issubclass(t, Model), model_hook)
    return converter


def _function_delta(data: Any) -> FunctionCallDelta | None | bool:
    if data is None:
        return None
    if type(data) is not dict:
        return False
    return FunctionCallDelta(name=data.get("name"), arguments=data.get("arguments"), raw=data)


def _fast_chunk(data: Any) -> ChatCompletionChunk | None:
    """A chat chunk for the common shape, its ``choices`` built on first access
    (:class:`LazyChunk`); ``None`` for anything else (usage, a wrong type), which
    takes the converter. A stream structures one chunk per event: this is its
    hot path, and most chunks are never looked into (callbacks read their text,
    the accumulator reads their JSON)."""
    if type(data) is not dict or data.get("usage") is not None or not _plain_choices(data.get("choices", ())):
        return None
    chunk = LazyChunk.__new__(LazyChunk)
    _RAW.__set__(chunk, data)
    _SHAPED.__set__(chunk, None)
    chunk.id = data.get("id")
    chunk.object = data.get("object", "chat.completion.chunk")
    chunk.created = data.get("created")
    chunk.model = data.get("model")
    chunk.usage = None
    chunk.system_fingerprint = data.get("system_fingerprint")
    return chunk


def _plain_choices(raw_choices: Any) -> bool:
    """Whether chunk choices have the shape :func:`_build_choices` takes as is."""
    if type(raw_choices) is not list:
        return raw_choices == ()
    for c in raw_choices:
        if type(c) is not dict:
            return False
        d = c.get("delta", _NO_DELTA)
        if d is _NO_DELTA:
            continue
        if type(d) is not dict:
            return False
        calls = d.get("tool_calls")
        if calls is not None:
            if type(calls) is not list:
                return False
            for t in calls:
                if type(t) is not dict or t.get("function") is not None and type(t["function"]) is not dict:
                    return False
        legacy = d.get("function_call")
        if legacy is not None and type(legacy) is not dict:
            return False
    return True


def _function_delta(data: Any) -> FunctionCallDelta | None:
    return None if data is None else FunctionCallDelta(name=data.get("name"), arguments=data.get("arguments"), raw=data)


def _build_choices(raw_choices: Any) -> list[ChunkChoice]:
    """Field for field what the converter builds from choices :func:`_plain_choices`
    accepts: scalars as sent, each model's ``.raw`` its own dict."""
    choices = []
    for c in raw_choices:
        d = c.get("delta", _NO_DELTA)
        if d is _NO_DELTA:
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


class LazyChunk(ChatCompletionChunk):
    """A :class:`ChatCompletionChunk` whose ``choices`` are built from its JSON
    when first read; it then becomes a plain ``ChatCompletionChunk`` (equal, and
    of that class). Setting ``.raw`` builds them first, from the JSON they came
    from. Until then :attr:`pristine` says the JSON is the chunk's whole truth."""

    __slots__ = ()

    @property  # type: ignore[override]
    def choices(self) -> list[ChunkChoice]:
        choices = _build_choices(_RAW.__get__(self).get("choices", ()))
        _CHOICES.__set__(self, choices)
        self.__class__ = ChatCompletionChunk  # type: ignore[assignment]
        return choices

    @choices.setter
    def choices(self, value: list[ChunkChoice]) -> None:
        _CHOICES.__set__(self, value)
        self.__class__ = ChatCompletionChunk  # type: ignore[assignment]

    @property  # type: ignore[override]
    def raw(self) -> Any:
        return _RAW.__get__(self)

    @raw.setter
    def raw(self, value: Any) -> None:
        self.choices  # noqa: B018  # built from the JSON they came from, before it is replaced
        _RAW.__set__(self, value)

    def __eq__(self, other: object) -> bool:
        self.choices  # noqa: B018
        return self == other

    __hash__ = None  # type: ignore[assignment]

    def __str__(self) -> str:
        for choice in _RAW.__get__(self).get("choices", ()):
            if choice.get("index", 0) == 0:
                delta = choice.get("delta")
                return (delta.get("content") if delta else None) or ""
        return ""


_NO_DELTA: Any = object()


def structure(data: Any, cls: type[T]) -> T:
    """Build ``cls`` from decoded JSON; on a shape the model cannot take, keep it raw."""
    if cls is ChatCompletionChunk:
        chunk = _fast_chunk(data)
        if chunk is not None:
            return chunk  # type: ignore[return-value]
    try:
        return get_converter().structure(data, cls)
    except Exception as exc:  # a wrong-typed field must not lose the answer
        logger.debug("kept %s raw: its JSON did not fit the model (%s)", getattr(cls, "__name__", cls), exc)
        obj = cls()
        obj.raw = data  # type: ignore[attr-defined]
        return obj
