"""Response mapping for ``gemini``: a ``GenerateContentResponse``, embeddings and
model lists become the core models, their ``.raw`` Gemini's original JSON.
Finish reasons follow one table (:func:`finish_reason`: every block reason is
``"content_filter"``, reasons with no OpenAI name are kept in lower case, Gemini's
own on ``native_finish_reason``); a blocked prompt gives one refusal choice;
``functionCall`` parts without an id get a generated one; parts that text and tool
calls cannot say all about are kept in ``extra_content.google`` (:func:`google_extras`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from llmplug.plugin import (
    ChatCompletion,
    ChatCompletionChunk,
    Embedding,
    EmbeddingList,
    ModelInfo,
    ModelList,
    Response,
    structure,
    Usage,
)

from .messages import GENERATED_ID_PREFIX
from .request import model_id

T = TypeVar("T")

# ---------------------------------------------------------------- response mapping tables

#: Every ``finishReason`` (candidates) and ``blockReason`` (prompts) Google documents
#: for an answer that was blocked, on the Gemini API and on Vertex AI: each is
#: ``"content_filter"``. The table is in docs/gemini.md.
BLOCK_REASONS = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY",
     "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "MODEL_ARMOR", "JAILBREAK"}
)
#: Finish reasons with an OpenAI name; any other reason that is not a block is kept in lower case.
_OPENAI_FINISH = {"STOP": "stop", "MAX_TOKENS": "length"}
#: "No reason given": no finish reason yet.
_UNSPECIFIED = frozenset({"FINISH_REASON_UNSPECIFIED", "BLOCK_REASON_UNSPECIFIED", "BLOCKED_REASON_UNSPECIFIED"})


def finish_reason(reason: Any, has_calls: bool) -> str | None:
    """Gemini's ``finishReason`` in OpenAI's words: ``STOP`` is ``"stop"`` (``"tool_calls"``
    after a function call), ``MAX_TOKENS`` ``"length"``, every block reason
    (:data:`BLOCK_REASONS`) ``"content_filter"``; reasons OpenAI has no name for
    (``MALFORMED_FUNCTION_CALL``, ``OTHER``...) are kept, in lower case."""
    if not reason or reason in _UNSPECIFIED:
        return None
    if reason == "STOP" and has_calls:
        return "tool_calls"
    if reason in BLOCK_REASONS:
        return "content_filter"
    return _OPENAI_FINISH.get(reason) or str(reason).lower()


def usage(meta: Any) -> dict[str, Any] | None:
    """``usageMetadata`` as an OpenAI usage dict: completion = candidates + thoughts;
    tool-use prompt tokens count as prompt, so prompt + completion = total."""
    if not isinstance(meta, Mapping):
        return None
    prompt = (meta.get("promptTokenCount") or 0) + (meta.get("toolUsePromptTokenCount") or 0)
    thoughts = meta.get("thoughtsTokenCount") or 0
    completion = (meta.get("candidatesTokenCount") or 0) + thoughts
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": meta.get("totalTokenCount", prompt + completion),
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    }
    if "cachedContentTokenCount" in meta:
        out["prompt_tokens_details"] = {"cached_tokens": meta["cachedContentTokenCount"]}
    return out


class _CallIds:
    """Numbers a response's function calls and makes up ids for those without one."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def next(self, response_id: Any, candidate: int, given: Any) -> tuple[int, str]:
        n = self.counts.get(candidate, 0)
        self.counts[candidate] = n + 1
        if isinstance(given, str) and given:
            return n, given
        digest = hashlib.sha1(f"{response_id or ''}/{candidate}".encode()).hexdigest()[:8]
        return n, f"{GENERATED_ID_PREFIX}{digest}_{n}"


