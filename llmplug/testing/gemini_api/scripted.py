"""Scripted candidates: what :meth:`GeminiService.script_reply` queues, and how one is served.

A :class:`ScriptedCandidate` holds the parts, finish reason and message of the
next candidates; :func:`_scripted_candidate` turns one into the candidate
(sent as given) and the usage of the request it answers.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .common import _tokens


@dataclass
class ScriptedCandidate:
    """A candidate queued with :meth:`GeminiService.script_reply`."""

    parts: list[dict[str, Any]]
    finish_reason: str
    finish_message: str | None
    remaining: int | None


def _scripted_candidate(
    scripted: ScriptedCandidate, meta: dict[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The scripted candidate, and the request's usage with its words as output."""
    candidate: dict[str, Any] = {"finishReason": scripted.finish_reason, "index": 0}
    if scripted.parts:
        candidate["content"] = {"parts": copy.deepcopy(scripted.parts), "role": "model"}
    if scripted.finish_message is not None:
        candidate["finishMessage"] = scripted.finish_message
    out = _tokens([{"parts": scripted.parts}])
    prompt = meta["promptTokenCount"]
    usage = {"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out,
             "promptTokensDetails": meta["promptTokensDetails"]}
    return [candidate], usage
