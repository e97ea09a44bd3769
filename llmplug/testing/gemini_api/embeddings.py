"""``:embedContent`` and ``:batchEmbedContents``: the OpenAI fake's vectors, Gemini-shaped.

Each content's text gets :func:`~llmplug.testing.openai_api.embedding_vector`
at the model's dimensions (or ``outputDimensionality``); a batch checks that
every request names the batch's model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..openai_api.embedding import embedding_vector
from ..server import RecordedRequest, Reply
from .checks import parse_body
from .common import ROUTES, _invalid, _json, _part_text
from .models import _EMBED_DIMS
from .turns import _check_parts

if TYPE_CHECKING:
    from .service import GeminiService


def _embed(entry: dict[str, Any], request: dict[str, Any], where: str) -> dict[str, Any]:
    content = request.get("content")
    if not content:
        raise _invalid(f"* {where}.content: content is not specified\n", f"{where}.content")
    _check_parts(content.get("parts") or [], f"{where}.content")
    dims = request.get("outputDimensionality")
    default = _EMBED_DIMS[entry["name"][len("models/"):]]
    if dims is not None and not 1 <= int(dims) <= default:
        field = f"{where}.output_dimensionality"
        raise _invalid(f"* {field}: must be between 1 and {default}\n", field)
    return {"values": embedding_vector(_part_text(content["parts"]), int(dims or default))}


@ROUTES.route("POST", r"/v1beta/models/(?P<model>[^/:]+):embedContent")
def embed_content(svc: GeminiService, req: RecordedRequest, model: str) -> Reply:
    body = parse_body(req, "EmbedContentRequest")
    entry = svc.model(model, "embedContent")
    return _json({"embedding": _embed(entry, body, "EmbedContentRequest")})


@ROUTES.route("POST", r"/v1beta/models/(?P<model>[^/:]+):batchEmbedContents")
def batch_embed_contents(svc: GeminiService, req: RecordedRequest, model: str) -> Reply:
    body = parse_body(req, "BatchEmbedContentsRequest")
    entry = svc.model(model, "embedContent")
    requests = body.get("requests") or []
    if not requests:
        raise _invalid("* BatchEmbedContentsRequest.requests: requests is not specified\n", "requests")
    if len(requests) > 100:
        raise _invalid("* BatchEmbedContentsRequest.requests: at most 100 requests can be in one batch\n", "requests")
    out = []
    for i, request in enumerate(requests):
        where = f"BatchEmbedContentsRequest.requests[{i}]"
        if request.get("model") != entry["name"]:
            raise _invalid(
                f"* {where}.model: the model of each request must be the batch's model, {entry['name']}"
                f" (got {request.get('model')!r})\n",
                f"requests[{i}].model",
            )
        out.append(_embed(entry, request, where))
    return _json({"embeddings": out})
