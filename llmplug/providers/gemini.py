"""The Gemini provider ``gemini``: Gemini's native v1beta REST API. OpenAI-style
params and messages are mapped to ``generateContent`` bodies, and Gemini's responses, stream
events, embeddings, model lists and errors are normalised to the same core
models the OpenAI provider returns.

``gemini-openai`` (Gemini's OpenAI-compatible endpoint) is in
:mod:`llmplug.providers.openai`.

Choices made for ``gemini`` (documented in the README):

- ``.raw`` of a normalised response, chunk, embedding list or model list is
  Gemini's original JSON; nested chat models (messages, tool calls, usage)
  keep the OpenAI-shaped dicts they were built from, so sessions can replay
  them. A streamed call's assembled completion is built by the core
  accumulator from the chunks (its ``.raw`` is OpenAI-shaped).
- A ``functionCall`` without ``id`` gets a generated id,
  ``gencall_<8 hex of responseId and candidate>_<n>``; generated ids are not
  sent back to Gemini (``functionCall.id`` / ``functionResponse.id`` are sent
  only for ids Gemini gave), the function's name is looked up from the
  assistant message that made the call.
- A ``functionCall`` part's ``thoughtSignature`` is kept on the tool call as
  ``extra_content: {"google": {"thought_signature": ...}}`` (where
  ``gemini-openai`` puts it) and sent back as the part's ``thoughtSignature``.
- A reply with parts that text and tool calls cannot say all about (thoughts,
  signatures on text, code execution, server-side ``toolCall``/``toolResponse``...)
  keeps all its parts in the message's ``extra_content.google.parts``, sent back
  exactly in later requests, and lists the code that ran in
  ``extra_content.google.code_executions`` (:func:`google_extras`; docs/gemini.md).
- Every reason that blocks an answer (:data:`BLOCK_REASONS`) is
  ``finish_reason="content_filter"``; a prompt blocked by
  ``promptFeedback.blockReason`` gives one such choice with the reason in
  ``message.refusal``; finish reasons with no OpenAI name
  (``MALFORMED_FUNCTION_CALL``...) are kept in lower case, never turned into
  ``"stop"``. Gemini's reason stays on ``choice.native_finish_reason`` and its
  message on ``choice.finish_message`` (the table is in docs/gemini.md).

The provider does no I/O: ``models()`` follows ``nextPageToken`` through every page (``llmplug_next_page``).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import mimetypes
from collections.abc import Mapping
from typing import Any, Callable, TypeVar
from urllib.parse import quote, unquote_to_bytes, urlsplit

from llmplug.core.convert import structure
from llmplug.core.defaults import error_message
from llmplug.core.encoding import encode_json, generic_request, query_string
from llmplug.core.errors import (
    APIStatusError,
    ConfigurationError,
    StreamError,
    UnsupportedOperationError,
    make_status_error,
)
from llmplug.core.hookspecs import hookimpl
from llmplug.core.http import Request, Response
from llmplug.core.models import (
    ChatCompletion,
    ChatCompletionChunk,
    Embedding,
    EmbeddingList,
    Model,
    ModelInfo,
    ModelList,
    Usage,
)
from llmplug.core.retry import parse_retry_after, retry_info_delay
from llmplug.core.specs import ProviderSpec
from llmplug.core.sse import SSEEvent
from llmplug.core.streaming import DONE, SKIP, Terminated, parse_json_event

FAMILY = "gemini"
T = TypeVar("T")
GEMINI_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
#: Prefix of the tool-call ids made up for ``functionCall`` parts that carry none.
GENERATED_ID_PREFIX = "gencall_"

PROVIDERS = (
    ProviderSpec(
        name="gemini",
        family=FAMILY,
        base_url="https://generativelanguage.googleapis.com/v1beta",
        api_key_env=GEMINI_ENV,
        base_url_env=("GEMINI_BASE_URL",),
        default_model="gemini-2.5-flash",
        defaults={"embeddings.create": {"model": "gemini-embedding-001"}},
        user_options=(),
        description="Google Gemini's native API (v1beta), normalised to the OpenAI-shaped core models",
    ),
)

#: What to use instead, for operations Gemini's native API has no equivalent of.
_RESPONSES_HINT = (
    "the Responses API is OpenAI's: use create_chat_completion() or new_chat_session(), or the 'openai' provider"
)
_FILES_HINT = (
    "Gemini's Files API uses Google's upload protocol, not OpenAI's /files: call it with "
    "client.request() (e.g. client.request('GET', '/files')), or use the 'openai' provider"
)
UNSUPPORTED: dict[str, str] = {
    "completions.create": "Gemini has no legacy text completions: use create_chat_completion()",
    "moderations.create": (
        "Gemini has no moderation endpoint: read the safety ratings each chat completion carries "
        "(tune them with safetySettings=...), or use the 'openai' provider"
    ),
    "images.generate": (
        "use create_chat_completion() with an image model (e.g. gemini-2.5-flash-image), "
        "the 'gemini-openai' provider's images endpoint, or the 'openai' provider"
    ),
    "files.list": _FILES_HINT,
    "files.create": _FILES_HINT,
    "files.retrieve": _FILES_HINT,
    "files.delete": _FILES_HINT,
    "files.content": _FILES_HINT,
    "responses.create": _RESPONSES_HINT,
    "responses.retrieve": _RESPONSES_HINT,
    "responses.delete": _RESPONSES_HINT,
    "responses.cancel": _RESPONSES_HINT,
}
#: Operations Gemini's OpenAI-compatible endpoint does not serve.
# ---------------------------------------------------------------- request mapping tables

#: OpenAI chat params -> ``generationConfig`` fields, values passed as given.
GENERATION_PARAMS: dict[str, str] = {
    "temperature": "temperature",
    "top_p": "topP",
    "top_k": "topK",
    "n": "candidateCount",
    "max_tokens": "maxOutputTokens",
    "max_completion_tokens": "maxOutputTokens",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
    "seed": "seed",
    "logprobs": "responseLogprobs",
    "top_logprobs": "logprobs",
}
#: OpenAI params with no Gemini meaning that change nothing in the answer: not sent.
DROPPED_PARAMS = frozenset(
    {"user", "store", "metadata", "stream_options", "parallel_tool_calls", "service_tier",
     "prompt_cache_key", "safety_identifier", "verbosity"}
)
#: OpenAI params Gemini cannot honour: sending them would silently change the answer.
REFUSED_PARAMS = frozenset({"logit_bias", "prediction", "audio", "modalities", "web_search_options"})
#: ``reasoning_effort`` -> ``thinkingBudget`` (Google's mapping on its OpenAI endpoint).
THINKING_BUDGETS: dict[str, int] = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}
_TOOL_CHOICE_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY", "any": "ANY"}
_EMBEDDING_PARAMS = {"dimensions": "outputDimensionality", "task_type": "taskType"}

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


@hookimpl
def llmplug_register_providers(register: Any) -> None:
    for spec in PROVIDERS:
        register(spec)


# ================================================================ requests


def model_resource(model: str) -> str:
    """``models/<id>`` for a bare id; a name that has a collection (``models/x``,
    ``tunedModels/x``) is kept, so the prefix is never doubled."""
    model = model.strip().strip("/")
    if not model:
        raise ConfigurationError("the model name is empty: pass model='gemini-2.5-flash' or similar")
    return model if "/" in model else "models/" + model


def model_id(model: str) -> str:
    """A model name without its ``models/`` prefix."""
    return model[len("models/"):] if model.startswith("models/") else model


def _model_url(provider: ProviderSpec, model: str, method: str = "") -> str:
    resource = quote(model_resource(model), safe="/")
    return f"{provider.base_url}/{resource}{':' + method if method else ''}"


def _required_model(provider: ProviderSpec, params: dict[str, Any], operation: str) -> str:
    model = params.pop("model", None) or provider.defaults_for(operation).get("model") or provider.default_model
    if not model:
        raise ConfigurationError(f"provider {provider.name!r} has no default model: pass model=...")
    if not isinstance(model, str):
        raise ConfigurationError(f"model must be a string such as 'gemini-2.5-flash', not {type(model).__name__}")
    return model


def _json_request(url: str, body: Any, *, stream: bool = False, model: str | None = None) -> Request:
    headers = {"Accept": "text/event-stream" if stream else "application/json", "Content-Type": "application/json"}
    request = Request("POST", url, headers, encode_json(body))
    if model is not None:
        request.extensions["gemini_model"] = model_id(model)
    return request


def build_gemini_request(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request:
    """Map an operation of the ``gemini`` family to a native v1beta request."""
    params = dict(params)
    if operation in UNSUPPORTED:
        raise UnsupportedOperationError(f"provider {provider.name!r} has no {operation!r}: {UNSUPPORTED[operation]}")
    if operation == "request":
        return generic_request(provider.base_url or "", params)
    if operation == "chat.create":
        model = _required_model(provider, params, operation)
        stream = bool(params.pop("stream", False))
        body = chat_body(params)
        if stream:
            url = _model_url(provider, model, "streamGenerateContent") + "?alt=sse"
        else:
            url = _model_url(provider, model, "generateContent")
        return _json_request(url, body, stream=stream, model=model)
    if operation == "embeddings.create":
        model = _required_model(provider, params, operation)
        method, body = embedding_body(model, params)
        return _json_request(_model_url(provider, model, method), body, model=model)
    if operation == "models.list":
        query = {"pageSize": 1000, **params}
        return Request("GET", f"{provider.base_url}/models{query_string(query)}", {"Accept": "application/json"})
    if operation == "models.retrieve":
        model = params.pop("model")
        return Request("GET", _model_url(provider, model) + query_string(params), {"Accept": "application/json"})
    raise UnsupportedOperationError(
        f"provider {provider.name!r} has no operation {operation!r}; use client.request(method, path, ...) "
        f"with a Gemini REST path such as '/models/gemini-2.5-flash:countTokens'"
    )


# ---------------------------------------------------------------- chat bodies


def chat_body(params: dict[str, Any]) -> dict[str, Any]:
    """A ``GenerateContentRequest`` body from OpenAI-style chat params.

    Known OpenAI params are mapped, those without meaning for Gemini are
    dropped (:data:`DROPPED_PARAMS`) or refused (:data:`REFUSED_PARAMS`), and
    any other key (``safetySettings``, ``cachedContent``...) is sent untouched.
    ``generationConfig`` and ``toolConfig`` given as params are merged over the
    mapped ones.
    """
    params = dict(params)
    system, contents = map_messages(params.pop("messages"))
    body: dict[str, Any] = {"contents": contents}
    if system is not None:
        body["systemInstruction"] = system
    config: dict[str, Any] = {}
    if "max_completion_tokens" in params:
        params.pop("max_tokens", None)
    for name, field in GENERATION_PARAMS.items():
        value = params.pop(name, None)
        if value is not None:
            config[field] = value
    stop = params.pop("stop", None)
    if stop is not None:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    response_format = params.pop("response_format", None)
    if response_format is not None:
        config.update(_response_format(response_format))
    effort = params.pop("reasoning_effort", None)
    if effort is not None:
        if effort not in THINKING_BUDGETS:
            raise ConfigurationError(f"reasoning_effort must be one of {', '.join(THINKING_BUDGETS)}, not {effort!r}")
        config["thinkingConfig"] = {"thinkingBudget": THINKING_BUDGETS[effort]}
    tools = params.pop("tools", None)
    functions = params.pop("functions", None)
    declared = map_tools(tools or [], functions or [])
    if declared:
        body["tools"] = declared
    choice = params.pop("tool_choice", None)
    legacy_choice = params.pop("function_call", None)
    calling = _function_calling_config(choice if choice is not None else legacy_choice)
    if calling is not None:
        body["toolConfig"] = {"functionCallingConfig": calling}
    for name in DROPPED_PARAMS:
        params.pop(name, None)
    refused = sorted(name for name in params if name in REFUSED_PARAMS)
    if refused:
        raise ConfigurationError(
            f"Gemini has no equivalent of {', '.join(refused)}: remove it, or use the 'openai' provider"
        )
    for name, value in params.items():  # Gemini's own fields, untouched
        if name in ("generationConfig", "toolConfig") and isinstance(value, Mapping):
            body[name] = _merge(body.get(name, {}), value)
        else:
            body[name] = value
    if config:
        body["generationConfig"] = _merge(config, body.get("generationConfig", {}))
    return body


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, merging nested dicts."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _response_format(fmt: Any) -> dict[str, Any]:
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "text":
        return {}
    if kind == "json_object":
        return {"responseMimeType": "application/json"}
    if kind == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        out: dict[str, Any] = {"responseMimeType": "application/json"}
        if schema is not None:
            out["responseJsonSchema"] = schema
        return out
    raise ConfigurationError(
        "response_format must be {'type': 'text'}, {'type': 'json_object'} or "
        f"{{'type': 'json_schema', 'json_schema': {{'name': ..., 'schema': {{...}}}}}}, not {fmt!r:.100}"
    )


def map_tools(tools: list[Any], functions: list[Any] = ()) -> list[dict[str, Any]]:
    """OpenAI tools (and legacy functions) -> Gemini ``tools``; Gemini-shaped tools
    (``{"googleSearch": {}}``, ``{"functionDeclarations": [...]}``) pass untouched."""
    declarations: list[dict[str, Any]] = []
    native: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, Mapping):
            raise ConfigurationError(f"each tool must be a dict, not {type(tool).__name__}")
        kind = tool.get("type")
        if kind == "function":
            declarations.append(_declaration(tool.get("function") or {}))
        elif kind is None:
            native.append(dict(tool))
        else:
            raise ConfigurationError(
                f"tool type {kind!r} has no Gemini equivalent: give function tools, or Gemini's own tool "
                "objects such as {'googleSearch': {}} or {'codeExecution': {}}"
            )
    declarations.extend(_declaration(fn) for fn in functions)
    return ([{"functionDeclarations": declarations}] if declarations else []) + native


def _declaration(fn: Mapping[str, Any]) -> dict[str, Any]:
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"a function tool needs a 'name': {dict(fn)!r:.100}")
    out: dict[str, Any] = {"name": name}
    if fn.get("description"):
        out["description"] = fn["description"]
    if fn.get("parameters") is not None:
        out["parametersJsonSchema"] = fn["parameters"]
    return out


def _function_calling_config(choice: Any) -> dict[str, Any] | None:
    """OpenAI ``tool_choice`` (or legacy ``function_call``) -> ``functionCallingConfig``."""
    if choice is None:
        return None
    if isinstance(choice, str):
        if choice not in _TOOL_CHOICE_MODES:
            raise ConfigurationError(f"tool_choice must be 'auto', 'none', 'required' or a function, not {choice!r}")
        return {"mode": _TOOL_CHOICE_MODES[choice]}
    if isinstance(choice, Mapping):
        if choice.get("type") == "allowed_tools":
            allowed = choice.get("allowed_tools") or {}
            names = [_tool_name(t) for t in allowed.get("tools") or []]
            mode = "ANY" if allowed.get("mode") == "required" else "AUTO"
            return {"mode": mode, "allowedFunctionNames": names} if mode == "ANY" else {"mode": mode}
        name = _tool_name(choice)
        if name:
            return {"mode": "ANY", "allowedFunctionNames": [name]}
    raise ConfigurationError(f"cannot map tool_choice {choice!r:.100} to Gemini's functionCallingConfig")


def _tool_name(tool: Any) -> str | None:
    if not isinstance(tool, Mapping):
        return None
    fn = tool.get("function")
    name = fn.get("name") if isinstance(fn, Mapping) else tool.get("name")
    return name if isinstance(name, str) else None


# ---------------------------------------------------------------- messages


def map_messages(messages: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """OpenAI chat messages -> (``systemInstruction``, ``contents``).

    System and developer messages (wherever they are) become the system
    instruction; assistant turns are role ``model``; tool results are
    ``functionResponse`` parts of a user turn; consecutive turns of one role
    are merged; turns left without parts are dropped.
    """
    if not isinstance(messages, (list, tuple)):
        raise ConfigurationError("messages must be a list of message dicts")
    history = [_as_dict(m, i) for i, m in enumerate(messages)]
    system: list[dict[str, Any]] = []
    contents: list[dict[str, Any]] = []
    for i, msg in enumerate(history):
        role = msg.get("role")
        label = f"messages[{i}]"
        if role in ("system", "developer"):
            system.extend(_text_parts(msg.get("content"), label))
            continue
        if role == "user":
            turn, parts = "user", _user_parts(msg.get("content"), label)
        elif role in ("assistant", "model"):
            turn, parts = "model", _assistant_parts(msg, label)
        elif role in ("tool", "function"):
            turn, parts = "user", [_function_response_part(msg, history[:i], label)]
        else:
            raise ConfigurationError(f"{label} has role {role!r}; use system, developer, user, assistant or tool")
        if not parts:
            continue
        if contents and contents[-1]["role"] == turn:
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": turn, "parts": parts})
    return ({"parts": system} if system else None), contents


def _as_dict(message: Any, index: int) -> dict[str, Any]:
    if isinstance(message, Model):
        message = message.raw
    if not isinstance(message, Mapping):
        raise ConfigurationError(
            f"messages[{index}] must be a dict with 'role' and 'content', not {type(message).__name__}"
        )
    return dict(message)


def _text_parts(content: Any, label: str) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"text": content}]
    if isinstance(content, list):
        out = []
        for part in content:
            if not isinstance(part, Mapping):
                raise ConfigurationError(f"{label}: only text parts are allowed here, not {part!r:.80}")
            if isinstance(part.get("text"), str) and part.get("type", "text") in ("text", "refusal"):
                if part["text"]:
                    out.append({"text": part["text"]})
            elif isinstance(part.get("refusal"), str):
                out.append({"text": part["refusal"]})
            else:
                raise ConfigurationError(f"{label}: only text parts are allowed here, not {part!r:.80}")
        return out
    raise ConfigurationError(f"{label}: content must be a string or a list of parts, not {type(content).__name__}")


def _user_parts(content: Any, label: str) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return _text_parts(content, label)
    out: list[dict[str, Any]] = []
    for i, part in enumerate(content):
        where = f"{label}.content[{i}]"
        if not isinstance(part, Mapping):
            raise ConfigurationError(f"{where} must be a dict such as {{'type': 'text', 'text': '...'}}")
        kind = part.get("type")
        if kind is None:
            out.append(dict(part))  # a Gemini part ({"inlineData": ...}, {"fileData": ...}): untouched
        elif kind == "text":
            if part.get("text"):
                out.append({"text": part["text"]})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            out.append(_url_part(url, where))
        elif kind == "input_audio":
            audio = part.get("input_audio") or {}
            fmt = audio.get("format") or "wav"
            out.append({"inlineData": {"mimeType": f"audio/{fmt}", "data": audio.get("data", "")}})
        elif kind == "file":
            file = part.get("file") or {}
            if file.get("file_data"):
                data = file["file_data"]
                if data.startswith("data:"):
                    out.append(_url_part(data, where))
                else:
                    mime = mimetypes.guess_type(file.get("filename") or "")[0] or "application/octet-stream"
                    out.append({"inlineData": {"mimeType": mime, "data": data}})
            elif file.get("file_id"):
                out.append(_url_part(file["file_id"], where))
            else:
                raise ConfigurationError(f"{where}: a file part needs 'file_data' or 'file_id'")
        else:
            raise ConfigurationError(f"{where}: content part type {kind!r} has no Gemini equivalent")
    return out


def _url_part(url: Any, where: str) -> dict[str, Any]:
    """A ``data:`` URL -> ``inlineData``; any other URL -> ``fileData``."""
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"{where}: needs a URL")
    if url.startswith("data:"):
        head, sep, data = url[5:].partition(",")
        if not sep:
            raise ConfigurationError(f"{where}: malformed data URL (no ',')")
        mime, _, flags = head.partition(";")
        if "base64" not in flags.split(";"):
            data = base64.b64encode(unquote_to_bytes(data)).decode("ascii")
        return {"inlineData": {"mimeType": mime or "application/octet-stream", "data": data}}
    file: dict[str, Any] = {"fileUri": url}
    mime = mimetypes.guess_type(urlsplit(url).path)[0]
    if mime:
        file = {"mimeType": mime, **file}
    return {"fileData": file}


def _assistant_parts(msg: dict[str, Any], label: str) -> list[dict[str, Any]]:
    """An assistant message's parts: the ones Gemini sent, kept in
    ``extra_content.google.parts``, exactly; else its text, then its calls."""
    parts = _text_parts(msg.get("content"), label)
    calls = []
    for call in msg.get("tool_calls") or []:
        if not isinstance(call, Mapping):
            raise ConfigurationError(f"{label}: each tool call must be a dict")
        calls.append(_function_call_part(call, label))
    legacy = msg.get("function_call")
    if isinstance(legacy, Mapping):
        calls.append(_function_call_part({"function": legacy}, label))
    kept = kept_parts(msg)
    if kept is None:
        return parts + calls
    if not isinstance(kept, list) or not all(isinstance(part, Mapping) for part in kept):
        raise ConfigurationError(f"{label}: extra_content.google.parts must be the list of part dicts Gemini sent")
    if _part_text(kept) != _part_text(parts) or _part_calls(kept) != _part_calls(calls):
        raise ConfigurationError(
            f"{label}: its content or tool calls no longer match extra_content.google.parts, the parts Gemini "
            "sent (sent back exactly, with their thought signatures); undo the edit, or remove 'extra_content' "
            "from the message to send the edited text and calls without Gemini's parts and signatures"
        )
    return [dict(part) for part in copy.deepcopy(kept)]


def kept_parts(message: Mapping[str, Any]) -> Any:
    """The parts of a Gemini reply kept on its message (``extra_content.google.parts``), or ``None``."""
    extra = message.get("extra_content")
    google = extra.get("google") if isinstance(extra, Mapping) else None
    return google.get("parts") if isinstance(google, Mapping) else None


def _part_text(parts: list[Mapping[str, Any]]) -> str:
    """The answer text of ``parts``: their non-thought text parts, joined."""
    return "".join(p["text"] for p in parts if isinstance(p.get("text"), str) and not p.get("thought"))


def _part_calls(parts: list[Mapping[str, Any]]) -> list[tuple[Any, Any]]:
    """(name, args) of each ``functionCall`` part."""
    return [(p["functionCall"].get("name"), p["functionCall"].get("args") or {})
            for p in parts if isinstance(p.get("functionCall"), Mapping)]


def _function_call_part(call: Mapping[str, Any], label: str) -> dict[str, Any]:
    fn = call.get("function") or {}
    arguments = fn.get("arguments")
    if isinstance(arguments, Mapping):
        args = dict(arguments)
    else:
        try:
            args = json.loads(arguments) if isinstance(arguments, str) and arguments.strip() else {}
        except ValueError:
            raise ConfigurationError(f"{label}: tool call arguments are not valid JSON: {arguments!r:.100}") from None
        if not isinstance(args, dict):
            raise ConfigurationError(f"{label}: tool call arguments must be a JSON object, not {arguments!r:.100}")
    function_call: dict[str, Any] = {"name": fn.get("name"), "args": args}
    call_id = call.get("id")
    if call_id and not str(call_id).startswith(GENERATED_ID_PREFIX):
        function_call = {"id": call_id, **function_call}
    part: dict[str, Any] = {"functionCall": function_call}
    signature = thought_signature(call)
    if signature:
        part["thoughtSignature"] = signature
    return part


def thought_signature(call: Mapping[str, Any]) -> str | None:
    """The thought signature a tool call carries (``extra_content.google.thought_signature``)."""
    extra = call.get("extra_content")
    google = extra.get("google") if isinstance(extra, Mapping) else None
    signature = google.get("thought_signature") if isinstance(google, Mapping) else None
    return signature if isinstance(signature, str) else None


def _function_response_part(msg: dict[str, Any], earlier: list[dict[str, Any]], label: str) -> dict[str, Any]:
    call_id = msg.get("tool_call_id")
    name = msg.get("name") or _called_name(call_id, earlier)
    if not name:
        raise ConfigurationError(
            f"{label}: tool_call_id {call_id!r} matches no tool call of an earlier assistant message; "
            "Gemini needs the function's name: add 'name': '<function name>' to the tool message"
        )
    response: dict[str, Any] = {"name": name, "response": _response_object(msg.get("content"))}
    if call_id and not str(call_id).startswith(GENERATED_ID_PREFIX):
        response = {"id": call_id, **response}
    return {"functionResponse": response}


def _called_name(call_id: Any, earlier: list[dict[str, Any]]) -> str | None:
    """The name of the function ``call_id`` answers: found by id in the nearest
    assistant message that has it, or (for an empty id) by position."""
    if call_id:
        for msg in reversed(earlier):
            calls = msg.get("tool_calls") if msg.get("role") in ("assistant", "model") else None
            for call in calls or []:
                if isinstance(call, Mapping) and call.get("id") == call_id:
                    return (call.get("function") or {}).get("name")
        return None
    answered = 0
    for msg in reversed(earlier):
        if msg.get("role") == "tool":
            answered += 1
        elif msg.get("role") in ("assistant", "model") and msg.get("tool_calls"):
            calls = msg["tool_calls"]
            return (calls[answered].get("function") or {}).get("name") if answered < len(calls) else None
    return None


def _response_object(content: Any) -> dict[str, Any]:
    """A tool result as ``functionResponse.response``: a JSON object stays one,
    anything else is ``{"output": <text>}``."""
    if isinstance(content, Mapping):
        return dict(content)
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    text = "" if content is None else content if isinstance(content, str) else json.dumps(content)
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    return value if isinstance(value, dict) else {"output": text}


# ---------------------------------------------------------------- embeddings


def embedding_body(model: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(method, body): ``embedContent`` for one string, ``batchEmbedContents`` for a list."""
    params = dict(params)
    inputs = params.pop("input")
    fmt = params.pop("encoding_format", None)
    if fmt not in (None, "float"):
        raise ConfigurationError(f"Gemini returns float embeddings only: remove encoding_format={fmt!r}")
    params.pop("user", None)
    options = {_EMBEDDING_PARAMS.get(key, key): value for key, value in params.items() if value is not None}
    if isinstance(inputs, str):
        return "embedContent", {"content": _embed_content(inputs), **options}
    if isinstance(inputs, (list, tuple)) and inputs and all(isinstance(text, str) for text in inputs):
        resource = model_resource(model)
        return "batchEmbedContents", {
            "requests": [{"model": resource, "content": _embed_content(text), **options} for text in inputs]
        }
    raise ConfigurationError("Gemini embeds text only: input must be a string or a list of strings")


