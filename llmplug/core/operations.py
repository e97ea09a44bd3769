"""The operations llmplug knows, and the core model each one returns."""

from __future__ import annotations

from typing import Any

import attrs

from . import models as m

__all__ = ["get_operation", "Operation", "OPERATIONS", "result_model"]


@attrs.frozen
class Operation:
    """An API operation: the model of its result and, if it streams, of its
    events; ``raw`` operations return the body's bytes as they are."""

    name: str
    result: type[m.Model] | None
    event: type[m.Model] | None = None
    raw: bool = False


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("chat.create", m.ChatCompletion, m.ChatCompletionChunk),
        Operation("completions.create", m.Completion, m.Completion),
        Operation("embeddings.create", m.EmbeddingList),
        Operation("moderations.create", m.Moderation),
        Operation("models.list", m.ModelList),
        Operation("models.retrieve", m.ModelInfo),
        Operation("files.list", m.FileList),
        Operation("files.create", m.FileObject),
        Operation("files.retrieve", m.FileObject),
        Operation("files.delete", m.Deleted),
        Operation("files.content", None, raw=True),
        Operation("images.generate", m.ImagesResponse),
        Operation("responses.create", m.Response, m.ResponseStreamEvent),
        Operation("responses.retrieve", m.Response),
        Operation("responses.delete", m.Deleted),
        Operation("responses.cancel", m.Response),
        Operation("request", None),
    )
}


def get_operation(name: str) -> Operation:
    """The :class:`Operation` called ``name``; a plugin's own operations get a raw one."""
    op = OPERATIONS.get(name)
    return op if op is not None else Operation(name, None)


def result_model(name: str) -> Any:
    return get_operation(name).result
