"""The operations llmplug knows, and the core model each one returns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from . import models as m
from .errors import ConfigurationError
from .specs import ProviderSpec

__all__ = ["merge_params", "get_operation", "Operation", "OPERATIONS", "require_model", "result_model", "with_defaults"]


@attrs.frozen
class Operation:
    """An API operation: the model of its result and, if it streams, of its
    events; ``raw`` operations return the body's bytes as they are;
    ``needs_model`` ones get the provider's default model when none is given."""

    name: str
    result: type[m.Model] | None
    event: type[m.Model] | None = None
    raw: bool = False
    needs_model: bool = False


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("chat.create", m.ChatCompletion, m.ChatCompletionChunk, needs_model=True),
        Operation("completions.create", m.Completion, m.Completion, needs_model=True),
        Operation("embeddings.create", m.EmbeddingList, needs_model=True),
        Operation("moderations.create", m.Moderation),
        Operation("models.list", m.ModelList),
        Operation("models.retrieve", m.ModelInfo),
        Operation("files.list", m.FileList),
        Operation("files.create", m.FileObject),
        Operation("files.retrieve", m.FileObject),
        Operation("files.delete", m.Deleted),
        Operation("files.content", None, raw=True),
        Operation("images.generate", m.ImagesResponse),
        Operation("responses.create", m.Response, m.ResponseStreamEvent, needs_model=True),
        Operation("responses.retrieve", m.Response),
        Operation("responses.delete", m.Deleted),
        Operation("responses.cancel", m.Response),
        Operation("batches.create", m.Batch),
        Operation("batches.retrieve", m.Batch),
        Operation("batches.list", m.BatchList),
        Operation("batches.cancel", m.Batch),
        Operation("batches.delete", m.Deleted),
        Operation("request", None),
    )
}


def get_operation(name: str) -> Operation:
    """The :class:`Operation` called ``name``; a plugin's own operations get a raw one."""
    op = OPERATIONS.get(name)
    return op if op is not None else Operation(name, None)


def with_defaults(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` over the provider's defaults for ``operation``, and its default
    model (if it has one) when the operation needs one and none was given:
    applied by core before ``llmplug_build_request``, for every family. A
    request that still has no model is the family's plugin's to refuse (see
    :func:`require_model`), after wrappers had their say."""
    defaults = provider.defaults_for(operation)
    merged = {**defaults, **params}
    if get_operation(operation).needs_model and merged.get("model") is None:
        model = defaults.get("model") or provider.default_model  # model=None given: the operation's default still
        if model is not None:
            merged["model"] = model
    return merged


def require_model(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> None:
    """Raise ConfigurationError if ``operation`` needs a model and ``params`` has none."""
    if get_operation(operation).needs_model and params.get("model") is None:
        raise ConfigurationError(
            f"provider {provider.name!r} has no default model: pass model=... (or default_model=... to llmplug.new)"
        )


def result_model(name: str) -> Any:
    return get_operation(name).result


def merge_params(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, nested dicts merged key by key (new dicts;
    neither argument is changed)."""
    out = dict(base)
    for key, value in over.items():
        have = out.get(key)
        if isinstance(value, Mapping) and isinstance(have, Mapping):
            out[key] = merge_params(have, value)
        else:
            out[key] = value
    return out
