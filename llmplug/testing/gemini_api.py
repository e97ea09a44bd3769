"""Default behaviour of the fake Gemini API (everything under ``/v1beta``).

Native endpoints: ``models/{m}:generateContent``, ``:streamGenerateContent``
(``?alt=sse``: Server-Sent Events with ``\\r\\n`` line ends and no ``[DONE]``,
each event a whole ``GenerateContentResponse`` carrying only the new parts;
without ``alt``: one JSON array), ``:embedContent``, ``:batchEmbedContents``,
``:countTokens``, ``GET models`` (``pageSize``/``pageToken``) and
``GET models/{m}``. Gemini's OpenAI-compatible endpoint is served under
``/v1beta/openai`` with its quirks (see :func:`openai_chat_completions`).

Bodies are checked as Google's JSON parser checks them: unknown field names
(camelCase or snake_case) and wrongly typed values are 400 ``INVALID_ARGUMENT``
with Google's wording; so are Gemini's own rules on turns (roles, empty
parts, a function response turn right after its call turn, as many responses
as calls) and, for ``gemini-3*`` models, thought signatures on the calls of
the current turn. Errors are ``{"error": {"code", "message", "status"}}``
(a list of those on the OpenAI-compatible endpoint). With ``FakeAPI(api_key=...)``
the key must come as ``x-goog-api-key`` (or ``?key=``).

Deterministic rules, the same as the OpenAI fake's:

- the reply is ``"You said: <text of the last user turn>"``; after a
  ``functionResponse`` it is ``"Tool result: <response>"`` (``output`` or
  ``result`` if that is the only key, else the response's JSON);
- a declared function whose name appears in the last user turn's text is
  called (all that appear, in declaration order) with the first JSON object
  literal of that text as ``args``; ``functionCallingConfig`` modes
  ``NONE``/``ANY`` and ``allowedFunctionNames`` are honoured;
- thinking models report ``thoughtsTokenCount``, put a ``thoughtSignature`` on
  their first function call, and add a thought part when
  ``thinkingConfig.includeThoughts`` is true;
- tokens are whitespace-separated words; ``maxOutputTokens`` keeps that many
  (``finishReason: MAX_TOKENS``); ``stopSequences`` cut the text;
  ``candidateCount`` gives candidates ``i > 0`` the suffix ``" (choice i)"``;
- ``responseMimeType: application/json`` answers JSON: an instance of
  ``responseJsonSchema``/``responseSchema`` whose strings are the reply, else
  ``{"text": reply}``;
- embeddings are the OpenAI fake's vectors (:func:`embedding_vector`).

Scripted answers: :meth:`GeminiService.script_reply` (reach the service of a
``FakeAPI`` with :func:`gemini_service`) queues the parts of the next
candidate, any parts Gemini sends (thoughts with ``thoughtSignature``, a
signature on a final empty text part, ``executableCode`` /
``codeExecutionResult``, server-side ``toolCall`` / ``toolResponse``...) with
its ``finishReason`` and ``finishMessage``. The request is checked and recorded
as usual, and the candidate is served whole by ``generateContent`` or cut into
events by ``streamGenerateContent`` (text a few words at a time, a part's
signature on its last piece, every other part whole).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import os
import re
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from .openai_api.chat import chat_completions as _openai_chat_completions
from .openai_api.common import _first_json_object, _mentions, _pieces, _words
from .openai_api.embedding import embedding_vector, embeddings as _openai_embeddings
from .server import APIError, RecordedRequest, Reply, RouteTable, Service, register_service

__all__ = ["GeminiError", "GeminiService", "MODELS", "ROUTES", "ScriptedCandidate", "fake_thought_signature",
           "gemini_service"]

#: The Gemini route table: (method, path regex) -> handler(service, request, **groups).
ROUTES = RouteTable()

JSON_TYPE = "application/json; charset=UTF-8"
OPENAI_PREFIX = "/v1beta/openai"

#: google.rpc status names by HTTP status.
STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_CANNED: dict[int, str] = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: (
        "You exceeded your current quota, please check your plan and billing details. For more information on "
        "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
    ),
    500: (
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting"
    ),
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}
_NOT_FOUND_HTML = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
    "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n  <p>The requested URL <code>{path}</code> was not found "
    "on this server.  <ins>That\u2019s all we know.</ins>\n"
)

_GEN_METHODS = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"]


def _model(
    name: str, display: str, version: str, methods: list[str], inp: int, out: int, **extra: Any
) -> dict[str, Any]:
    return {
        "name": f"models/{name}",
        "version": version,
        "displayName": display,
        "description": f"{display} (fake)",
        "inputTokenLimit": inp,
        "outputTokenLimit": out,
        "supportedGenerationMethods": methods,
        **extra,
    }


_CHAT = {"temperature": 1, "topP": 0.95, "topK": 64, "maxTemperature": 2}
#: The models the fake knows. ``thinking``: thinks by default ("always": cannot be
#: turned off; "optional": off unless asked); ``signatures``: requires thought
#: signatures on the current turn's calls (Gemini 3).
MODELS: list[dict[str, Any]] = [
    _model("gemini-2.5-flash", "Gemini 2.5 Flash", "001", _GEN_METHODS, 1048576, 65536, thinking=True, **_CHAT),
    _model("gemini-2.5-pro", "Gemini 2.5 Pro", "2.5", _GEN_METHODS, 1048576, 65536, thinking=True, **_CHAT),
    _model("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", "001", _GEN_METHODS, 1048576, 65536,
           thinking=True, **_CHAT),
    _model("gemini-2.0-flash", "Gemini 2.0 Flash", "2.0", _GEN_METHODS, 1048576, 8192, **_CHAT),
    _model("gemini-3-pro-preview", "Gemini 3 Pro Preview", "3-pro-preview-11-2025", _GEN_METHODS, 1048576, 65536,
           thinking=True, **_CHAT),
    _model("gemini-embedding-001", "Gemini Embedding 001", "001",
           ["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"], 2048, 1),
    _model("text-embedding-004", "Text Embedding 004", "004", ["embedContent"], 2048, 1),
]
_THINKING = {"gemini-2.5-flash": "default", "gemini-2.5-pro": "always", "gemini-2.5-flash-lite": "optional",
             "gemini-3-pro-preview": "always"}
_EMBED_DIMS = {"gemini-embedding-001": 3072, "text-embedding-004": 768}


def fake_thought_signature(name: str, args: Any) -> str:
    """The base64 thought signature the fake puts on a call of ``name`` with ``args``."""
    digest = hashlib.sha256(("sig\0" + name + "\0" + json.dumps(args, sort_keys=True)).encode()).digest()
    return base64.b64encode(b"fake-thought:" + digest[:18]).decode("ascii")


def _response_id() -> str:
    return base64.urlsafe_b64encode(os.urandom(17)).decode("ascii").rstrip("=")


class GeminiError(APIError):
    """A Gemini-shaped error: status name and ``details`` as Google sends them."""

    def __init__(self, status: int, message: str, *, status_name: str | None = None, details: list[Any] | None = None):
        super().__init__(status, message, type=status_name)
        self.details = details


def _invalid(message: str, field: str | None = None) -> GeminiError:
    details = None
    if field is not None:
        details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": field, "description": message}]}]
    return GeminiError(400, message, details=details)


# --------------------------------------------------------------------------
# the service
# --------------------------------------------------------------------------


@dataclass
class ScriptedCandidate:
    """A candidate queued with :meth:`GeminiService.script_reply`."""

    parts: list[dict[str, Any]]
    finish_reason: str
    finish_message: str | None
    remaining: int | None


class GeminiService(Service):
    """Gemini's API under ``/v1beta``: native endpoints and the OpenAI-compatible one."""

    prefix = "/v1beta"
    routes = ROUTES

    def __init__(self) -> None:
        #: The models served (a copy of :data:`MODELS`; add or remove per server).
        self.models: list[dict[str, Any]] = copy.deepcopy(MODELS)
        self._scripted: deque[ScriptedCandidate] = deque()
        self._lock = threading.Lock()

    def reset(self) -> None:
        self.models = copy.deepcopy(MODELS)
        with self._lock:
            self._scripted.clear()

    # -- scripted candidates ------------------------------------------------
    def script_reply(
        self, parts: list[dict[str, Any]], *, finish_reason: str = "STOP", finish_message: str | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` native generate calls (``None``: all of them) with one
        candidate made of ``parts`` (sent as given; ``[]`` gives a candidate with no
        content), ``finish_reason`` and ``finish_message``. FIFO; requests are still
        checked, so a bad body gets its 400 and leaves the script in place."""
        if not isinstance(parts, list) or not all(isinstance(part, dict) for part in parts):
            raise TypeError("parts must be a list of Gemini part dicts, such as [{'text': 'Hi'}]")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None (forever)")
        with self._lock:
            self._scripted.append(ScriptedCandidate(copy.deepcopy(parts), finish_reason, finish_message, times))

    def take_scripted(self) -> ScriptedCandidate | None:
        """The next scripted candidate (counted as played), or ``None``."""
        with self._lock:
            if not self._scripted:
                return None
            entry = self._scripted[0]
            if entry.remaining is not None:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    self._scripted.popleft()
            return entry

    # -- shapes ----------------------------------------------------------
    def gemini_error(
        self, status: int, message: str, *, status_name: str | None = None,
        details: list[Any] | None = None, listed: bool = False,
    ) -> Reply:
        """``{"error": {code, message, status[, details]}}``; ``listed`` wraps it in a
        list, as the OpenAI-compatible endpoint does."""
        error: dict[str, Any] = {"code": status, "message": message,
                                 "status": status_name or STATUS_NAMES.get(status, "UNKNOWN")}
        if details:
            error["details"] = details
        body: Any = {"error": error}
        return Reply(status, json=[body] if listed else body, content_type=JSON_TYPE)

    def error(self, status: int, message: str, *, type: str | None = None, param: str | None = None,
              code: str | None = None) -> Reply:
        return self.gemini_error(status, message, status_name=type)

    def status_error(self, status: int) -> Reply:
        message = _CANNED.get(status) or ("Internal error encountered." if status >= 500 else f"HTTP {status}")
        return self.gemini_error(status, message)

    def not_found(self, request: RecordedRequest) -> Reply:
        return Reply(404, body=_NOT_FOUND_HTML.format(path=request.path), content_type="text/html; charset=UTF-8")

    def internal_error(self) -> Reply:
        return self.gemini_error(500, "Internal error encountered.")

    def response_headers(self, request: RecordedRequest, elapsed: float) -> list[tuple[str, str]]:
        return [
            ("Vary", "Origin, X-Origin, Referer"),
            ("Server", "scaffolding on HTTPServer2"),
            ("Server-Timing", f"gfet4t7; dur={max(1, round(elapsed * 1000))}"),
            ("X-XSS-Protection", "0"),
            ("X-Frame-Options", "SAMEORIGIN"),
            ("X-Content-Type-Options", "nosniff"),
        ]

    # -- auth and routing -------------------------------------------------
    def authenticate(self, request: RecordedRequest, api_key: str) -> Reply | None:
        listed = _is_openai(request.path)
        if listed:
            auth = request.headers.get("authorization", "")
            scheme, _, key = auth.strip().partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                return self.gemini_error(401, "Missing or invalid Authorization header.", listed=True)
            key = key.strip()
        else:
            key = request.headers.get("x-goog-api-key") or (request.query.get("key") or [""])[-1]
            if not key:
                return self.gemini_error(
                    403,
                    "Method doesn't allow unregistered callers (callers without established identity). "
                    "Please use API Key or other form of API consumer identity to call this API.",
                )
        if key != api_key:
            details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]
            message = "API key not valid. Please pass a valid API key."
            return self.gemini_error(400, message, details=details, listed=listed)
        return None

    def dispatch(self, request: RecordedRequest) -> Reply:
        found = self.routes.match(request.method, request.path)
        if found is None:
            return self.not_found(request)
        handler, params = found
        listed = _is_openai(request.path)
        try:
            return handler(self, request, **params)
        except GeminiError as exc:
            return self.gemini_error(exc.status, exc.message, status_name=exc.type, details=exc.details, listed=listed)
        except APIError as exc:
            return self.gemini_error(exc.status, exc.message, listed=listed)

    # -- models -----------------------------------------------------------
    def model(self, name: str, method: str | None = None) -> dict[str, Any]:
        """The model entry called ``name``, or the 404 Gemini gives."""
        name = name[len("models/"):] if name.startswith("models/") else name
        for entry in self.models:
            if entry["name"] == f"models/{name}" and (method is None or method in entry["supportedGenerationMethods"]):
                return entry
        what = f"supported for {method}" if method else "available"
        raise GeminiError(
            404,
            f"models/{name} is not found for API version v1beta, or is not {what}. "
            "Call ListModels to see the list of available models and their supported methods.",
        )


register_service(GeminiService)


def gemini_service(api: Any) -> GeminiService:
    """The :class:`GeminiService` a ``FakeAPI`` runs (to script its replies)."""
    for service in api.services:
        if isinstance(service, GeminiService):
            return service
    raise LookupError("this FakeAPI serves no Gemini API: create it with the default services")


def _is_openai(path: str) -> bool:
    return path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/")


def _json(data: Any) -> Reply:
    return Reply(json=data, content_type=JSON_TYPE)


# --------------------------------------------------------------------------
# body checks: Google's JSON parser, from the v1beta protos
# --------------------------------------------------------------------------

_PROTO = "type.googleapis.com/google.ai.generativelanguage.v1beta."
#: Request messages by name: field (camelCase) -> type. ``[`` marks a repeated
#: field; ``any`` a message not checked deeper; ``struct`` a JSON object;
#: ``value`` any JSON.
MESSAGES: dict[str, dict[str, str]] = {
    "GenerateContentRequest": {
        "model": "string", "systemInstruction": "Content", "contents": "[Content", "tools": "[Tool",
        "toolConfig": "ToolConfig", "safetySettings": "[SafetySetting", "generationConfig": "GenerationConfig",
        "cachedContent": "string",
    },
    "Content": {"parts": "[Part", "role": "string"},
    "Part": {
        "text": "string", "inlineData": "Blob", "functionCall": "FunctionCall", "functionResponse": "FunctionResponse",
        "fileData": "FileData", "executableCode": "any", "codeExecutionResult": "any", "videoMetadata": "any",
        "thought": "bool", "thoughtSignature": "bytes", "partMetadata": "struct",
        "toolCall": "any", "toolResponse": "any",  # server-side tools (Gemini 3)
    },
    "Blob": {"mimeType": "string", "data": "bytes"},
    "FileData": {"mimeType": "string", "fileUri": "string"},
    "FunctionCall": {"id": "string", "name": "string", "args": "struct"},
    "FunctionResponse": {
        "id": "string", "name": "string", "response": "struct", "parts": "[any", "willContinue": "bool",
        "scheduling": "enum:FunctionResponse.Scheduling",
    },
    "Tool": {
        "functionDeclarations": "[FunctionDeclaration", "googleSearchRetrieval": "any", "codeExecution": "any",
        "googleSearch": "any", "computerUse": "any", "urlContext": "any", "fileSearch": "any", "googleMaps": "any",
    },
    "FunctionDeclaration": {
        "name": "string", "description": "string", "parameters": "any", "parametersJsonSchema": "value",
        "response": "any", "responseJsonSchema": "value", "behavior": "enum:FunctionDeclaration.Behavior",
    },
    "ToolConfig": {"functionCallingConfig": "FunctionCallingConfig", "retrievalConfig": "any"},
    "FunctionCallingConfig": {"mode": "enum:FunctionCallingConfig.Mode", "allowedFunctionNames": "[string"},
    "SafetySetting": {"category": "enum:HarmCategory", "threshold": "enum:SafetySetting.HarmBlockThreshold"},
    "GenerationConfig": {
        "candidateCount": "int", "stopSequences": "[string", "maxOutputTokens": "int", "temperature": "float",
        "topP": "float", "topK": "int", "seed": "int", "responseMimeType": "string", "responseSchema": "any",
        "responseJsonSchema": "value", "responseJsonSchemaOrdered": "value", "presencePenalty": "float",
        "frequencyPenalty": "float", "responseLogprobs": "bool", "logprobs": "int",
        "enableEnhancedCivicAnswers": "bool", "responseModalities": "[enum:GenerationConfig.Modality",
        "speechConfig": "any", "thinkingConfig": "ThinkingConfig", "imageConfig": "any",
        "mediaResolution": "enum:GenerationConfig.MediaResolution",
    },
    "ThinkingConfig": {"includeThoughts": "bool", "thinkingBudget": "int"},
    "EmbedContentRequest": {
        "model": "string", "content": "Content", "taskType": "enum:TaskType", "title": "string",
        "outputDimensionality": "int",
    },
    "BatchEmbedContentsRequest": {"model": "string", "requests": "[EmbedContentRequest"},
    "CountTokensRequest": {
        "model": "string", "contents": "[Content", "generateContentRequest": "GenerateContentRequest",
    },
}
ENUMS: dict[str, tuple[str, ...]] = {
    "FunctionResponse.Scheduling": ("SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"),
    "FunctionDeclaration.Behavior": ("UNSPECIFIED", "BLOCKING", "NON_BLOCKING"),
    "FunctionCallingConfig.Mode": ("MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"),
    "HarmCategory": (
        "HARM_CATEGORY_UNSPECIFIED", "HARM_CATEGORY_DEROGATORY", "HARM_CATEGORY_TOXICITY", "HARM_CATEGORY_VIOLENCE",
        "HARM_CATEGORY_SEXUAL", "HARM_CATEGORY_MEDICAL", "HARM_CATEGORY_DANGEROUS", "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH", "HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_CIVIC_INTEGRITY",
    ),
    "SafetySetting.HarmBlockThreshold": (
        "HARM_BLOCK_THRESHOLD_UNSPECIFIED", "BLOCK_LOW_AND_ABOVE", "BLOCK_MEDIUM_AND_ABOVE", "BLOCK_ONLY_HIGH",
        "BLOCK_NONE", "OFF",
    ),
    "GenerationConfig.Modality": ("MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"),
    "GenerationConfig.MediaResolution": (
        "MEDIA_RESOLUTION_UNSPECIFIED", "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_MEDIUM", "MEDIA_RESOLUTION_HIGH",
    ),
    "TaskType": (
        "TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION",
        "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY",
    ),
}
_SCALAR_NAMES = {"string": "TYPE_STRING", "bool": "TYPE_BOOL", "int": "TYPE_INT32", "float": "TYPE_FLOAT",
                 "bytes": "TYPE_BYTES"}
_DATA_FIELDS = ("text", "inlineData", "functionCall", "functionResponse", "fileData", "executableCode",
                "codeExecutionResult", "toolCall", "toolResponse")


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


_LOOKUP: dict[str, dict[str, str]] = {
    message: {**{_snake(f): f for f in fields}, **{f: f for f in fields}} for message, fields in MESSAGES.items()
}


class _Checker:
    """Parses a JSON body against :data:`MESSAGES` like Google's parser: collects
    every violation, and returns a copy with camelCase field names."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def message(self, value: Any, message: str, path: str) -> Any:
        if not isinstance(value, dict):
            self.fail(path, f"Invalid value at '{path}' ({_PROTO}{message}), {_show(value)}")
            return value
        out = {}
        fields = MESSAGES[message]
        for name, item in value.items():
            field = _LOOKUP[message].get(name)
            if field is None:
                where = f" at '{path}'" if path else ""
                text = f'Invalid JSON payload received. Unknown name "{name}"{where}: Cannot find field.'
                self.fail(path or name, text)
                continue
            sub = f"{path}.{_snake(field)}" if path else _snake(field)
            out[field] = self.field(item, fields[field], sub)
        return out

    def field(self, value: Any, kind: str, path: str) -> Any:
        if value is None:
            return None
        if kind.startswith("["):
            if not isinstance(value, list):
                value = [value]  # Google's parser takes a single value for a repeated field
            return [self.field(item, kind[1:], f"{path}[{i}]") for i, item in enumerate(value)]
        if kind in MESSAGES:
            return self.message(value, kind, path)
        if kind == "any":
            if not isinstance(value, dict):
                self.fail(path, f"Invalid value at '{path}' (message), {_show(value)}")
            return value
        if kind == "struct":
            if not isinstance(value, dict):
                struct = "type.googleapis.com/google.protobuf.Struct"
                self.fail(path, f"Invalid value at '{path}' ({struct}), {_show(value)}")
            return value
        if kind == "value":
            return value
        if kind.startswith("enum:"):
            name = kind[5:]
            number = isinstance(value, int) and not isinstance(value, bool)
            ok = number or (isinstance(value, str) and value in ENUMS[name])
            if not ok:
                self.fail(path, f"Invalid value at '{path}' ({_PROTO}{name}), {_show(value)}")
            return value
        if not _scalar_ok(value, kind):
            self.fail(path, f"Invalid value at '{path}' ({_SCALAR_NAMES[kind]}), {_show(value)}")
        return value


def _scalar_ok(value: Any, kind: str) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        if isinstance(value, bool):
            return False
        if isinstance(value, float):
            return value.is_integer()
        if isinstance(value, str):
            return re.fullmatch(r"-?\d+", value) is not None
        return isinstance(value, int)
    if kind == "float":
        if isinstance(value, bool):
            return False
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return False
            return True
        return isinstance(value, (int, float))
    if kind == "bytes":
        return isinstance(value, str) and _b64ok(value)
    return True


def _b64ok(text: str) -> bool:
    padded = text + "=" * (-len(text) % 4)
    try:
        base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)[:200]


def parse_body(req: RecordedRequest, message: str) -> dict[str, Any]:
    """The request's body checked against ``message``, with camelCase names; or the 400."""
    raw = req.body.strip()
    if not raw:
        return {}
    if req.json is None and raw != b"null":
        text = req.body.decode("utf-8", "replace")
        raise _invalid(f"Invalid JSON payload received. Unexpected token.\n{text[:40]}\n^")
    if not isinstance(req.json, dict):
        raise _invalid(f"Invalid JSON payload received. Expected an object, got {_show(req.json)}.")
    checker = _Checker()
    body = checker.message(req.json, message, "")
    if checker.errors:
        details = [{"@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": path, "description": text} for path, text in checker.errors]}]
        raise GeminiError(400, "\n".join(text for _, text in checker.errors), details=details)
    return body


# --------------------------------------------------------------------------
# Gemini's rules on turns
# --------------------------------------------------------------------------


def _check_contents(contents: list[Any], where: str, entry: dict[str, Any] | None = None) -> None:
    if not contents:
        raise _invalid(f"* {where}.contents: contents is not specified\n", f"{where}.contents")
    for i, turn in enumerate(contents):
        role = turn.get("role") or "user"
        if role not in ("user", "model"):
            raise _invalid("Please use a valid role: user, model.")
        _check_parts(turn.get("parts") or [], f"{where}.contents[{i}]")
    for i, turn in enumerate(contents):
        responses = [p for p in turn["parts"] if "functionResponse" in p]
        if not responses:
            continue
        previous = contents[i - 1] if i else None
        calls = [p for p in previous["parts"] if "functionCall" in p] if previous is not None else []
        if not calls or previous.get("role") != "model":
            raise _invalid(
                "Please ensure that function response turn comes immediately after a function call turn."
            )
        if len(responses) != len(calls):
            raise _invalid(
                "Please ensure that the number of function response parts is equal to the number of function "
                "call parts of the function call turn."
            )
    if entry is not None and entry["name"].startswith("models/gemini-3"):
        _check_signatures(contents)


def _check_parts(parts: list[Any], where: str) -> None:
    if not parts:
        raise _invalid(f"* {where}.parts: contents.parts must not be empty.\n", f"{where}.parts")
    for j, part in enumerate(parts):
        set_fields = [f for f in _DATA_FIELDS if part.get(f) not in (None, "")]
        if not set_fields and part.get("text") == "" and part.get("thoughtSignature"):
            set_fields = ["text"]  # Gemini 3 ends replies with a signed empty text part and takes it back
        if not set_fields:
            raise _invalid(
                f"* {where}.parts[{j}].data: required oneof field 'data' must have one initialized field\n",
                f"{where}.parts[{j}].data",
            )
        if len(set_fields) > 1:
            raise _invalid(
                f"Invalid JSON payload received. Oneof field 'data' is already set. Cannot set '{set_fields[1]}'",
                f"{where}.parts[{j}]",
            )


def _current_turn_start(contents: list[dict[str, Any]]) -> int:
    for i in range(len(contents) - 1, -1, -1):
        turn = contents[i]
        if (turn.get("role") or "user") == "user" and any("functionResponse" not in p for p in turn["parts"]):
            return i
    return 0


def _check_signatures(contents: list[dict[str, Any]]) -> None:
    """Gemini 3: the first call of each model turn of the current turn needs its signature."""
    for i in range(_current_turn_start(contents), len(contents)):
        turn = contents[i]
        calls = [p for p in turn["parts"] if "functionCall" in p]
        if turn.get("role") == "model" and calls and not calls[0].get("thoughtSignature"):
            raise _invalid(_missing_signature(calls[0]["functionCall"].get("name"), i + 1))


def _missing_signature(name: Any, position: int) -> str:
    return (
        "Function call is missing a thought_signature in functionCall parts. This is required for tools to work "
        "correctly, and missing thought_signature may lead to degraded model performance. Additional data, "
        f"function call `default_api:{name}` , position {position}. Please refer to "
        "https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
    )


_FUNCTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")


def _declared(body: dict[str, Any]) -> list[str]:
    names = []
    for t, tool in enumerate(body.get("tools") or []):
        for d, decl in enumerate(tool.get("functionDeclarations") or []):
            name = decl.get("name")
            if not isinstance(name, str) or not _FUNCTION_NAME.fullmatch(name):
                field = f"tools[{t}].function_declarations[{d}].name"
                raise _invalid(
                    f"* GenerateContentRequest.{field}: Invalid function name. Must start with a letter or an "
                    "underscore. Must be alphameric (a-z, A-Z, 0-9), underscores (_), dots (.), colons (:), or "
                    "dashes (-), with a maximum length of 64.\n",
                    field,
                )
            names.append(name)
    return names


# --------------------------------------------------------------------------
# generateContent
# --------------------------------------------------------------------------

_MIME_TYPES = ("text/plain", "application/json", "application/xml", "application/yaml", "text/x.enum")


def _part_text(parts: list[dict[str, Any]]) -> str:
    return " ".join(p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought"))


def _tokens(contents: list[dict[str, Any]]) -> int:
    count = 0
    for turn in contents:
        for part in turn.get("parts") or []:
            if isinstance(part.get("text"), str):
                count += _words(part["text"])
            for key in ("functionCall", "functionResponse"):
                if key in part:
                    count += _words(json.dumps(part[key]))
            if "inlineData" in part or "fileData" in part:
                count += 258  # what Gemini counts for an image
    return count


def _tool_result(response: Any) -> str:
    if isinstance(response, dict) and len(response) == 1:
        (key, value), = response.items()
        if key in ("output", "result") and isinstance(value, str):
            return value
    return json.dumps(response, ensure_ascii=False)


def _schema_instance(schema: Any, text: str) -> Any:
    """A value of JSON schema ``schema`` whose strings are ``text``."""
    if not isinstance(schema, dict):
        return text
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    kind = str(kind).lower() if kind else ("object" if "properties" in schema else "string")
    if schema.get("enum"):
        return schema["enum"][0]
    if kind == "object":
        props = schema.get("properties") or {}
        return {name: _schema_instance(sub, text) for name, sub in props.items()}
    if kind == "array":
        return [_schema_instance(schema.get("items"), text)]
    if kind in ("integer", "number"):
        return _words(text)
    if kind == "boolean":
        return True
    return text


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
    mime = config.get("responseMimeType")
    if mime is not None and mime not in _MIME_TYPES:
        raise _invalid(
            "* GenerateContentRequest.generation_config.response_mime_type: allowed mimetypes are `text/plain`, "
            "`application/json`, `application/xml`, `application/yaml` and `text/x.enum`.\n",
            "generation_config.response_mime_type",
        )
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
            if mime == "application/json":
                schema = config.get("responseJsonSchema") or config.get("responseSchema")
                reply = json.dumps(_schema_instance(schema, reply) if schema else {"text": reply}, ensure_ascii=False)
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


# --------------------------------------------------------------------------
# embeddings
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------


def _public(entry: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(entry)


@ROUTES.route("GET", r"/v1beta/models")
def list_models(svc: GeminiService, req: RecordedRequest) -> Reply:
    query = {k: v[-1] for k, v in req.query.items()}
    size_text = query.get("pageSize") or query.get("page_size") or "50"
    if not re.fullmatch(r"-?\d+", size_text):
        raise _invalid(f"Invalid value at 'page_size' (TYPE_INT32), {_show(size_text)}")
    size = int(size_text)
    size = 50 if size <= 0 else min(size, 1000)
    token = query.get("pageToken") or query.get("page_token") or ""
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().removeprefix("offset:"))
        except ValueError:
            raise _invalid("Invalid page token.") from None
    page = svc.models[start:start + size]
    body: dict[str, Any] = {"models": [_public(m) for m in page]}
    if start + size < len(svc.models):
        body["nextPageToken"] = base64.urlsafe_b64encode(f"offset:{start + size}".encode()).decode().rstrip("=")
    return _json(body)


@ROUTES.route("GET", r"/v1beta/models/(?P<model>[^/:]+)")
def get_model(svc: GeminiService, req: RecordedRequest, model: str) -> Reply:
    return _json(_public(svc.model(model)))


# --------------------------------------------------------------------------
# the OpenAI-compatible endpoint, with Gemini's quirks
# --------------------------------------------------------------------------


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
    ``finish_reason: "stop"``; usage rides on the last chunk."""
    body = _openai_json(req)
    model = body.get("model")
    if not isinstance(model, str):
        raise _invalid("model is not specified")
    entry = svc.model(model, "generateContent")
    if entry["name"].startswith("models/gemini-3"):
        _check_openai_signatures(body.get("messages") or [])
    thinks = _openai_thinks(entry, body)
    plain = {k: v for k, v in body.items() if k not in ("stream", "stream_options", "reasoning_effort", "extra_body")}
    reply = _openai_chat_completions(svc, replace(req, json=plain))  # type: ignore[arg-type]
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