def _embed_content(text: str) -> dict[str, Any]:
    return {"parts": [{"text": text}]}


# ================================================================ responses


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


def _add_streamed_part(parts: list[dict[str, Any]], part: Mapping[str, Any]) -> None:
    """Add a part that arrived in a stream: a piece of text continues the text part
    before it (same kind, thought or not, and no signature yet), taking its
    signature along; an empty text part (a bare signature) and any other part
    stand alone, as in the non-streamed reply."""
    prev = parts[-1] if parts else None
    text = part.get("text")
    if (
        prev is not None and isinstance(text, str) and text and isinstance(prev.get("text"), str)
        and prev.keys() <= {"text", "thought"} and part.keys() <= {"text", "thought", "thoughtSignature"}
        and bool(prev.get("thought")) == bool(part.get("thought"))
    ):
        prev["text"] += text
        if part.get("thoughtSignature"):
            prev["thoughtSignature"] = part["thoughtSignature"]
        return
    parts.append(copy.deepcopy(dict(part)))


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
    return result


class ChunkParser:
    """Turns the events of one ``streamGenerateContent`` stream into chunks.

    Each event is a whole ``GenerateContentResponse`` with only the new parts;
    the parser remembers which candidates started (the role is sent once),
    how many calls each made (indices and made-up ids continue), whether a
    call came (so ``STOP`` becomes ``"tool_calls"``) and each candidate's parts
    (text pieces joined): the chunk that finishes a candidate carries the
    message's ``extra_content.google`` (:func:`google_extras`), so the
    assembled message equals the non-streamed one.
    """

    def __init__(self) -> None:
        self.ids = _CallIds()
        self.started: set[int] = set()
        self.with_calls: set[int] = set()
        self.parts: dict[int, list[dict[str, Any]]] = {}

    def __call__(self, event: SSEEvent) -> Any:
        payload = event.data
        if not payload.strip():
            return SKIP
        if payload == "[DONE]":
            return DONE
        data = parse_json_event(event)
        if isinstance(data, Mapping) and "error" in data and "candidates" not in data:
            raise StreamError(f"the server reported an error mid-stream: {error_message(data)}", payload=payload)
        return self.chunk(data)

    def chunk(self, data: Any) -> ChatCompletionChunk:
        if not isinstance(data, Mapping):
            return structure(data, ChatCompletionChunk)
        choices = []
        for index, cand in _candidates(data):
            parts = (cand.get("content") or {}).get("parts")
            texts, thoughts, calls = _read_parts(parts, data.get("responseId"), index, self.ids)
            delta: dict[str, Any] = {}
            if index not in self.started:
                self.started.add(index)
                delta["role"] = "assistant"
            text, thought = "".join(texts), "".join(thoughts)
            if text:
                delta["content"] = text
            if thought:
                delta["reasoning"] = thought
            if calls:
                delta["tool_calls"] = calls
                self.with_calls.add(index)
            seen = self.parts.setdefault(index, [])
            for part in parts if isinstance(parts, list) else []:
                if isinstance(part, Mapping):
                    _add_streamed_part(seen, part)
            if cand.get("finishReason"):
                extras = google_extras(self.parts.pop(index))
                if extras:
                    delta["extra_content"] = {"google": extras}
            choices.append(_choice(cand, index, "delta", delta, index in self.with_calls))
        blocked = None if choices else _blocked_choice(data, "delta")
        if blocked:
            choices.append(blocked)
        return _openai_shaped(data, choices, ChatCompletionChunk)


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
    shaped = usage(data.get("usageMetadata"))
    return EmbeddingList(
        data=items,
        model=model,
        usage=structure(shaped, Usage) if shaped is not None else None,
        raw=data,
    )


