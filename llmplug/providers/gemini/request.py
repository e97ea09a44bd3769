"""Request mapping for ``gemini``: an operation and its OpenAI-style params become a
native v1beta request (method, URL, JSON body). Chat params go to a
``generateContent`` body (``generationConfig``, ``tools``, ``toolConfig``);
params Gemini has no meaning for are dropped or refused, Gemini's own fields
pass untouched; messages are mapped in :mod:`.messages`; operations the native
API lacks raise :class:`UnsupportedOperationError` with what to use instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from llmplug.plugin import (
    ConfigurationError,
    encode_json,
    generic_request,
    merge_params,
    ProviderSpec,
    query_string,
    Request,
    UnsupportedOperationError,
)

from .messages import map_messages

#: What to use instead, for operations Gemini's native API has no equivalent of.
_RESPONSES_HINT = (
    "the Responses API is OpenAI's: use create_chat_completion() or new_chat_session(), or the 'openai' provider"
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
    "responses.create": _RESPONSES_HINT,
    "responses.retrieve": _RESPONSES_HINT,
    "responses.delete": _RESPONSES_HINT,
    "responses.cancel": _RESPONSES_HINT,
}


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


def _required_model(provider: ProviderSpec, params: dict[str, Any]) -> str:
    model = params.pop("model", None)  # core filled in the operation's default model
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
        model = _required_model(provider, params)
        stream = bool(params.pop("stream", False))
        body = chat_body(params)
        if stream:
            url = _model_url(provider, model, "streamGenerateContent") + "?alt=sse"
        else:
            url = _model_url(provider, model, "generateContent")
        return _json_request(url, body, stream=stream, model=model)
    if operation == "embeddings.create":
        model = _required_model(provider, params)
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
            body[name] = merge_params(body.get(name, {}), value)
        else:
            body[name] = value
    if config:
        body["generationConfig"] = merge_params(config, body.get("generationConfig", {}))
    return body


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
