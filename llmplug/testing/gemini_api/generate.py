"""``:generateContent``, ``:streamGenerateContent`` and ``:countTokens``.

Builds the candidates of a checked request by the fake's rules (echoed text,
function calls by name, thinking and thought signatures, candidate count,
stop sequences, token limits, JSON or enum answers from a response schema, see
:func:`_answer_shape`) or takes a scripted candidate, then serves them whole
or cut into stream events (SSE with ``alt=sse``, else one JSON array).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..openai_api.common import _first_json_object, _mentions, _pieces, _words
from ..schemas import schema_instance
from ..server import RecordedRequest, Reply
from .checks import parse_body
from .common import ROUTES, JSON_TYPE, _invalid, _json, _part_text, _show, _tokens
from .models import _THINKING
from .scripted import _scripted_candidate
from .turns import _check_contents, _check_parts, _declared

if TYPE_CHECKING:
    from .service import GeminiService


def fake_thought_signature(name: str, args: Any) -> str:
    """The base64 thought signature the fake puts on a call of ``name`` with ``args``."""
    digest = hashlib.sha256(("sig\0" + name + "\0" + json.dumps(args, sort_keys=True)).encode()).digest()
    return base64.b64encode(b"fake-thought:" + digest[:18]).decode("ascii")


def _response_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(17)).decode("ascii").rstrip("=")


_MIME_TYPES = ("text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum")


def _tool_result(response: Any) -> str:
    if isinstance(response, dict) and len(response) == 1:
        (key, value), = response.items()
        if key in ("output", "result") and isinstance(value, str):
            return value
    return json.dumps(response, ensure_ascii=False)


def _answer_shape(config: dict[str, Any]) -> Callable[[str], str] | None:
    """How the reply text becomes the answer under the response MIME type and
    schema (None: the text itself), or the 400 Gemini gives: both schemas set, a
    schema without a JSON or enum MIME type, ``text/x.enum`` without enum values."""
    mime = config.get("responseMimeType")
    if mime is not None and mime not in _MIME_TYPES:
        raise _invalid(
            "* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `text/plain`, "
            "`application/json`, `application/xml`, `application/yaml` and `text/x.enum`.\n",
            "generation_config.response_mime_type",
        )
    api_schema, json_schema = config.get("responseSchema"), config.get("responseJsonSchema")
    if api_schema is not None and json_schema is not None:
        raise _invalid(
            "* GenerateContentRequest.generation_config.response_json_schema: response_schema and "
            "response_json_schema cannot both be set.\n",
            "generation_config.response_json_schema",
        )
    schema = json_schema if json_schema is not None else api_schema
    field = "response_json_schema" if json_schema is not None else "response_schema"
    if schema is not None and mime not in ("application/json", "text/x.enum"):
        raise _invalid(
            f"* GenerateContentRequest.generation_config.{field}: {field} is only supported when "
            "response_mime_type is `application/json` or `text/x.enum`.\n",
            f"generation_config.{field}",
        )
    if mime == "text/x.enum" and schema is not None:
        values = schema.get("enum") if isinstance(schema, dict) else None
        if not values:
            raise _invalid(
                f"* GenerateContentRequest.generation_config.{field}: response_mime_type `text/x.enum` needs a "
                "schema with `enum` values.\n",
                f"generation_config.{field}",
            )
        return lambda text: str(values[0])
    if mime == "application/json":
        return lambda text: json.dumps(schema_instance(schema, text) if schema else {"text": text}, ensure_ascii=False)
    return None


def _thinking(entry: dict[str, Any], config: dict[str, Any]) -> bool:
    """Whether the model thinks for this request (or the 400 Gemini gives)."""
    mode = _THINKING.get(entry["name"][len("models/"):])
    thinking = config.get("thinkingConfig") or {}
    budget = thinking.get("thinkingBudget")
    budget = int(budget) if budget is not None else None
    if mode is None:
        if thinking:
            raise _invalid("Thinking is not enabled for " + entry["name"])
        return False
    if budget == 0:
        if mode == "always":
            raise _invalid("Budget 0 is invalid. This model only works in thinking mode.")
        return False
    return mode != "optional" or budget is not None


def _candidates(body: dict[str, Any], entry: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(candidates, usageMetadata) of a checked GenerateContentRequest."""
    contents = body["contents"]
    config = body.get("generationConfig") or {}
    shape = _answer_shape(config)
    names = _declared(body)
    calling = (body.get("toolConfig") or {}).get("functionCallingConfig") or {}
    mode = calling.get("mode") or "AUTO"
    allowed = calling.get("allowedFunctionNames") or []
    if allowed and mode not in ("ANY", "VALIDATED"):
        raise _invalid(
            "* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: "
            "allowed_function_names is only allowed when function calling mode is ANY.\n",
            "tool_config.function_calling_config.allowed_function_names",
        )
    thinks = _thinking(entry, config)
    last = contents[-1]
    users = [t for t in contents if (t.get("role") or "user") == "user" and _part_text(t["parts"])]
    user_text = _part_text(users[-1]["parts"]) if users else None
    responses = [p["functionResponse"] for p in last["parts"] if "functionResponse" in p]
    calls: list[str] = []
    args: dict[str, Any] = {}
    if responses:
        text = "Tool result: " + _tool_result(responses[-1].get("response"))
    else:
        text = f"You said: {user_text}" if user_text is not None else "Hello! How can I help you today?"
        if (last.get("role") or "user") == "user" and names and mode != "NONE":
            said = _part_text(last["parts"])
            pool = [n for n in names if not allowed or n in allowed]
            calls = [n for n in pool if _mentions(n, said)]
            if not calls and mode in ("ANY", "VALIDATED") and pool:
                calls = pool[:1]
            args = json.loads(_first_json_object(said))
    n = int(config.get("candidateCount") or 1)
    limit = config.get("maxOutputTokens")
    stops = [s for s in config.get("stopSequences") or [] if s]
    thought = f"**Answering the user**\n\nThe user said: {user_text or ''}"
    show_thoughts = thinks and bool((config.get("thinkingConfig") or {}).get("includeThoughts"))
    candidates = []
    out_tokens = 0
    thought_tokens = 0
    for i in range(n):
        parts: list[dict[str, Any]] = []
        if show_thoughts:
            parts.append({"text": thought, "thought": True})
        if thinks:
            thought_tokens += 8 + _words(thought)
        finish = "STOP"
        if calls:
            for k, name in enumerate(calls):
                part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
                if thinks and k == 0:
                    part["thoughtSignature"] = fake_thought_signature(name, args)
                parts.append(part)
                out_tokens += _words(name + " " + json.dumps(args))
        else:
            reply = text + (f" (choice {i})" if i else "")
            if shape is not None:
                reply = shape(reply)
            cut = min((reply.find(s) for s in stops if s in reply), default=-1)
            if cut >= 0:
                reply = reply[:cut]
            pieces = _pieces(reply)
            if limit is not None and len(pieces) > int(limit):
                reply, finish = "".join(pieces[: int(limit)]), "MAX_TOKENS"
            out_tokens += _words(reply)
            if reply:
                parts.append({"text": reply})
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "finishReason": finish, "index": i}
        candidates.append(candidate)
    system = body.get("systemInstruction")
    prompt = _tokens(contents) + (_tokens([system]) if system else 0)
    meta: dict[str, Any] = {"promptTokenCount": prompt, "candidatesTokenCount": out_tokens,
                            "totalTokenCount": prompt + out_tokens + thought_tokens,
                            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}]}
    if thought_tokens:
        meta["thoughtsTokenCount"] = thought_tokens
    return candidates, meta


