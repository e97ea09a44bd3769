"""Gemini's OpenAI-compatible endpoint (``/v1beta/openai``), with its quirks.

Chat completions and embeddings are the OpenAI fake's answers reshaped as
Gemini sends them (see :func:`openai_chat_completions`); models are listed in
OpenAI's shape with Gemini's names. Errors here come as a list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..openai_api.chat import chat_completions as _openai_chat_completions
from ..openai_api.common import _pieces
from ..openai_api.embedding import embeddings as _openai_embeddings
from ..server import RecordedRequest, Reply
from .common import ROUTES, _invalid, _json
from .generate import _thinking, fake_thought_signature
from .turns import _missing_signature

if TYPE_CHECKING:
    from .service import GeminiService


def _openai_json(req: RecordedRequest) -> dict[str, Any]:
    if not isinstance(req.json, dict):
        raise _invalid("Invalid JSON payload received.")
    return req.json


def _openai_thinks(entry: dict[str, Any], body: dict[str, Any]) -> bool:
    effort = body.get("reasoning_effort")
    config = {"thinkingConfig": {"thinkingBudget": 0}} if effort == "none" else {}
    return _thinking(entry, config)


def _check_openai_signatures(messages: list[Any]) -> None:
    start = 0
    for i, msg in enumerate(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            start = i
    for i in range(start, len(messages)):
        msg = messages[i]
        calls = msg.get("tool_calls") if isinstance(msg, dict) and msg.get("role") == "assistant" else None
        if calls:
            extra = (calls[0].get("extra_content") or {}).get("google") or {}
            if not extra.get("thought_signature"):
                raise _invalid(_missing_signature((calls[0].get("function") or {}).get("name"), i + 1))


@ROUTES.route("POST", r"/v1beta/openai/chat/completions")
def openai_chat_completions(svc: GeminiService, req: RecordedRequest) -> Reply:
    """The OpenAI fake's answer, reshaped as Gemini's endpoint sends it: no
    ``system_fingerprint``/``refusal``/``annotations``; thinking models put a
    thought signature on the first call (``extra_content.google``); streamed
    calls come whole in one delta with no ``index``, ``id: ""`` and
    ``finish_reason: "stop"``; usage rides on the last chunk. A
    ``response_format`` is answered as OpenAI's fake answers it, without
    OpenAI's checks: ``strict`` flags (there and on tools) are tolerated, not
    enforced, and ``json_object`` needs no "json" in the prompt."""
    body = _openai_json(req)
    model = body.get("model")
    if not isinstance(model, str):
        raise _invalid("model is not specified")
    entry = svc.model(model, "generateContent")
    if entry["name"].startswith("models/gemini-3"):
        _check_openai_signatures(body.get("messages") or [])
    thinks = _openai_thinks(entry, body)
    plain = {k: v for k, v in body.items() if k not in ("stream", "stream_options", "reasoning_effort", "extra_body")}
    reply = _openai_chat_completions(svc, replace(req, json=plain), lenient=True)  # type: ignore[arg-type]
    completion = reply.json
    if not isinstance(completion, dict):
        return reply
    for key in ("system_fingerprint", "service_tier"):
        completion.pop(key, None)
    usage = completion.get("usage") or {}
    completion["usage"] = {k: usage.get(k) for k in ("completion_tokens", "prompt_tokens", "total_tokens")}
    for choice in completion["choices"]:
        message = choice["message"]
        for key in ("refusal", "annotations"):
            message.pop(key, None)
        choice.pop("logprobs", None)
        calls = message.get("tool_calls") or []
        if calls and thinks:
            fn = calls[0]["function"]
            signature = fake_thought_signature(fn["name"], json.loads(fn["arguments"]))
            calls[0]["extra_content"] = {"google": {"thought_signature": signature}}
    if body.get("stream") is True:
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return Reply(events=_openai_stream(completion, include_usage))
    return _json(completion)


def _openai_stream(completion: dict[str, Any], include_usage: bool) -> Iterator[Any]:
    head = {k: completion[k] for k in ("id", "object", "created", "model")}
    head["object"] = "chat.completion.chunk"
    chunks = []
    for choice in completion["choices"]:
        message = choice["message"]
        calls = message.get("tool_calls")
        if calls:
            deltas = [({"role": "assistant", "tool_calls": [{**c, "id": ""} for c in calls]}, "stop")]
        else:
            pieces = _pieces(message.get("content") or "") or [""]
            deltas = [({"content": p, **({"role": "assistant"} if k == 0 else {})}, None) for k, p in enumerate(pieces)]
            deltas[-1] = (deltas[-1][0], choice["finish_reason"])
        for delta, finish in deltas:
            item: dict[str, Any] = {"delta": delta, "index": choice["index"]}
            if finish:
                item["finish_reason"] = finish
            chunks.append({**head, "choices": [item]})
    if include_usage:
        chunks[-1]["usage"] = completion["usage"]
    yield from chunks
    yield "data: [DONE]\n\n"


@ROUTES.route("POST", r"/v1beta/openai/embeddings")
def openai_embeddings(svc: GeminiService, req: RecordedRequest) -> Reply:
    body = _openai_json(req)
    svc.model(str(body.get("model") or ""), "embedContent")
    return _openai_embeddings(svc, req)  # type: ignore[arg-type]


def _openai_model(entry: dict[str, Any]) -> dict[str, Any]:
    return {"id": entry["name"], "object": "model", "created": 0, "owned_by": "google",
            "display_name": entry.get("displayName")}


@ROUTES.route("GET", r"/v1beta/openai/models")
def openai_list_models(svc: GeminiService, req: RecordedRequest) -> Reply:
    return _json({"object": "list", "data": [_openai_model(m) for m in svc.models]})


@ROUTES.route("GET", r"/v1beta/openai/models/(?P<model>.+)")
def openai_get_model(svc: GeminiService, req: RecordedRequest, model: str) -> Reply:
    return _json(_openai_model(svc.model(model)))
