"""``GET /v1/models`` and ``GET /v1/models/{model}``: the fake's model list (:data:`MODELS`).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..server import RecordedRequest, Reply
from .common import ROUTES
from .validation import _not_found

if TYPE_CHECKING:
    from .service import OpenAIService


#: The models served, as ``GET /v1/models`` lists them (``models.json`` beside this module).
MODELS: list[dict[str, Any]] = json.loads((Path(__file__).parent / "models.json").read_text(encoding="utf-8"))


@ROUTES.route("GET", r"/v1/models")
def list_models(svc: OpenAIService, req: RecordedRequest) -> Reply:
    return Reply(json={"object": "list", "data": copy.deepcopy(MODELS)})


@ROUTES.route("GET", r"/v1/models/(?P<model>.+)")
def get_model(svc: OpenAIService, req: RecordedRequest, model: str) -> Reply:
    for entry in MODELS:
        if entry["id"] == model:
            return Reply(json=dict(entry))
    raise _not_found(
        f"The model `{model}` does not exist or you do not have access to it.", param="model", code="model_not_found"
    )