def model_from_gemini(entry: Any) -> ModelInfo:
    """A Gemini ``Model`` as :class:`ModelInfo` (``id`` without ``models/``, raw kept)."""
    if not isinstance(entry, Mapping):
        return structure(entry, ModelInfo)
    return ModelInfo(
        id=model_id(str(entry.get("name") or entry.get("baseModelId") or "")),
        owned_by="google",
        display_name=entry.get("displayName"),
        raw=entry,
    )


def models_from_gemini(data: Any) -> ModelList:
    if not isinstance(data, Mapping):
        return structure(data, ModelList)
    return ModelList(data=[model_from_gemini(entry) for entry in data.get("models") or []], raw=data)


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


# ================================================================ errors


def parse_gemini_error(provider: ProviderSpec, response: Response, body: Any) -> APIStatusError:
    """A Google error body (``{"error": {code, message, status, details}}``, or a
    list of them as the OpenAI-compatible endpoint sends) as the typed error;
    ``RetryInfo.retryDelay`` becomes ``retry_after``."""
    holder = body[0] if isinstance(body, list) and body and isinstance(body[0], Mapping) else body
    error = holder.get("error") if isinstance(holder, Mapping) else None
    delay = retry_info_delay(body)
    if delay is None:
        delay = parse_retry_after(response.headers)
    message = error_message(holder, f"HTTP {response.status_code}")
    if isinstance(error, Mapping) and isinstance(error.get("message"), str) and error["message"]:
        status = error.get("status")
        message = f"{error['message']} ({status})" if status else error["message"]
    return make_status_error(
        message,
        status_code=response.status_code,
        body=body,
        headers=response.headers,
        provider=provider.name,
        request=response.request,
        retry_after=delay,
    )


