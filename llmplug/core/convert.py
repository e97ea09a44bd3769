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
from .fastpath import FAST_PATHS, usage_details
from .models import Model, Usage

__all__ = ["get_converter", "structure"]

T = TypeVar("T")


def _as_is(value: Any, _: Any) -> Any:
    return value


_converter: Any = None


def get_converter() -> Any:
    """The cattrs converter of the core models (built once, on first use)."""
    global _converter
    if _converter is None:
        _converter = _build_converter()
    return _converter


def _build_converter() -> Any:
    import attrs
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
        derived = {a.name: override(omit=True) for a in attrs.fields(cls) if a.metadata.get("derived")}
        fields = make_dict_structure_fn(cls, converter, raw=override(omit=True), shaped=override(omit=True), **derived)
        post = usage_details if issubclass(cls, Usage) else None

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


def structure(data: Any, cls: type[T]) -> T:
    """Build ``cls`` from decoded JSON; on a shape the model cannot take, keep it raw."""
    fast = FAST_PATHS.get(cls)
    if fast is not None:
        built = fast(data)
        if built is not None:
            return built  # type: ignore[no-any-return]
    try:
        return get_converter().structure(data, cls)
    except Exception as exc:  # a wrong-typed field must not lose the answer
        logger.debug("kept %s raw: its JSON did not fit the model (%s)", getattr(cls, "__name__", cls), exc)
        obj = cls()
        obj.raw = data  # type: ignore[attr-defined]
        return obj
