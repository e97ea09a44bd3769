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
    """A chat chunk built by hand, field for field what the converter builds
    (scalars as sent, each model's ``.raw`` its own dict), for the common shape;
    ``None`` for anything else (usage, a wrong type), which takes the converter.
    A stream structures one chunk per event: this is its hot path."""
    if type(data) is not dict or data.get("usage") is not None:
        return None
    raw_choices = data.get("choices", ())
    if type(raw_choices) is not list and raw_choices != ():
        return None
    choices = []
    for c in raw_choices:
        if type(c) is not dict:
            return None
        d = c.get("delta", _NO_DELTA)
        if d is _NO_DELTA:
            delta = ChunkDelta()
        elif type(d) is not dict:
            return None
        else:
            calls = d.get("tool_calls")
            tool_calls = None
            if calls is not None:
                if type(calls) is not list:
                    return None
                tool_calls = []
                for t in calls:
                    if type(t) is not dict:
                        return None
                    function = _function_delta(t.get("function"))
                    if function is False:
                        return None
                    tool_calls.append(ToolCallDelta(
                        index=t.get("index"), id=t.get("id"), type=t.get("type"), function=function, raw=t
                    ))
            legacy = d.get("function_call")
            if legacy is not None:
                legacy = _function_delta(legacy)
                if legacy is False:
                    return None
            delta = ChunkDelta(
                role=d.get("role"), content=d.get("content"), tool_calls=tool_calls, function_call=legacy,
                refusal=d.get("refusal"), reasoning=d.get("reasoning"), raw=d,
            )
        choices.append(ChunkChoice(
            index=c.get("index", 0), delta=delta, finish_reason=c.get("finish_reason"), logprobs=c.get("logprobs"), raw=c
        ))
    return ChatCompletionChunk(
        id=data.get("id"), object=data.get("object", "chat.completion.chunk"), created=data.get("created"),
        model=data.get("model"), choices=choices, usage=None, system_fingerprint=data.get("system_fingerprint"),
        raw=data,
    )


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