def _generate(svc: GeminiService, req: RecordedRequest, model: str) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    body = parse_body(req, "GenerateContentRequest")
    entry = svc.model(model, "generateContent")
    _check_contents(body.get("contents") or [], "GenerateContentRequest", entry)
    system = body.get("systemInstruction")
    if system:
        _check_parts(system.get("parts") or [], "GenerateContentRequest.system_instruction")
    candidates, meta = _candidates(body, entry)
    scripted = svc.take_scripted()
    if scripted is not None:
        candidates, meta = _scripted_candidate(scripted, meta)
    return candidates, meta, entry["name"][len("models/"):]


@ROUTES.route("POST", r"/v1beta/models/(?P<model>[^/:]+):generateContent")
def generate_content(svc: GeminiService, req: RecordedRequest, model: str) -> Reply:
    candidates, meta, version = _generate(svc, req, model)
    return _json({"candidates": candidates, "usageMetadata": meta, "modelVersion": version,
                  "responseId": _response_id()})


def _stream_steps(candidate: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The parts of one candidate as the stream delivers them: a thought, text
    a few words at a time (a signature on the last piece; an empty text part
    whole), consecutive calls at once, any other part whole."""
    steps: list[list[dict[str, Any]]] = []
    for part in (candidate.get("content") or {}).get("parts") or []:
        pieces = _pieces(part["text"]) if isinstance(part.get("text"), str) and not part.get("thought") else []
        if pieces:
            plain = {key: value for key, value in part.items() if key != "thoughtSignature"}
            cut = [{**plain, "text": "".join(pieces[k:k + 4])} for k in range(0, len(pieces), 4)]
            if part.get("thoughtSignature"):
                cut[-1]["thoughtSignature"] = part["thoughtSignature"]
            steps.extend([piece] for piece in cut)
        elif "functionCall" in part and steps and "functionCall" in steps[-1][0]:
            steps[-1].append(part)
        else:
            steps.append([part])
    return steps or [[]]


def _stream_events(candidates: list[dict[str, Any]], meta: dict[str, Any], version: str) -> list[dict[str, Any]]:
    response_id = _response_id()
    plans = [_stream_steps(c) for c in candidates]
    partial = {"promptTokenCount": meta["promptTokenCount"], "totalTokenCount": meta["promptTokenCount"],
               "promptTokensDetails": meta["promptTokensDetails"]}
    events = []
    total = max(len(p) for p in plans)
    for step in range(total):
        chunk = []
        for candidate, plan in zip(candidates, plans):
            if step >= len(plan):
                continue
            item: dict[str, Any] = {"index": candidate["index"]}
            if plan[step]:
                item["content"] = {"parts": plan[step], "role": "model"}
            if step == len(plan) - 1:
                item["finishReason"] = candidate["finishReason"]
                if "finishMessage" in candidate:
                    item["finishMessage"] = candidate["finishMessage"]
            chunk.append(item)
        usage = meta if step == total - 1 else partial
        events.append({"candidates": chunk, "usageMetadata": usage, "modelVersion": version, "responseId": response_id})
    return events


@ROUTES.route("POST", r"/v1beta/models/(?P<model>[^/:]+):streamGenerateContent")
def stream_generate_content(svc: GeminiService, req: RecordedRequest, model: str) -> Reply:
    candidates, meta, version = _generate(svc, req, model)
    events = _stream_events(candidates, meta, version)
    alt = (req.query.get("alt") or ["json"])[-1]
    if alt == "sse":
        lines = ["data: " + json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\r\n\r\n" for e in events]
        return Reply(events=lines, content_type="text/event-stream")
    if alt not in ("json", "proto"):
        raise _invalid(f"Invalid value at 'alt' (TYPE_ENUM), {_show(alt)}")
    return Reply(body="[" + ",\r\n".join(json.dumps(e, ensure_ascii=False, indent=2) for e in events) + "]",
                 content_type=JSON_TYPE)


@ROUTES.route("POST", r"/v1beta/models/(?P<model>[^/:]+):countTokens")
def count_tokens(svc: GeminiService, req: RecordedRequest, model: str) -> Reply:
    body = parse_body(req, "CountTokensRequest")
    svc.model(model, "countTokens")
    inner = body.get("generateContentRequest")
    if inner:
        contents = inner.get("contents") or []
        _check_contents(contents, "CountTokensRequest.generate_content_request")
        system = inner.get("systemInstruction")
        total = _tokens(contents) + (_tokens([system]) if system else 0)
    else:
        contents = body.get("contents") or []
        _check_contents(contents, "CountTokensRequest")
        total = _tokens(contents)
    return _json({"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]})