def _read_parts(
    parts: Any, response_id: Any, candidate: int, ids: _CallIds
) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    """(texts, thoughts, tool calls with their ``index``) of a candidate's parts."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Mapping):
            continue
        call = part.get("functionCall")
        if isinstance(call, Mapping):
            index, call_id = ids.next(response_id, candidate, call.get("id"))
            tool: dict[str, Any] = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {
                    "name": call.get("name"),
                    "arguments": json.dumps(call.get("args") or {}, ensure_ascii=False),
                },
            }
            if part.get("thoughtSignature"):
                tool["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
            calls.append(tool)
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
    return texts, thoughts, calls


#: Keys of the parts the message's ``content`` and ``tool_calls`` say all about.
_PLAIN_TEXT = frozenset({"text"})
_CALL = frozenset({"functionCall", "thoughtSignature"})


def _needs_keeping(part: Any) -> bool:
    """Whether ``part`` says more than the message's text and tool calls do
    (a thought, a signature on text, code execution, a server-side tool...)."""
    if not isinstance(part, Mapping):
        return False
    keys = part.keys()
    if isinstance(part.get("text"), str) and keys <= _PLAIN_TEXT:
        return False
    return not (isinstance(part.get("functionCall"), Mapping) and keys <= _CALL)


def code_executions(parts: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each ``executableCode`` part with the ``codeExecutionResult`` that follows it, as
    ``{"language", "code", "outcome", "output"}`` (``None`` for what is missing)."""
    runs: list[dict[str, Any]] = []
    for part in parts:
        code, result = part.get("executableCode"), part.get("codeExecutionResult")
        if isinstance(code, Mapping):
            runs.append({"language": code.get("language"), "code": code.get("code"), "outcome": None, "output": None})
        elif isinstance(result, Mapping):
            if not runs or runs[-1]["outcome"] is not None or runs[-1]["output"] is not None:
                runs.append({"language": None, "code": None, "outcome": None, "output": None})
            runs[-1].update(outcome=result.get("outcome"), output=result.get("output"))
    return runs


def google_extras(parts: Any) -> dict[str, Any] | None:
    """What a message keeps in ``extra_content.google`` for a candidate's ``parts``:
    ``parts`` (all of them, as sent, to be sent back) when one says more than the
    text and tool calls, and ``code_executions`` when code ran; else ``None``."""
    if not isinstance(parts, list) or not any(_needs_keeping(part) for part in parts):
        return None
    kept = [copy.deepcopy(dict(part)) for part in parts if isinstance(part, Mapping)]
    extras: dict[str, Any] = {"parts": kept}
    runs = code_executions(kept)
    if runs:
        extras["code_executions"] = runs
    return extras


def _logprobs(candidate: Mapping[str, Any]) -> dict[str, Any] | None:
    result = candidate.get("logprobsResult")
    if not isinstance(result, Mapping):
        return None
    tops = result.get("topCandidates") or []
    content = []
    for i, chosen in enumerate(result.get("chosenCandidates") or []):
        top = tops[i].get("candidates", []) if i < len(tops) and isinstance(tops[i], Mapping) else []
        content.append(
            {
                "token": chosen.get("token"),
                "logprob": chosen.get("logProbability"),
                "bytes": None,
                "top_logprobs": [
                    {"token": t.get("token"), "logprob": t.get("logProbability"), "bytes": None} for t in top
                ],
            }
        )
    return {"content": content}


