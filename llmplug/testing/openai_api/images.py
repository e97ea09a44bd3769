"""``POST /v1/images/generations``: every image is the same tiny PNG (:data:`PNG_BYTES`).

Images come as base64 or as a URL on the fake itself (``/v1/_fake/images/...``,
served by :func:`image_file`); ``gpt-image`` models report usage and output
settings, ``dall-e-3`` a revised prompt.
"""

from __future__ import annotations

import base64
import struct
import time
import zlib
from typing import TYPE_CHECKING, Any

from ..server import RecordedRequest, Reply
from .common import ROUTES, _rand, _words
from .validation import _body, _int, _invalid_type, _invalid_value, _missing, _model

if TYPE_CHECKING:
    from .service import OpenAIService


def _make_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


#: The tiny valid PNG every generated image is (8x8, one colour).
PNG_BYTES = _make_png(8, 8, (16, 163, 127))

PNG_B64 = base64.b64encode(PNG_BYTES).decode("ascii")


@ROUTES.route("POST", r"/v1/images/generations")
def image_generations(svc: OpenAIService, req: RecordedRequest) -> Reply:
    body = _body(req)
    prompt = body.get("prompt")
    if prompt is None:
        raise _missing("prompt")
    if not isinstance(prompt, str):
        raise _invalid_type("prompt", "a string", prompt)
    model = _model(body, "dall-e-2")
    n = _int(body, "n", 1, 1, 10) or 1
    fmt = body.get("response_format") or "b64_json"
    if fmt not in ("url", "b64_json"):
        raise _invalid_value("response_format", fmt, ["url", "b64_json"])
    data = []
    for _ in range(n):
        item: dict[str, Any] = (
            {"url": f"{svc.server_url}/v1/_fake/images/img-{_rand(24)}.png"} if fmt == "url" else {"b64_json": PNG_B64}
        )
        if model == "dall-e-3":
            item["revised_prompt"] = prompt
        data.append(item)
    result: dict[str, Any] = {"created": int(time.time()), "data": data}
    if model.startswith("gpt-image"):
        tokens = _words(prompt)
        result.update(
            {
                "background": body.get("background") if body.get("background") in ("transparent", "opaque") else "opaque",
                "output_format": body.get("output_format") or "png",
                "size": body.get("size") if body.get("size") not in (None, "auto") else "1024x1024",
                "quality": body.get("quality") if body.get("quality") in ("low", "medium", "high") else "medium",
                "usage": {
                    "input_tokens": tokens,
                    "output_tokens": 272 * n,
                    "total_tokens": tokens + 272 * n,
                    "input_tokens_details": {"text_tokens": tokens, "image_tokens": 0},
                },
            }
        )
    return Reply(json=result)


@ROUTES.route("GET", r"/v1/_fake/images/(?P<name>img-\w+)\.png")
def image_file(svc: OpenAIService, req: RecordedRequest, name: str) -> Reply:
    """Where ``response_format: "url"`` images point (not an OpenAI path)."""
    return Reply(body=PNG_BYTES, content_type="image/png")
