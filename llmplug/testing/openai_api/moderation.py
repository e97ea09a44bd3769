"""``POST /v1/moderations``, and the moderation rule the chat endpoints refuse by.

A word starting with one of :data:`MODERATION_TRIGGERS` flags its categories;
scores are deterministic. Chat Completions and the Responses API refuse a last
user message that this rule flags, with :data:`REFUSAL`.
"""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING, Any

from ..server import RecordedRequest, Reply
from .common import ROUTES, _hex, _text_of
from .validation import _invalid_type, _missing, _model_call

if TYPE_CHECKING:
    from .service import OpenAIService


#: The text of the fake's refusals (OpenAI's own wording).
REFUSAL = "I'm sorry, but I can't assist with that request."

MODERATION_CATEGORIES = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
]

_IMAGE_CATEGORIES = {"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "violence", "violence/graphic"}

#: Word prefixes that flag a moderation input, and the categories they flag.
MODERATION_TRIGGERS: dict[str, tuple[str, ...]] = {
    "kill": ("violence", "harassment/threatening"),
    "murder": ("violence",),
    "shoot": ("violence",),
    "stab": ("violence",),
    "gore": ("violence/graphic",),
    "hate": ("hate", "harassment"),
    "idiot": ("harassment",),
    "stupid": ("harassment",),
    "suicide": ("self-harm", "self-harm/intent"),
    "bomb": ("illicit/violent", "violence"),
    "shoplift": ("illicit",),
    "steal": ("illicit",),
    "porn": ("sexual",),
}


def _flagged(text: str) -> set[str]:
    """The moderation categories ``text`` trips: those of each word starting with a trigger."""
    hit: set[str] = set()
    for word in re.findall(r"[a-z]+", text.lower()):
        for prefix, categories in MODERATION_TRIGGERS.items():
            if word.startswith(prefix):
                hit.update(categories)
    return hit


def _moderate(text: str, has_image: bool) -> dict[str, Any]:
    hit = _flagged(text)
    categories = {c: c in hit for c in MODERATION_CATEGORIES}
    scores = {}
    for c in MODERATION_CATEGORIES:
        h = zlib.crc32(f"{c}\0{text}".encode())
        scores[c] = 0.9 + (h % 997) / 10000.0 if c in hit else (h % 997 + 1) * 1e-6
    applied = {c: ["text", "image"] if has_image and c in _IMAGE_CATEGORIES else ["text"] for c in MODERATION_CATEGORIES}
    return {"flagged": bool(hit), "categories": categories, "category_scores": scores, "category_applied_input_types": applied}


@ROUTES.route("POST", r"/v1/moderations")
def moderations(svc: OpenAIService, req: RecordedRequest) -> Reply:
    body, model = _model_call(req, "omni-moderation-latest")
    if "input" not in body or body["input"] is None:
        raise _missing("input")
    value = body["input"]
    if isinstance(value, str):
        results = [_moderate(value, False)]
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        results = [_moderate(v, False) for v in value]
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        has_image = any(v.get("type") == "image_url" for v in value)
        results = [_moderate(_text_of(value), has_image)]
    else:
        raise _invalid_type("input", "a string or array", value)
    return Reply(json={"id": "modr-" + _hex(32), "model": model, "results": results})
