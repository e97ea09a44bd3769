"""Default behaviour of the fake OpenAI API (everything under ``/v1``).

Deterministic rules, so tests can predict every answer:

- Chat/Responses text is ``"You said: <last user text>"``; after a tool
  result it is ``"Tool result: <content>"``. Choice ``i > 0`` of ``n`` gets
  the suffix ``" (choice i)"``.
- A function tool whose name appears (as a whole word) in the last message,
  when that message is the user's, is called with the first JSON object
  literal of that message as arguments (else ``"{}"``).
- A last user message that moderation would flag (see below) is refused,
  as OpenAI refuses: ``content`` null and ``refusal`` :data:`REFUSAL`
  (Chat Completions; streamed as ``refusal`` deltas after a first delta
  ``{"role": "assistant", "content": null, "refusal": ""}``), or a
  ``refusal`` content part (Responses API; streamed as
  ``response.refusal.delta``/``.done`` events).
- ``logprobs: true`` gives each text or refusal choice ``logprobs`` with one
  entry per word (``top_logprobs`` alternatives each), in ``content`` or in
  ``refusal``; streamed, each chunk carries its word's entry.
  :func:`chat_completion_events` and :func:`response_events` turn a body
  into the events OpenAI streams for it, to script a reply with ``queue()``.
- Tokens are whitespace-separated words: ``max_tokens`` keeps that many
  words; usage counts words.
- Embeddings are unit vectors from SHAKE-256 of the text (float32 values).
- Moderation flags words starting with "kill", "hate", "idiot", "suicide"...
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any, Union

from .server import APIError, RecordedRequest, Reply, RouteTable, Service, register_service

__all__ = ["REFUSAL", "ROUTES", "OpenAIService", "PNG_BYTES", "chat_completion_events", "embedding_vector", "response_events"]

#: The text of the fake's refusals (OpenAI's own wording).
REFUSAL = "I'm sorry, but I can't assist with that request."

#: The OpenAI route table: (method, path regex) -> handler(service, request, **groups).
ROUTES = RouteTable()

# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"\s*\S+")
_JSON_PARSE_ERROR = (
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
    "If you have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)


def _rand(n: int) -> str:
    """``n`` random base62 characters."""
    value = int.from_bytes(os.urandom(n), "big")
    out = []
    for _ in range(n):
        value, r = divmod(value, 62)
        out.append(_ALNUM[r])
    return "".join(out)


def _hex(n: int) -> str:
    return os.urandom(n // 2).hex()


def _pieces(text: str) -> list[str]:
    """Split text into words that keep their leading whitespace; joined they give ``text``."""
    pieces = _WORD.findall(text)
    tail = len(text) - sum(map(len, pieces))
    if tail:
        if pieces:
            pieces[-1] += text[-tail:]
        else:
            pieces = [text]
    return pieces


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


def _text_of(content: Any) -> str:
    """Text of a message content: a string or a list of parts (text parts joined)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
        return " ".join(texts)
    return json.dumps(content)


def _first_json_object(text: str) -> str:
    """The first JSON object literal in ``text``, verbatim, or ``"{}"``."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            pass
        else:
            if isinstance(value, dict):
                return text[start:end]
        start = text.find("{", start + 1)
    return "{}"


def _mentions(name: str, text: str) -> bool:
    return re.search(r"(?<!\w)" + re.escape(name) + r"(?!\w)", text) is not None


def _arg_pieces(arguments: str) -> list[str]:
    """Split JSON arguments the way the API streams them: in 2+ pieces."""
    pieces = re.findall(r"\w+|[^\w]+", arguments)
    if len(pieces) < 2 and len(arguments) >= 2:
        half = len(arguments) // 2
        pieces = [arguments[:half], arguments[half:]]
    return pieces or [arguments]


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


def _body(req: RecordedRequest) -> dict[str, Any]:
    """The JSON object body, or a 400 like OpenAI's."""
    if not req.body.strip():
        return {}
    if not isinstance(req.json, dict):
        if req.json is None and req.body.strip() != b"null":
            raise APIError(400, _JSON_PARSE_ERROR, type="invalid_request_error")
        raise APIError(
            400,
            f"Invalid type for request body: expected an object, but got {_type_name(req.json)} instead.",
            type="invalid_request_error",
            code="invalid_type",
        )
    return req.json


def _missing(param: str) -> APIError:
    return APIError(
        400,
        f"Missing required parameter: '{param}'.",
        type="invalid_request_error",
        param=param,
        code="missing_required_parameter",
    )


def _invalid_type(param: str, expected: str, value: Any) -> APIError:
    return APIError(
        400,
        f"Invalid type for '{param}': expected {expected}, but got {_type_name(value)} instead.",
        type="invalid_request_error",
        param=param,
        code="invalid_type",
    )


def _invalid_value(param: str, value: Any, allowed: list[str]) -> APIError:
    names = [f"'{a}'" for a in allowed]
    listed = ", ".join(names[:-1]) + f", and {names[-1]}" if len(names) > 1 else names[0]
    return APIError(
        400,
        f"Invalid value: '{value}'. Supported values are: {listed}.",
        type="invalid_request_error",
        param=param,
        code="invalid_value",
    )


