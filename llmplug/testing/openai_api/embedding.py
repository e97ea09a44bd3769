"""``POST /v1/embeddings``: deterministic embedding vectors.

:func:`embedding_vector` is the unit vector (float32 values) the fake gives a
text, from SHAKE-256; the endpoint validates ``input`` as OpenAI does and
answers floats or base64. The Gemini fake serves the same vectors.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import TYPE_CHECKING, Any

from ..server import APIError, RecordedRequest, Reply
from .common import ROUTES, _words
from .validation import _int, _invalid_value, _missing, _model_call

if TYPE_CHECKING:
    from .service import OpenAIService


def _embedding_inputs(body: dict[str, Any]) -> list[tuple[str, int]]:
    """(text to hash, token count) per input."""
    if "input" not in body or body["input"] is None:
        raise _missing("input")
    value = body["input"]
    invalid = APIError(
        400,
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        type="invalid_request_error",
        param="input",
    )
    if isinstance(value, str):
        if not value:
            raise invalid
        return [(value, _words(value))]
    if not isinstance(value, list) or not value:
        raise invalid
    if all(isinstance(t, int) and not isinstance(t, bool) for t in value):
        return [("tokens:" + ",".join(map(str, value)), len(value))]
    out = []
    for item in value:
        if isinstance(item, str) and item:
            out.append((item, _words(item)))
        elif isinstance(item, list) and item and all(isinstance(t, int) and not isinstance(t, bool) for t in item):
            out.append(("tokens:" + ",".join(map(str, item)), len(item)))
        else:
            raise invalid
    return out


def embedding_vector(text: str, dimensions: int = 8) -> list[float]:
    """The fake's deterministic unit vector for ``text`` (float32 values)."""
    raw = struct.unpack(f"<{dimensions}I", hashlib.shake_256(text.encode("utf-8")).digest(4 * dimensions))
    values = [x / 2147483648.0 - 1.0 for x in raw]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return list(struct.unpack(f"<{dimensions}f", struct.pack(f"<{dimensions}f", *(v / norm for v in values))))


@ROUTES.route("POST", r"/v1/embeddings")
def embeddings(svc: OpenAIService, req: RecordedRequest) -> Reply:
    body, model = _model_call(req)
    inputs = _embedding_inputs(body)
    dims = _int(body, "dimensions", 8, 1, 3072) or 8
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise _invalid_value("encoding_format", fmt, ["float", "base64"])
    data = []
    for index, (text, _) in enumerate(inputs):
        vector = embedding_vector(text, dims)
        encoded: Any = vector
        if fmt == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(count for _, count in inputs)
    return Reply(
        json={"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    )
