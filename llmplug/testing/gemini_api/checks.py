"""Body checks of the fake Gemini API: Google's JSON parser, from the v1beta protos.

:data:`MESSAGES` and :data:`ENUMS` describe the request messages;
:func:`parse_body` checks a body against one as Google's parser does (unknown
field names in camelCase or snake_case, wrongly typed scalars, enums, bytes),
collects every violation into one 400 with Google's wording, and returns the
body with camelCase names.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from ..server import RecordedRequest
from .common import GeminiError, _invalid, _show


_PROTO = "type.googleapis.com/google.ai.generativelanguage.v1beta."

#: Request messages by name: field (camelCase) -> type. ``[`` marks a repeated
#: field, ``{`` a map from strings; ``any`` a message not checked deeper;
#: ``struct`` a JSON object; ``value`` any JSON.
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
        "name": "string", "description": "string", "parameters": "Schema", "parametersJsonSchema": "value",
        "response": "Schema", "responseJsonSchema": "value", "behavior": "enum:FunctionDeclaration.Behavior",
    },
    # The OpenAPI subset of ``responseSchema`` and ``parameters``: no ``$ref``, ``$defs``,
    # ``additionalProperties`` or type lists (``responseJsonSchema`` takes those).
    "Schema": {
        "type": "enum:Type", "format": "string", "title": "string", "description": "string", "nullable": "bool",
        "enum": "[string", "items": "Schema", "maxItems": "int", "minItems": "int", "properties": "{Schema",
        "required": "[string", "minProperties": "int", "maxProperties": "int", "minimum": "float",
        "maximum": "float", "minLength": "int", "maxLength": "int", "pattern": "string", "example": "value",
        "anyOf": "[Schema", "propertyOrdering": "[string", "default": "value",
    },
    "ToolConfig": {"functionCallingConfig": "FunctionCallingConfig", "retrievalConfig": "any"},
    "FunctionCallingConfig": {"mode": "enum:FunctionCallingConfig.Mode", "allowedFunctionNames": "[string"},
    "SafetySetting": {"category": "enum:HarmCategory", "threshold": "enum:SafetySetting.HarmBlockThreshold"},
    "GenerationConfig": {
        "candidateCount": "int", "stopSequences": "[string", "maxOutputTokens": "int", "temperature": "float",
        "topP": "float", "topK": "int", "seed": "int", "responseMimeType": "string", "responseSchema": "Schema",
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
    # Batch mode: ``models/{m}:batchGenerateContent`` (output-only fields are accepted and ignored).
    "BatchGenerateContentRequest": {"batch": "GenerateContentBatch"},
    "GenerateContentBatch": {
        "model": "string", "name": "string", "displayName": "string", "inputConfig": "InputConfig", "output": "any",
        "createTime": "string", "endTime": "string", "updateTime": "string", "batchStats": "any", "state": "string",
        "priority": "int",
    },
    "InputConfig": {"fileName": "string", "requests": "InlinedRequests"},
    "InlinedRequests": {"requests": "[InlinedRequest"},
    "InlinedRequest": {"request": "GenerateContentRequest", "metadata": "struct"},
    # Files API: the body of a resumable upload's ``start``.
    "CreateFileRequest": {"file": "File"},
    "File": {
        "name": "string", "displayName": "string", "mimeType": "string", "sizeBytes": "int", "createTime": "string",
        "updateTime": "string", "expirationTime": "string", "sha256Hash": "string", "uri": "string",
        "downloadUri": "string", "state": "string", "source": "string", "videoMetadata": "any", "error": "any",
    },
}

ENUMS: dict[str, tuple[str, ...]] = {
    "Type": ("TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"),
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

#: Enums whose names Gemini takes in any case (``"string"`` as well as ``"STRING"``).
_CASELESS = {"Type"}

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
            kind = fields[field]
            if isinstance(item, list) and kind[0] not in "[{" and kind != "value":
                where = f" at '{path}'" if path else ""
                text = (f'Invalid JSON payload received. Unknown name "{name}"{where}: '
                        "Proto field is not repeating, cannot start list.")
                self.fail(path or name, text)
                continue
            sub = f"{path}.{_snake(field)}" if path else _snake(field)
            out[field] = self.field(item, kind, sub)
        return out

    def field(self, value: Any, kind: str, path: str) -> Any:
        if value is None:
            return None
        if kind.startswith("["):
            if not isinstance(value, list):
                value = [value]  # Google's parser takes a single value for a repeated field
            return [self.field(item, kind[1:], f"{path}[{i}]") for i, item in enumerate(value)]
        if kind.startswith("{"):
            if not isinstance(value, dict):
                self.fail(path, f"Invalid value at '{path}' (message), {_show(value)}")
                return value
            entries = enumerate(value.items())  # Google names a map entry by its position
            return {key: self.field(item, kind[1:], f"{path}[{i}].value") for i, (key, item) in entries}
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
            ok = number or (isinstance(value, str) and (value.upper() if name in _CASELESS else value) in ENUMS[name])
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