# ================================================================ hooks


@hookimpl(trylast=True)
def llmplug_build_request(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request | None:
    return build_gemini_request(provider, operation, params) if provider.family == FAMILY else None


@hookimpl(trylast=True)
def llmplug_authenticate(provider: ProviderSpec, request: Request, api_key: str | None) -> Request | None:
    if provider.family != FAMILY:
        return None
    if api_key:
        request.headers["x-goog-api-key"] = api_key
    return request


@hookimpl(trylast=True)
def llmplug_parse_response(provider: ProviderSpec, operation: str, data: Any, response: Response) -> Any:
    return parse_gemini_response(operation, data, response) if provider.family == FAMILY else None


def _json_events(event: SSEEvent) -> Any:
    """Events of a generic stream: decoded JSON (``[DONE]`` ends an OpenAI-style one)."""
    if event.data == "[DONE]":
        return DONE
    return parse_json_event(event) if event.data.strip() else SKIP


@hookimpl(trylast=True)
def llmplug_stream_parser(provider: ProviderSpec, operation: str) -> Callable[[SSEEvent], Any] | None:
    if provider.family != FAMILY:
        return None
    return ChunkParser() if operation == "chat.create" else Terminated(_json_events, by="eof")


@hookimpl(trylast=True)
def llmplug_next_page(provider: ProviderSpec, operation: str, params: dict[str, Any], result: Any) -> dict[str, Any] | None:
    if provider.family != FAMILY or operation != "models.list":
        return None
    token = result.raw.get("nextPageToken") if isinstance(getattr(result, "raw", None), Mapping) else None
    return {**params, "pageToken": token} if token else None


@hookimpl(trylast=True)
def llmplug_parse_error(provider: ProviderSpec, operation: str, response: Response, body: Any) -> APIStatusError | None:
    return parse_gemini_error(provider, response, body) if provider.family == FAMILY else None


__all__ = [
    "FAMILY",
    "PROVIDERS",
    "build_gemini_request",
    "chat_body",
    "completion_from_gemini",
    "embedding_body",
    "map_messages",
    "map_tools",
    "model_resource",
    "parse_gemini_error",
]