def _model(body: dict[str, Any], default: str | None = None) -> str:
    model = body.get("model", default)
    if model is None:
        raise APIError(400, "you must provide a model parameter", type="invalid_request_error")
    if not isinstance(model, str):
        raise _invalid_type("model", "a string", model)
    return model


def _int(body: dict[str, Any], name: str, default: int | None, lo: int | None = None, hi: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid_type(name, "an integer", value)
    if lo is not None and value < lo:
        raise APIError(
            400,
            f"Invalid '{name}': integer below minimum value. Expected a value >= {lo}, but got {value} instead.",
            type="invalid_request_error",
            param=name,
            code="integer_below_min_value",
        )
    if hi is not None and value > hi:
        raise APIError(
            400,
            f"Invalid '{name}': integer above maximum value. Expected a value <= {hi}, but got {value} instead.",
            type="invalid_request_error",
            param=name,
            code="integer_above_max_value",
        )
    return value


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _invalid_type(name, "a boolean", value)
    return value


def _not_found(message: str, param: str | None = None, code: str | None = None) -> APIError:
    return APIError(404, message, type="invalid_request_error", param=param, code=code)


def _truncate(text: str, limit: int | None) -> tuple[str, bool]:
    """Keep ``limit`` words; True when something was cut."""
    if limit is None:
        return text, False
    pieces = _pieces(text)
    if len(pieces) <= limit:
        return text, False
    return "".join(pieces[:limit]), True


def _apply_stop(text: str, stop: Any) -> str:
    stops = [stop] if isinstance(stop, str) else [s for s in (stop or []) if isinstance(s, str) and s]
    cut = min((i for i in (text.find(s) for s in stops) if i >= 0), default=-1)
    return text[:cut] if cut >= 0 else text


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

_STATUS_ERRORS: dict[int, tuple[str, str, str | None]] = {
    400: ("Bad request.", "invalid_request_error", None),
    401: (
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        "invalid_api_key",
    ),
    403: ("Country, region, or territory not supported", "request_forbidden", "unsupported_country_region_territory"),
    404: ("The requested resource does not exist.", "invalid_request_error", None),
    409: ("The request conflicted with another request.", "invalid_request_error", None),
    422: ("The request could not be processed.", "invalid_request_error", None),
    429: (
        "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: ("The server had an error while processing your request. Sorry about that!", "server_error", None),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    504: ("Gateway timeout.", "server_error", None),
}

MODELS: list[dict[str, Any]] = [
    {"id": "gpt-4.1", "object": "model", "created": 1744316542, "owned_by": "system"},
    {"id": "gpt-4.1-mini", "object": "model", "created": 1744318173, "owned_by": "system"},
    {"id": "gpt-4.1-nano", "object": "model", "created": 1744321707, "owned_by": "system"},
    {"id": "gpt-4o", "object": "model", "created": 1715367049, "owned_by": "system"},
    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
    {"id": "o4-mini", "object": "model", "created": 1744225351, "owned_by": "system"},
    {"id": "gpt-3.5-turbo-instruct", "object": "model", "created": 1692901427, "owned_by": "system"},
    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"},
    {"id": "text-embedding-3-large", "object": "model", "created": 1705953180, "owned_by": "system"},
    {"id": "omni-moderation-latest", "object": "model", "created": 1731689265, "owned_by": "system"},
    {"id": "gpt-image-1", "object": "model", "created": 1745517030, "owned_by": "system"},
    {"id": "dall-e-3", "object": "model", "created": 1698785189, "owned_by": "system"},
]

FILE_PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]


class OpenAIService(Service):
    """The OpenAI API under ``/v1``, with in-memory files and responses."""

    prefix = "/v1"
    routes = ROUTES

    def __init__(self) -> None:
        self.files: dict[str, dict[str, Any]] = {}
        self.file_data: dict[str, bytes] = {}
        self.responses: dict[str, dict[str, Any]] = {}
        self.response_inputs: dict[str, list[dict[str, Any]]] = {}

    def reset(self) -> None:
        self.files.clear()
        self.file_data.clear()
        self.responses.clear()
        self.response_inputs.clear()

    def authenticate(self, request: RecordedRequest, api_key: str) -> Reply | None:
        auth = request.headers.get("authorization")
        if auth is None or not auth.strip():
            return self.error(
                401,
                "You didn't provide an API key. You need to provide your API key in an Authorization header "
                "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank "
                "username) if you're accessing the API from your browser and are prompted for a username and "
                "password. You can obtain an API key from https://platform.openai.com/account/api-keys.",
                type="invalid_request_error",
            )
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() != "bearer" or token.strip() != api_key:
            return self.status_error(401)
        return None

    def status_error(self, status: int) -> Reply:
        message, type_, code = _STATUS_ERRORS.get(
            status,
            ("The server had an error processing your request.", "server_error", None)
            if status >= 500
            else (f"Request failed with status {status}.", "invalid_request_error", None),
        )
        return self.error(status, message, type=type_, code=code)

    def not_found(self, request: RecordedRequest) -> Reply:
        return self.error(404, f"Invalid URL ({request.method} {request.path})", type="invalid_request_error")

    def internal_error(self) -> Reply:
        return self.status_error(500)

    def response_headers(self, request: RecordedRequest, elapsed: float) -> list[tuple[str, str]]:
        return [
            ("openai-version", "2020-10-01"),
            ("openai-processing-ms", str(max(1, round(elapsed * 1000)))),
            ("x-request-id", "req_" + _hex(32)),
        ]


register_service(OpenAIService)


# --------------------------------------------------------------------------
# tools: the name-in-text rule
# --------------------------------------------------------------------------


def _function_names(tools: Any) -> list[str]:
    """Names of function tools, chat style (``function.name``) or Responses style (``name``)."""
    names = []
    for tool in tools or []:
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            continue
        fn = tool.get("function")
        name = fn.get("name") if isinstance(fn, dict) else tool.get("name")
        if isinstance(name, str) and name:
            names.append(name)
    return names


def _called(names: list[str], text: str, choice: Any, parallel: bool) -> list[str]:
    """Which functions to call given the user's text and ``tool_choice``."""
    if not names or choice == "none":
        return []
    if isinstance(choice, dict):
        fn = choice.get("function")
        forced = fn.get("name") if isinstance(fn, dict) else choice.get("name")
        if isinstance(forced, str):
            return [forced]
    called = [n for n in names if _mentions(n, text)]
    if not called and choice == "required":
        called = names[:1]
    return called if parallel else called[:1]


# --------------------------------------------------------------------------
# chat completions
# --------------------------------------------------------------------------

_CHAT_ROLES = ["system", "assistant", "user", "function", "tool", "developer"]


def _chat_usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _fingerprint(model: str) -> str:
    return "fp_" + hashlib.sha1(model.encode()).hexdigest()[:10]


def _check_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    if "messages" not in body or body["messages"] is None:
        raise _missing("messages")
    messages = body["messages"]
    if not isinstance(messages, list):
        raise _invalid_type("messages", "an array", messages)
    if not messages:
        raise APIError(
            400,
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
            type="invalid_request_error",
            param="messages",
            code="empty_array",
        )
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise _invalid_type(f"messages[{i}]", "an object", message)
        if "role" not in message:
            raise _missing(f"messages[{i}].role")
        if message["role"] not in _CHAT_ROLES:
            raise _invalid_value(f"messages[{i}].role", message["role"], _CHAT_ROLES)
        refusal = message.get("refusal")
        if message["role"] == "assistant" and refusal is not None and not isinstance(refusal, str):
            raise _invalid_type(f"messages[{i}].refusal", "a string", refusal)
    return messages


def _stream_flags(body: dict[str, Any]) -> tuple[bool, bool, bool]:
    """(stream, include_usage, include_obfuscation)."""
    stream = _bool(body, "stream")
    options = body.get("stream_options")
    if options is not None and not stream:
        raise APIError(
            400,
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            type="invalid_request_error",
            param="stream_options",
        )
    if options is not None and not isinstance(options, dict):
        raise _invalid_type("stream_options", "an object", options)
    options = options or {}
    return stream, bool(options.get("include_usage")), options.get("include_obfuscation", True) is not False


@ROUTES.route("POST", r"/v1/chat/completions")
def chat_completions(svc: OpenAIService, req: RecordedRequest) -> Reply:
    body = _body(req)
    model = _model(body)
    messages = _check_messages(body)
    n = _int(body, "n", 1, 1, 128) or 1
    limit = _int(body, "max_completion_tokens", None, 1)
    if limit is None:
        limit = _int(body, "max_tokens", None, 1)
    stream, include_usage, obfuscate = _stream_flags(body)
    want_logprobs = _bool(body, "logprobs")
    top_logprobs = _int(body, "top_logprobs", 0, 0, 20) or 0

    last = messages[-1]
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    base_text: str
    calls: list[str] = []
    arguments = "{}"
    legacy = refused = False
    if last["role"] in ("tool", "function"):
        base_text = "Tool result: " + _text_of(last.get("content"))
    else:
        base_text = "You said: " + _text_of(last_user.get("content")) if last_user else "Hello! How can I help you today?"
        if last["role"] == "user" and _flagged(_text_of(last.get("content"))):
            refused = True
            base_text = REFUSAL
        elif last["role"] == "user":
            text = _text_of(last.get("content"))
            parallel = body.get("parallel_tool_calls", True) is not False
            calls = _called(_function_names(body.get("tools")), text, body.get("tool_choice", "auto"), parallel)
            if not calls and body.get("functions"):
                names = [f["name"] for f in body["functions"] if isinstance(f, dict) and isinstance(f.get("name"), str)]
                calls = _called(names, text, body.get("function_call", "auto"), False)
                legacy = bool(calls)
            arguments = _first_json_object(text)

    choices = []
    completion_tokens = 0
    for i in range(n):
        message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
        logprobs = None
        if legacy:
            message["function_call"] = {"name": calls[0], "arguments": arguments}
            finish = "function_call"
            completion_tokens += _words(calls[0] + " " + arguments)
        elif calls:
            message["tool_calls"] = [
                {"id": "call_" + _rand(24), "type": "function", "function": {"name": name, "arguments": arguments}}
                for name in calls
            ]
            finish = "tool_calls"
            completion_tokens += sum(_words(name + " " + arguments) for name in calls)
        else:
            text = base_text + (f" (choice {i})" if i else "")
            text = _apply_stop(text, body.get("stop"))
            text, cut = _truncate(text, limit)
            key = "refusal" if refused else "content"
            message[key] = text
            finish = "length" if cut else "stop"
            completion_tokens += _words(text)
            if want_logprobs:
                logprobs = _logprobs_of(key, _token_logprobs(text, top_logprobs))
        choices.append({"index": i, "message": message, "logprobs": logprobs, "finish_reason": finish})

    prompt_tokens = sum(_words(_text_of(m.get("content"))) for m in messages)
    completion = {
        "id": "chatcmpl-" + _rand(29),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": _chat_usage(prompt_tokens, completion_tokens),
        "service_tier": "default",
        "system_fingerprint": _fingerprint(model),
    }
    if stream:
        return Reply(events=chat_completion_events(completion, include_usage=include_usage, obfuscate=obfuscate))
    return Reply(json=completion)


def _token_logprobs(text: str, top: int) -> list[dict[str, Any]]:
    """Deterministic logprob entries, one per word of ``text`` as :func:`_pieces` cuts it."""
    entries = []
    for piece in _pieces(text):
        data = piece.encode("utf-8")
        logprob = -round((zlib.crc32(data) % 4000) / 1000.0 + 0.0001, 4)
        alternatives = [{"token": piece, "logprob": logprob, "bytes": list(data)}]
        alternatives += [
            {"token": f"{piece}~{k}", "logprob": round(logprob - k, 4), "bytes": list(f"{piece}~{k}".encode())}
            for k in range(1, top)
        ]
        entries.append({"token": piece, "logprob": logprob, "bytes": list(data), "top_logprobs": alternatives[:top]})
    return entries


def _logprobs_of(key: str, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """A choice's ``logprobs``: ``entries`` under ``key`` ("content" or "refusal"), the other null."""
    return {"content": entries if key == "content" else None, "refusal": entries if key == "refusal" else None}


Delta = tuple[dict[str, Any], Union[str, None], Any]


def _chat_deltas(choice: dict[str, Any]) -> list[Delta]:
    """(delta, finish_reason, logprobs) per chunk of one choice, as OpenAI streams them.

    The first delta carries the role and says what the reply streams:
    ``content: ""`` for text, ``content: null, refusal: ""`` for a refusal
    (for a tool reply, also the first tool call's id/type/name with empty
    arguments). Then the text or refusal word by word (one logprob entry
    each), or arguments in pieces that carry only the index; then ``{}``
    with the finish reason and null logprobs.
    """
    message = choice["message"]
    content = message.get("content")
    key = "refusal" if content is None and isinstance(message.get("refusal"), str) else "content"
    text = message.get(key)
    logprobs = choice.get("logprobs")
    first: dict[str, Any] = {"role": "assistant", "content": "" if content is not None else None, "refusal": "" if key == "refusal" else None}
    deltas: list[Delta] = [(first, None, _logprobs_of(key, []) if logprobs else None)]
    if text:
        entries = (logprobs or {}).get(key) or []
        tokens = [entry.get("token") for entry in entries]
        if entries and "".join(tokens) == text:  # one chunk per token, each with its entry
            deltas.extend(({key: token}, None, _logprobs_of(key, [entry])) for token, entry in zip(tokens, entries))
        else:
            pieces = _pieces(text)
            deltas.append(({key: pieces[0]}, None, _logprobs_of(key, entries) if logprobs else None))
            deltas.extend(({key: piece}, None, _logprobs_of(key, []) if logprobs else None) for piece in pieces[1:])
    for k, call in enumerate(message.get("tool_calls") or []):
        fn = call["function"]
        head = {"index": k, "id": call["id"], "type": "function", "function": {"name": fn["name"], "arguments": ""}}
        if k == 0:
            first["tool_calls"] = [head]
        else:
            deltas.append(({"tool_calls": [head]}, None, None))
        deltas.extend(
            ({"tool_calls": [{"index": k, "function": {"arguments": piece}}]}, None, None)
            for piece in _arg_pieces(fn["arguments"])
        )
    if "function_call" in message:
        fc = message["function_call"]
        first["function_call"] = {"name": fc["name"], "arguments": ""}
        deltas.extend(({"function_call": {"arguments": piece}}, None, None) for piece in _arg_pieces(fc["arguments"]))
    deltas.append(({}, choice.get("finish_reason"), None))
    return deltas


def chat_completion_events(completion: dict[str, Any], *, include_usage: bool = False, obfuscate: bool = False) -> Iterator[Any]:
    """The ``chat.completion.chunk`` events (then ``[DONE]``) OpenAI streams for
    ``completion``, a non-streamed chat completion body: script a streamed reply
    with ``api.queue("POST", "/v1/chat/completions", events=chat_completion_events(body))``."""
    base = {"id": completion.get("id"), "object": "chat.completion.chunk", "created": completion.get("created"), "model": completion.get("model")}
    base.update((key, completion[key]) for key in ("service_tier", "system_fingerprint") if key in completion)
    sequences = [_chat_deltas(choice) for choice in completion["choices"]]
    count = 0
    for step in range(max(map(len, sequences), default=0)):
        for choice, seq in zip(completion["choices"], sequences):
            if step >= len(seq):
                continue
            delta, finish, logprobs = seq[step]
            chunk = dict(base)
            chunk["choices"] = [{"index": choice.get("index", 0), "delta": delta, "logprobs": logprobs, "finish_reason": finish}]
            if include_usage:
                chunk["usage"] = None
            if obfuscate:
                count += 1
                chunk["obfuscation"] = _ALNUM[count % 62 :][: 1 + count % 9] or "x"
            yield chunk
    if include_usage:
        last = dict(base)
        last["choices"] = []
        last["usage"] = completion.get("usage")
        if obfuscate:
            last["obfuscation"] = "Zz"
        yield last
    yield "data: [DONE]\n\n"


# --------------------------------------------------------------------------
# legacy completions
# --------------------------------------------------------------------------


def _prompts(body: dict[str, Any]) -> list[str]:
    if "prompt" not in body or body["prompt"] is None:
        raise _missing("prompt")
    prompt = body["prompt"]
    if isinstance(prompt, str):
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            return [" ".join(map(str, prompt))]
        out = []
        for item in prompt:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, list) and all(isinstance(t, int) for t in item):
                out.append(" ".join(map(str, item)))
            else:
                raise _invalid_type("prompt", "a string or array", prompt)
        return out
    raise _invalid_type("prompt", "a string or array", prompt)


@ROUTES.route("POST", r"/v1/completions")
def completions(svc: OpenAIService, req: RecordedRequest) -> Reply:
    body = _body(req)
    model = _model(body)
    prompts = _prompts(body)
    n = _int(body, "n", 1, 1, 128) or 1
    limit = _int(body, "max_tokens", None, 0)
    echo = _bool(body, "echo")
    stream, include_usage, _ = _stream_flags(body)
    choices = []
    completion_tokens = 0
    for p_index, prompt in enumerate(prompts):
        for i in range(n):
            text = "You said: " + prompt + (f" (choice {i})" if i else "")
            text = _apply_stop(text, body.get("stop"))
            text, cut = _truncate(text, limit)
            completion_tokens += _words(text)
            choices.append(
                {
                    "text": (prompt + text) if echo else text,
                    "index": p_index * n + i,
                    "logprobs": None,
                    "finish_reason": "length" if cut else "stop",
                }
            )
    prompt_tokens = sum(_words(p) for p in prompts)
    result = {
        "id": "cmpl-" + _rand(29),
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": _fingerprint(model),
    }
    if stream:
        return Reply(events=_completion_stream(result, include_usage))
    return Reply(json=result)


def _completion_stream(result: dict[str, Any], include_usage: bool) -> Iterator[Any]:
    base = {k: result[k] for k in ("id", "object", "created", "model", "system_fingerprint")}
    for choice in result["choices"]:
        for piece in _pieces(choice["text"]):
            chunk = dict(base)
            chunk["choices"] = [{"text": piece, "index": choice["index"], "logprobs": None, "finish_reason": None}]
            yield chunk
        chunk = dict(base)
        finish = choice["finish_reason"]
        chunk["choices"] = [{"text": "", "index": choice["index"], "logprobs": None, "finish_reason": finish}]
        yield chunk
    if include_usage:
        chunk = dict(base)
        chunk["choices"] = []
        chunk["usage"] = result["usage"]
        yield chunk
    yield "data: [DONE]\n\n"


# --------------------------------------------------------------------------
# embeddings
# --------------------------------------------------------------------------


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
    body = _body(req)
    model = _model(body)
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


# --------------------------------------------------------------------------
# moderations
# --------------------------------------------------------------------------

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
    body = _body(req)
    model = _model(body, "omni-moderation-latest")
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


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------


@ROUTES.route("GET", r"/v1/models")
def list_models(svc: OpenAIService, req: RecordedRequest) -> Reply:
    return Reply(json={"object": "list", "data": copy.deepcopy(MODELS)})


@ROUTES.route("GET", r"/v1/models/(?P<model>.+)")
def get_model(svc: OpenAIService, req: RecordedRequest, model: str) -> Reply:
    for entry in MODELS:
        if entry["id"] == model:
            return Reply(json=dict(entry))
    raise _not_found(
        f"The model `{model}` does not exist or you do not have access to it.", param="model", code="model_not_found"
    )


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------


@ROUTES.route("POST", r"/v1/files")
def upload_file(svc: OpenAIService, req: RecordedRequest) -> Reply:
    if "file" not in req.files:
        raise _missing("file")
    purpose = req.form.get("purpose")
    if not purpose:
        raise _missing("purpose")
    if purpose not in FILE_PURPOSES:
        raise _invalid_value("purpose", purpose, FILE_PURPOSES)
    upload = req.files["file"]
    created = int(time.time())
    expires_at = None
    seconds = req.form.get("expires_after[seconds]")
    if seconds and seconds.isdigit():
        expires_at = created + int(seconds)
    file_id = "file-" + _rand(22)
    meta = {
        "object": "file",
        "id": file_id,
        "purpose": purpose,
        "filename": upload.filename or "upload",
        "bytes": len(upload.data),
        "created_at": created,
        "expires_at": expires_at,
        "status": "processed",
        "status_details": None,
    }
    svc.files[file_id] = meta
    svc.file_data[file_id] = upload.data
    return Reply(json=dict(meta))


@ROUTES.route("GET", r"/v1/files")
def list_files(svc: OpenAIService, req: RecordedRequest) -> Reply:
    q = {k: v[-1] for k, v in req.query.items()}
    files = [dict(m) for m in list(svc.files.values())]  # list(): atomic snapshot
    if q.get("order", "desc") != "asc":
        files.reverse()
    if q.get("purpose"):
        files = [f for f in files if f["purpose"] == q["purpose"]]
    if q.get("after"):
        ids = [f["id"] for f in files]
        files = files[ids.index(q["after"]) + 1 :] if q["after"] in ids else []
    limit = int(q["limit"]) if q.get("limit", "").isdigit() else 10000
    page = files[:limit]
    return Reply(
        json={
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(files) > len(page),
        }
    )


def _file(svc: OpenAIService, file_id: str) -> dict[str, Any]:
    meta = svc.files.get(file_id)
    if meta is None:
        raise _not_found(f"No such File object: {file_id}", param="id")
    return meta


@ROUTES.route("GET", r"/v1/files/(?P<file_id>[^/]+)")
def get_file(svc: OpenAIService, req: RecordedRequest, file_id: str) -> Reply:
    return Reply(json=dict(_file(svc, file_id)))


@ROUTES.route("DELETE", r"/v1/files/(?P<file_id>[^/]+)")
def delete_file(svc: OpenAIService, req: RecordedRequest, file_id: str) -> Reply:
    _file(svc, file_id)
    svc.files.pop(file_id, None)
    svc.file_data.pop(file_id, None)
    return Reply(json={"object": "file", "deleted": True, "id": file_id})


@ROUTES.route("GET", r"/v1/files/(?P<file_id>[^/]+)/content")
def file_content(svc: OpenAIService, req: RecordedRequest, file_id: str) -> Reply:
    _file(svc, file_id)
    return Reply(body=svc.file_data[file_id], content_type="application/octet-stream")


# --------------------------------------------------------------------------
# images
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Responses API
# --------------------------------------------------------------------------

_RESPONSE_ROLES = ["assistant", "system", "developer", "user"]


def _input_items(value: Any) -> list[dict[str, Any]]:
    """Normalise ``input`` to a list of item dicts (validated)."""
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if not isinstance(value, list):
        raise _invalid_type("input", "a string or array", value)
    items = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise _invalid_type(f"input[{i}]", "an object", item)
        kind = item.get("type", "message")
        if kind == "message":
            if "role" not in item:
                raise _missing(f"input[{i}].role")
            if item["role"] not in _RESPONSE_ROLES:
                raise _invalid_value(f"input[{i}].role", item["role"], _RESPONSE_ROLES)
            if "content" not in item:
                raise _missing(f"input[{i}].content")
        elif kind == "function_call_output":
            if "call_id" not in item:
                raise _missing(f"input[{i}].call_id")
            if "output" not in item:
                raise _missing(f"input[{i}].output")
        items.append(item)
    return items


def _stored_input(item: dict[str, Any]) -> dict[str, Any]:
    """An input item as ``GET /responses/{id}/input_items`` lists it."""
    out = dict(item)
    out.setdefault("type", "message")
    if out["type"] == "message":
        content = out.get("content")
        kind = "output_text" if out.get("role") == "assistant" else "input_text"
        if isinstance(content, str):
            out["content"] = [{"type": kind, "text": content}]
        out.setdefault("status", "completed")
        prefix = "msg_"
    elif out["type"] == "function_call_output":
        prefix = "fco_"
        out.setdefault("status", "completed")
    else:
        prefix = "item_"
    out.setdefault("id", prefix + _hex(48))
    return out


def _response_usage(input_tokens: int, output_tokens: int, reasoning_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


@ROUTES.route("POST", r"/v1/responses")
def create_response(svc: OpenAIService, req: RecordedRequest) -> Reply:
    body = _body(req)
    model = _model(body)
    if "input" not in body or body["input"] is None:
        raise _missing("input")
    items = _input_items(body["input"])
    previous_id = body.get("previous_response_id")
    previous = None
    if previous_id is not None:
        previous = svc.responses.get(previous_id)
        if previous is None:
            raise _not_found(
                f"Previous response with id '{previous_id}' not found.",
                param="previous_response_id",
                code="previous_response_not_found",
            )
    limit = _int(body, "max_output_tokens", None, 1)
    stream = _bool(body, "stream")
    tools = body.get("tools") or []
    if not isinstance(tools, list):
        raise _invalid_type("tools", "an array", tools)
    reasoning = body.get("reasoning")
    instructions = body.get("instructions")

    last = items[-1] if items else None
    messages = [it for it in items if it.get("type", "message") == "message"]
    last_user = next((it for it in reversed(messages) if it.get("role") == "user"), None)
    user_text = _text_of(last_user["content"]) if last_user else None
    output: list[dict[str, Any]] = []
    reasoning_tokens = 0

    if reasoning is not None:
        summary = []
        if isinstance(reasoning, dict) and reasoning.get("summary") in ("auto", "concise", "detailed"):
            summary = [{"type": "summary_text", "text": f"**Answering the user**\n\nThe user said: {user_text or ''}"}]
        item: dict[str, Any] = {"id": "rs_" + _hex(48), "type": "reasoning", "summary": summary}
        if "reasoning.encrypted_content" in (body.get("include") or []):
            item["encrypted_content"] = base64.b64encode(os.urandom(48)).decode("ascii")
        output.append(item)
        reasoning_tokens = 8 + sum(_words(s["text"]) for s in summary)

    calls: list[str] = []
    arguments = "{}"
    refused = False
    if last is not None and last.get("type") == "function_call_output":
        text = "Tool result: " + _text_of(last.get("output"))
    elif last is last_user and user_text is not None and _flagged(user_text):
        text, refused = REFUSAL, True
    else:
        text = f"You said: {user_text}" if user_text is not None else "Hello! How can I help you today?"
        if last is last_user and last_user is not None:
            parallel = body.get("parallel_tool_calls", True) is not False
            calls = _called(_function_names(tools), user_text or "", body.get("tool_choice", "auto"), parallel)
            arguments = _first_json_object(user_text or "")
        wants_image = any(isinstance(t, dict) and t.get("type") == "image_generation" for t in tools)
        if wants_image and user_text and "image" in user_text.lower():
            output.append(
                {
                    "id": "ig_" + _hex(48),
                    "type": "image_generation_call",
                    "status": "completed",
                    "result": PNG_B64,
                    "revised_prompt": user_text,
                    "background": "opaque",
                    "output_format": "png",
                    "quality": "medium",
                    "size": "1024x1024",
                }
            )

    incomplete = False
    output_tokens = reasoning_tokens
    if calls:
        for name in calls:
            output.append(
                {
                    "id": "fc_" + _hex(48),
                    "type": "function_call",
                    "status": "completed",
                    "arguments": arguments,
                    "call_id": "call_" + _rand(24),
                    "name": name,
                }
            )
            output_tokens += _words(name + " " + arguments)
    else:
        text, incomplete = _truncate(text, limit)
        output_tokens += _words(text)
        part = {"type": "refusal", "refusal": text} if refused else {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
        output.append(
            {
                "id": "msg_" + _hex(48),
                "type": "message",
                "status": "incomplete" if incomplete else "completed",
                "content": [part],
                "role": "assistant",
            }
        )

    input_tokens = _words(instructions) if isinstance(instructions, str) else _words(_text_of(instructions))
    for it in items:
        input_tokens += _words(_text_of(it.get("content", it.get("output"))))
    if previous is not None and previous.get("usage"):
        input_tokens += previous["usage"]["total_tokens"]

    now = int(time.time())
    response = {
        "id": "resp_" + _hex(48),
        "object": "response",
        "created_at": now,
        "status": "incomplete" if incomplete else "completed",
        "background": _bool(body, "background"),
        "completed_at": None if incomplete else now,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if incomplete else None,
        "instructions": instructions,
        "max_output_tokens": limit,
        "max_tool_calls": body.get("max_tool_calls"),
        "model": model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": previous_id,
        "prompt_cache_key": body.get("prompt_cache_key"),
        "reasoning": {
            "effort": reasoning.get("effort") if isinstance(reasoning, dict) else None,
            "summary": reasoning.get("summary") if isinstance(reasoning, dict) else None,
        },
        "safety_identifier": body.get("safety_identifier"),
        "service_tier": "default",
        "store": body.get("store", True) is not False,
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": tools,
        "top_logprobs": body.get("top_logprobs", 0),
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": _response_usage(input_tokens, output_tokens, reasoning_tokens),
        "user": body.get("user"),
        "metadata": body.get("metadata") or {},
    }
    if response["store"]:
        svc.responses[response["id"]] = response
        svc.response_inputs[response["id"]] = [_stored_input(it) for it in items]
    if stream:
        return Reply(events=response_events(copy.deepcopy(response)))
    return Reply(json=response)


def _event(kind: str, seq: int, **fields: Any) -> str:
    payload = {"type": kind, "sequence_number": seq, **fields}
    return f"event: {kind}\ndata: {json.dumps(payload, ensure_ascii=False, separators=(',', ':'))}\n\n"


def _content_part_events(part: dict[str, Any], where: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(type, fields) of the events that stream one content part of a message:
    ``output_text`` word by word, or a ``refusal`` through ``response.refusal.*``."""
    if part.get("type") == "refusal":
        refusal = part.get("refusal") or ""
        yield "response.content_part.added", {**where, "part": {"type": "refusal", "refusal": ""}}
        for piece in _pieces(refusal):
            yield "response.refusal.delta", {**where, "delta": piece}
        yield "response.refusal.done", {**where, "refusal": refusal}
    else:
        text = part.get("text") or ""
        empty = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
        yield "response.content_part.added", {**where, "part": empty}
        for piece in _pieces(text):
            yield "response.output_text.delta", {**where, "delta": piece, "logprobs": []}
        yield "response.output_text.done", {**where, "text": text, "logprobs": []}
    yield "response.content_part.done", {**where, "part": part}


def response_events(response: dict[str, Any]) -> Iterator[str]:
    """The events OpenAI streams for ``response``, a non-streamed Responses API
    body, ending with ``response.completed`` (or ``.incomplete``): script a streamed
    reply with ``api.queue("POST", "/v1/responses", events=response_events(body))``."""
    seq = 0

    def ev(kind: str, **fields: Any) -> str:
        nonlocal seq
        out = _event(kind, seq, **fields)
        seq += 1
        return out

    pending = dict(response, status="in_progress", completed_at=None, incomplete_details=None, output=[], usage=None)
    yield ev("response.created", response=pending)
    yield ev("response.in_progress", response=pending)
    for index, item in enumerate(response["output"]):
        kind = item["type"]
        item_id = item["id"]
        if kind == "message":
            yield ev("response.output_item.added", output_index=index, item=dict(item, status="in_progress", content=[]))
            for c_index, part in enumerate(item.get("content") or []):
                where = {"item_id": item_id, "output_index": index, "content_index": c_index}
                for event_type, fields in _content_part_events(part, where):
                    yield ev(event_type, **fields)
        elif kind == "function_call":
            yield ev("response.output_item.added", output_index=index, item=dict(item, status="in_progress", arguments=""))
            for piece in _arg_pieces(item["arguments"]):
                yield ev("response.function_call_arguments.delta", item_id=item_id, output_index=index, delta=piece)
            yield ev(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=index,
                name=item["name"],
                arguments=item["arguments"],
            )
        elif kind == "reasoning":
            yield ev("response.output_item.added", output_index=index, item=dict(item, summary=[]))
            for s_index, part in enumerate(item["summary"]):
                yield ev(
                    "response.reasoning_summary_part.added",
                    item_id=item_id,
                    output_index=index,
                    summary_index=s_index,
                    part={"type": "summary_text", "text": ""},
                )
                for piece in _pieces(part["text"]):
                    yield ev(
                        "response.reasoning_summary_text.delta",
                        item_id=item_id,
                        output_index=index,
                        summary_index=s_index,
                        delta=piece,
                    )
                yield ev(
                    "response.reasoning_summary_text.done",
                    item_id=item_id,
                    output_index=index,
                    summary_index=s_index,
                    text=part["text"],
                )
                yield ev(
                    "response.reasoning_summary_part.done",
                    item_id=item_id,
                    output_index=index,
                    summary_index=s_index,
                    part=part,
                )
        elif kind == "image_generation_call":
            yield ev("response.output_item.added", output_index=index, item=dict(item, status="in_progress", result=None))
            for stage in ("in_progress", "generating", "completed"):
                yield ev(f"response.image_generation_call.{stage}", item_id=item_id, output_index=index)
        else:
            yield ev("response.output_item.added", output_index=index, item=item)
        yield ev("response.output_item.done", output_index=index, item=item)
    final = "response.incomplete" if response["status"] == "incomplete" else "response.completed"
    yield ev(final, response=response)


def _stored_response(svc: OpenAIService, response_id: str) -> dict[str, Any]:
    response = svc.responses.get(response_id)
    if response is None:
        raise _not_found(f"Response with id '{response_id}' not found.")
    return response


@ROUTES.route("GET", r"/v1/responses/(?P<response_id>[^/]+)")
def get_response(svc: OpenAIService, req: RecordedRequest, response_id: str) -> Reply:
    return Reply(json=_stored_response(svc, response_id))


@ROUTES.route("DELETE", r"/v1/responses/(?P<response_id>[^/]+)")
def delete_response(svc: OpenAIService, req: RecordedRequest, response_id: str) -> Reply:
    _stored_response(svc, response_id)
    svc.responses.pop(response_id, None)
    svc.response_inputs.pop(response_id, None)
    return Reply(json={"id": response_id, "object": "response", "deleted": True})


@ROUTES.route("POST", r"/v1/responses/(?P<response_id>[^/]+)/cancel")
def cancel_response(svc: OpenAIService, req: RecordedRequest, response_id: str) -> Reply:
    response = _stored_response(svc, response_id)
    response["status"] = "cancelled"
    response["completed_at"] = None
    return Reply(json=response)


@ROUTES.route("GET", r"/v1/responses/(?P<response_id>[^/]+)/input_items")
def response_input_items(svc: OpenAIService, req: RecordedRequest, response_id: str) -> Reply:
    _stored_response(svc, response_id)
    items = list(svc.response_inputs.get(response_id, []))
    if req.query.get("order", ["desc"])[-1] != "asc":
        items.reverse()
    return Reply(
        json={
            "object": "list",
            "data": items,
            "first_id": items[0]["id"] if items else None,
            "last_id": items[-1]["id"] if items else None,
            "has_more": False,
        }
    )
