"""Values of a type from decoded JSON: :func:`structure_as` builds an instance
of what :mod:`llmplug.core.schema` describes, with cattrs for attrs classes,
dataclasses, TypedDicts, Enums and the rest, and with pydantic for pydantic
models (pydantic is imported only when such a type is passed).

Stricter than cattrs' defaults, as JSON from a model must fit: a string is
never taken as a number, nor a number as a string or a bool; a union takes
the first of its types that fits. Failures raise :class:`NotOfType` with one
line per place (``"expected int @ $.age"``).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import typing
import uuid
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn
from cattrs.v import format_exception

from .schema import UNIONS, cached_schema, is_pydantic, pydantic_adapter, type_label

__all__ = ["NotOfType", "structure_as"]



class NotOfType(ValueError):
    """Decoded JSON that does not fit a type; ``errors`` lists where."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def structure_as(data: Any, tp: Any) -> Any:
    """``data`` (decoded JSON) as an instance of ``tp``; :class:`NotOfType` if it does not fit."""
    if is_pydantic(tp):
        return _validate_pydantic(data, tp)
    cached_schema(tp)  # resolves the classes' string annotations, once per type
    try:
        return _converter(False).structure(data, tp)
    except Exception:  # it does not fit: again, with cattrs noting every place that fails
        pass
    try:
        return _converter(True).structure(data, tp)
    except Exception as exc:  # cattrs' ClassValidationError, or a hook's ValueError/TypeError
        raise NotOfType(_where(exc)) from None


def _validate_pydantic(data: Any, tp: Any) -> Any:
    import pydantic

    try:
        return pydantic_adapter(tp).validate_python(data)
    except pydantic.ValidationError as exc:
        raise NotOfType([
            f"{error['msg']} @ {_json_path(error['loc'])}" for error in exc.errors(include_url=False)
        ]) from None


def _say(exc: BaseException, tp: Any) -> str:
    """One failure in words: our hooks' own, else cattrs'."""
    if type(exc) is ValueError and exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    said = format_exception(exc, tp)
    return str(exc).replace("typing.", "") if said.startswith("unknown error") and str(exc) else said


def _json_path(loc: Any) -> str:
    return "$" + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _where(exc: BaseException) -> list[str]:
    if isinstance(exc, (cattrs.ClassValidationError, cattrs.IterableValidationError)):
        return list(cattrs.transform_error(exc, path="$", format_exception=_say))
    if isinstance(exc, NotOfType):
        return exc.errors
    return [f"{exc} @ $"]


# ---------------------------------------------------------------- the converter


@functools.lru_cache(maxsize=2)
def _converter(detailed: bool) -> cattrs.Converter:
    """The converter; ``detailed`` notes every failure (slower: used once a value failed)."""
    converter = cattrs.Converter(detailed_validation=detailed)
    for tp, check in ((str, str), (bool, bool)):
        converter.register_structure_hook(tp, _exactly(check))
    converter.register_structure_hook(int, _integer)
    converter.register_structure_hook(float, _number)
    converter.register_structure_hook(datetime.datetime, _iso(_datetime))
    converter.register_structure_hook(datetime.date, _iso(datetime.date.fromisoformat))
    converter.register_structure_hook(datetime.time, _iso(datetime.time.fromisoformat))
    converter.register_structure_hook(uuid.UUID, _iso(uuid.UUID))
    converter.register_structure_hook_func(_is_union, functools.partial(_union, converter))
    converter.register_structure_hook_func(is_pydantic, _validate_pydantic)
    converter.register_structure_hook(typing.Any, lambda value, _: value)
    converter.register_structure_hook_factory(_has_fields, functools.partial(_object_hook, converter))
    return converter


def _has_fields(tp: Any) -> bool:
    return isinstance(tp, type) and (attrs.has(tp) or dataclasses.is_dataclass(tp)) and not is_pydantic(tp)


def _object_hook(converter: cattrs.Converter, cls: type) -> Any:
    """cattrs' own hook for an attrs class or dataclass, after checking the JSON
    is an object (else one error, not one per field)."""
    fields = make_dict_structure_fn(cls, converter)

    def structure(value: Any, tp: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"expected an object ({cls.__name__}), got {_json_kind(value)}")
        return fields(value, tp)

    return structure


def _exactly(kind: type) -> Any:
    def structure(value: Any, tp: Any) -> Any:
        if type(value) is not kind:
            raise ValueError(f"expected {kind.__name__}, got {_json_kind(value)}")
        return value

    return structure


def _integer(value: Any, _: Any) -> int:
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    raise ValueError(f"expected int, got {_json_kind(value)}")


def _number(value: Any, _: Any) -> float:
    if type(value) in (int, float):
        return float(value)
    raise ValueError(f"expected float, got {_json_kind(value)}")


def _iso(parse: Any) -> Any:
    def structure(value: Any, tp: Any) -> Any:
        if type(value) is not str:
            raise ValueError(f"expected an ISO 8601 string, got {_json_kind(value)}")
        return parse(value)

    return structure


def _datetime(text: str) -> datetime.datetime:
    if text.endswith(("Z", "z")):  # Python 3.10's fromisoformat takes no "Z"
        text = text[:-1] + "+00:00"
    return datetime.datetime.fromisoformat(text)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in UNIONS


def _union(converter: cattrs.Converter, value: Any, tp: Any) -> Any:
    """The first type of the union ``value`` fits (``None`` for ``Optional``'s null)."""
    arms = typing.get_args(tp)
    if value is None and type(None) in arms:
        return None
    problems = []
    for arm in arms:
        if arm is type(None):
            continue
        try:
            return converter.structure(value, arm)
        except Exception as exc:
            problems.append(f"{type_label(arm)}: {'; '.join(_where(exc))}")
    raise ValueError(f"fits none of {type_label(tp)} ({' | '.join(problems)})")


def _json_kind(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", type(None): "null",
             dict: "an object", list: "an array"}
    return names.get(type(value), type(value).__name__)