def _blocked_choice(data: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """The one choice (``key`` is "message" or "delta") that stands for a prompt blocked by
    ``promptFeedback.blockReason``: ``"content_filter"``, whatever the reason; the reason
    is in ``message.refusal`` and ``native_finish_reason``, Google's message in ``finish_message``."""
    feedback = data.get("promptFeedback")
    if not isinstance(feedback, Mapping) or not feedback.get("blockReason"):
        return None
    reason = feedback["blockReason"]
    detail = feedback.get("blockReasonMessage")
    refusal = f"the prompt was blocked by Gemini ({reason})" + (f": {detail}" if detail else "")
    body: dict[str, Any] = {"role": "assistant", "refusal": refusal}
    if key == "message":
        body["content"] = None
    choice: dict[str, Any] = {"index": 0, key: body, "finish_reason": "content_filter", "logprobs": None,
                              "native_finish_reason": reason}
    if detail:
        choice["finish_message"] = detail
    return choice


def _candidates(data: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    found = data.get("candidates")
    return [(c.get("index", pos), c) for pos, c in enumerate(found or []) if isinstance(c, Mapping)]


def completion_from_gemini(data: Any) -> ChatCompletion:
    """A ``GenerateContentResponse`` as a :class:`ChatCompletion` (``.raw`` is ``data``)."""
    if not isinstance(data, Mapping):
        return structure(data, ChatCompletion)
    ids = _CallIds()
    choices = []
    for index, cand in _candidates(data):
        parts = (cand.get("content") or {}).get("parts")
        texts, thoughts, calls = _read_parts(parts, data.get("responseId"), index, ids)
        text = "".join(texts)
        message: dict[str, Any] = {"role": "assistant", "content": text if text or (texts and not calls) else None}
        if thoughts:
            message["reasoning"] = "".join(thoughts)
        if calls:
            message["tool_calls"] = [{k: v for k, v in call.items() if k != "index"} for call in calls]
        extras = google_extras(parts)
        if extras:
            message["extra_content"] = {"google": extras}
        choices.append(_choice(cand, index, "message", message, bool(calls)))
    blocked = None if choices else _blocked_choice(data, "message")
    if blocked:
        choices.append(blocked)
    return _openai_shaped(data, choices, ChatCompletion)


def _choice(cand: Mapping[str, Any], index: int, key: str, body: dict[str, Any], called: bool) -> dict[str, Any]:
    """An OpenAI-shaped choice (``key`` is "message" or "delta") for a Gemini candidate."""
    choice: dict[str, Any] = {
        "index": index,
        key: body,
        "finish_reason": finish_reason(cand.get("finishReason"), called),
        "logprobs": _logprobs(cand),
    }
    if cand.get("finishReason"):
        choice["native_finish_reason"] = cand["finishReason"]
    if cand.get("finishMessage"):
        choice["finish_message"] = cand["finishMessage"]
    return choice


def _openai_shaped(data: Mapping[str, Any], choices: list[dict[str, Any]], cls: type[T]) -> T:
    """A completion or chunk model from Gemini's ``data``, its ``.raw`` the original JSON."""
    shaped = {
        "id": data.get("responseId"),
        "object": "chat.completion.chunk" if cls is ChatCompletionChunk else "chat.completion",
        "created": None,
        "model": data.get("modelVersion"),
        "choices": choices,
        "usage": usage(data.get("usageMetadata")),
    }
    result = structure(shaped, cls)
    result.raw = data  # type: ignore[attr-defined]
    result.shaped = shaped  # type: ignore[attr-defined]  # dict access: the same shape as OpenAI's
    return result


def embeddings_from_gemini(data: Any, model: str | None) -> EmbeddingList:
    """``{embedding: {values}}`` or ``{embeddings: [{values}]}`` as an :class:`EmbeddingList`."""
    if not isinstance(data, Mapping):
        return structure(data, EmbeddingList)
    found = data.get("embeddings")
    if not isinstance(found, list):
        found = [data.get("embedding")] if "embedding" in data else []
    items = [
        Embedding(index=i, embedding=list(item.get("values") or []), raw=item)
        for i, item in enumerate(found)
        if isinstance(item, Mapping)
    ]
    counts = usage(data.get("usageMetadata"))
    return EmbeddingList(
        data=items,
        model=model,
        usage=structure(counts, Usage) if counts is not None else None,
        raw=data,
        shaped={
            "object": "list",
            "data": [{"object": "embedding", "index": e.index, "embedding": e.embedding} for e in items],
            "model": model,
            "usage": counts,
        },
    )


def model_from_gemini(entry: Any) -> ModelInfo:
    """A Gemini ``Model`` as :class:`ModelInfo` (``id`` without ``models/``, raw kept)."""
    if not isinstance(entry, Mapping):
        return structure(entry, ModelInfo)
    info = ModelInfo(
        id=model_id(str(entry.get("name") or entry.get("baseModelId") or "")),
        owned_by="google",
        display_name=entry.get("displayName"),
        raw=entry,
    )
    # OpenAI's keys over Gemini's own ("name", "inputTokenLimit"... stay readable too).
    info.shaped = {**entry, "id": info.id, "object": "model", "created": None, "owned_by": "google"}
    return info


def models_from_gemini(data: Any) -> ModelList:
    if not isinstance(data, Mapping):
        return structure(data, ModelList)
    models = [model_from_gemini(entry) for entry in data.get("models") or []]
    return ModelList(data=models, raw=data, shaped={"object": "list", "data": [m.shaped for m in models]})


def parse_gemini_response(operation: str, data: Any, response: Response) -> Any:
    """Normalise a 2xx body of the ``gemini`` family."""
    if operation == "chat.create":
        return completion_from_gemini(data)
    if operation == "embeddings.create":
        return embeddings_from_gemini(data, response.request.extensions.get("gemini_model"))
    if operation == "models.list":
        return models_from_gemini(data)
    if operation == "models.retrieve":
        return model_from_gemini(data)
    return data
