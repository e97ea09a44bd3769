"""``GET /v1/models`` and ``GET /v1/models/{model}``: the fake's model list (:data:`MODELS`).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from ..server import RecordedRequest, Reply
from .validation import _not_found

if TYPE_CHECKING:
    from .service import OpenAIService


MODELS: list[dict[str, Any]] = [
    {"id": "gpt-4.1", "object": "model", "created": 1744316542, "owned_by": "system"},
    {"id": "gpt-4.1-mini", "object": "model", "created": 1744318173, "owned_by": "system"},
    {"id": "gpt-4.1-nano", "object": "model", "created": 1744321707, "owned_by": "system"},
    {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
    {"id": "o4-mini", "object": "model", "created": 1744225351, "owned_by": "system"},
    {"id": "gpt-3.5-turbo-instruct", "object": "model", "created": 1692901427, "owned_by": "system"},
    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"},
    {"id": "text-embedding-3-large", "object": "model", "created": 1705953180, "owned_by": "system"},
    {"id": "omni-moderation-latest", "object": "model", "created": 1731689265, "owned_by": "system"},
    {"id": "gpt-image-1", "object": "model", "created": 1745517030, "owned_by": "system"},
    {"id": "dall-e-3", "object": "model", "created": 1698785189, "owned_by": "system"},
]


def list_models(svc: OpenAIService, req: RecordedRequest) -> Reply:
    return Reply(json={"object": "list", "data": copy.deepcopy(MODELS)})


def get_model(svc: OpenAIService, req: RecordedRequest, model: str) -> Reply:
    for entry in MODELS:
        if entry["id"] == model:
            return Reply(json=dict(entry))
    raise _not_found(
        f"The model `{model}` does not exist or you do not have access to it.", param="model", code="model_not_found"
    )
