"""The OpenAI provider family: ``openai``, ``openrouter``, ``openai-compatible``
(Ollama, vLLM, llama.cpp...) and ``gemini-openai`` (Gemini's OpenAI-compatible
endpoint). It maps operations to OpenAI's REST paths and normalises bodies,
events and errors; it does no I/O.

A provider's quirks are options of its spec, so every name shares one code path:
``unsupported_operations`` maps an operation to what to use instead;
``stop_means_tool_calls`` turns a ``"stop"`` finish reason on a choice that
made tool calls into ``"tool_calls"`` (Gemini's endpoint streams it so); and
``fill_tool_call_ids`` gives a tool call sent with ``"id": ""`` (and, streamed,
no ``index``) a generated id ``call_<hex>``, the same on every chunk of that
call and in the assembled message, so the next turn's ``tool`` message can
refer to it. Non-streamed, the id is filled in ``.raw`` too, since a history is
built from it. ``stream_include_usage`` says the server takes
``stream_options.include_usage``, which chat sessions ask for when they stream;
``embeddings_base64`` asks for embeddings as base64 when the caller named no
``encoding_format`` (a quarter of the bytes, decoded with ``array``, as
openai-python does) and hands back the same lists of floats. ``schema_inline_refs`` sends
typed schemas with every ``$ref`` inlined, no ``$defs`` (Gemini's endpoint maps
them onto a schema form without references). ``retry_info`` asks
the ``gemini`` plugin's ``llmplug_parse_error`` wrapper to set ``retry_after`` from Google's ``RetryInfo``. Extra fields such as thought signatures
(``extra_content.google.thought_signature``) stay on the tool call, so a
replayed history sends them back unchanged.
"""

from __future__ import annotations

import array
import base64
import os
import sys
from functools import partial
from typing import Any, Callable

from llmplug.plugin import (
    ChatCompletion,
    ChatCompletionChunk,
    DONE,
    encode_json,
    encode_multipart,
    generic_request,
    get_operation,
    hookimpl,
    key_header,
    parse_json_event,
    path_segment,
    ProviderSpec,
    query_string,
    require_model,
    Request,
    Response,
    SKIP,
    SSEEvent,
    StreamParser,
    StreamError,
    structure,
    Terminated,
    UnsupportedOperationError,
)

FAMILY = "openai"

#: operation -> (method, path template); ``{name}`` segments are taken from the params.
ROUTES: dict[str, tuple[str, str]] = {
    "chat.create": ("POST", "/chat/completions"),
    "completions.create": ("POST", "/completions"),
    "embeddings.create": ("POST", "/embeddings"),
    "moderations.create": ("POST", "/moderations"),
    "models.list": ("GET", "/models"),
    "models.retrieve": ("GET", "/models/{model}"),
    "files.list": ("GET", "/files"),
    "files.create": ("POST", "/files"),
    "files.retrieve": ("GET", "/files/{file_id}"),
    "files.delete": ("DELETE", "/files/{file_id}"),
    "files.content": ("GET", "/files/{file_id}/content"),
    "images.generate": ("POST", "/images/generations"),
    "responses.create": ("POST", "/responses"),
    "responses.retrieve": ("GET", "/responses/{response_id}"),
    "responses.delete": ("DELETE", "/responses/{response_id}"),
    "responses.cancel": ("POST", "/responses/{response_id}/cancel"),
    "batches.create": ("POST", "/batches"),
    "batches.retrieve": ("GET", "/batches/{batch_id}"),
    "batches.list": ("GET", "/batches"),
    "batches.cancel": ("POST", "/batches/{batch_id}/cancel"),
}
#: Operations OpenAI's API has no equivalent of, and what to use instead.
_NO_EQUIVALENT = {
    "batches.delete": "OpenAI's Batch API deletes no jobs: cancel_batch() stops one; delete its files with delete_file()",
}
#: Streams that end at ``[DONE]``.
_DONE_TERMINATED = frozenset({"chat.create", "completions.create"})


def _compatible(name: str, description: str, **fields: Any) -> ProviderSpec:
    """The spec of an OpenAI-compatible API: no user options; streams ask for usage."""
    options = {"stream_include_usage": True, **fields.pop("options", {})}
    return ProviderSpec(name=name, family=FAMILY, options=options, user_options=(), description=description, **fields)


PROVIDERS = (
    ProviderSpec(
        name="openai",
        family=FAMILY,
        base_url="https://api.openai.com/v1",
        api_key_env=("OPENAI_API_KEY",),
        base_url_env=("OPENAI_BASE_URL",),
        default_model="gpt-4.1",
        defaults={
            "completions.create": {"model": "gpt-3.5-turbo-instruct", "temperature": 0.5, "max_tokens": 600},
            "embeddings.create": {"model": "text-embedding-3-small"},
        },
        options={"stream_include_usage": True, "embeddings_base64": True},
        user_options=("organization", "project"),
        options_env={"organization": ("OPENAI_ORG_ID",), "project": ("OPENAI_PROJECT_ID",)},
        description="OpenAI's API (options: organization=, project=; or OPENAI_ORG_ID, OPENAI_PROJECT_ID)",
    ),
    _compatible(
        "openrouter",
        "OpenRouter's OpenAI-compatible API",
        base_url="https://openrouter.ai/api/v1",
        api_key_env=("OPENROUTER_API_KEY",),
        default_model="openai/gpt-4.1",
        defaults={"embeddings.create": {"model": "openai/text-embedding-3-small"}},
    ),
    _compatible(
        "openai-compatible",
        "any OpenAI-compatible server (Ollama, vLLM, llama.cpp...): base_url required, key optional",
        base_url=None,
        api_key_env=("OPENAI_COMPATIBLE_API_KEY",),
        requires_key=False,
    ),
    _compatible(
        "gemini-openai",
        "Gemini's OpenAI-compatible endpoint",
        base_url="https://generativelanguage.googleapis.com/v1beta/openai",
        api_key_env=("GEMINI_API_KEY", "GOOGLE_API_KEY"),
        default_model="gemini-2.5-flash",
        defaults={"embeddings.create": {"model": "gemini-embedding-001"}},
        options={
            "stop_means_tool_calls": True,
            "fill_tool_call_ids": True,
            "retry_info": True,
            "schema_inline_refs": True,
            "unsupported_operations": {
                **dict.fromkeys(
                    ("responses.create", "responses.retrieve", "responses.delete", "responses.cancel"),
                    "the Responses API is OpenAI's: use create_chat_completion() or new_chat_session(), "
                    "or the 'openai' provider",
                ),
                "completions.create": "Gemini has no legacy text completions: use create_chat_completion()",
                "moderations.create": (
                    "Gemini has no moderation endpoint: read the safety ratings of the 'gemini' provider's "
                    "chat completions, or use the 'openai' provider"
                ),
            },
        },
    ),
)


@hookimpl
def llmplug_register_providers(register: Any) -> None:
    register(*PROVIDERS)


def build_openai_request(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request:
    """Map an operation to an OpenAI-style request against ``provider.base_url``."""
    params = dict(params)
    instead = provider.options.get("unsupported_operations", {}).get(operation) or _NO_EQUIVALENT.get(operation)
    if instead:
        raise UnsupportedOperationError(f"provider {provider.name!r} has no {operation!r}: {instead}")
    if operation == "request":
        return generic_request(provider.base_url or "", params)
    try:
        method, template = ROUTES[operation]
    except KeyError:
        raise UnsupportedOperationError(
            f"provider {provider.name!r} has no operation {operation!r}; use client.request(method, path, ...)"
        ) from None
    keys = _PLACEHOLDERS[operation]
    path = template.format_map({key: path_segment(params.pop(key)) for key in keys}) if keys else template
    stream = bool(params.get("stream"))
    headers = {"Accept": "text/event-stream" if stream else "application/json"}
    url = provider.base_url + path
    content = None
    if operation == "files.create":
        filename, data = params.pop("file")
        content, headers["Content-Type"] = encode_multipart(params, {"file": (filename, data)})
    elif method == "GET":
        url += query_string(params)
    elif method != "DELETE" or params:
        require_model(provider, operation, params)  # core filled in the spec's defaults and default model
        if _sends_base64(provider, operation, params):
            params["encoding_format"] = "base64"
        content = encode_json(params)
        headers["Content-Type"] = "application/json"
    options = provider.options
    for option, header in _ACCOUNT_HEADERS:
        if options.get(option):
            headers[header] = options[option]
    return Request(method, url, headers, content)


#: OpenAI's account scoping: the option and the header it sends (as openai-python does).
_ACCOUNT_HEADERS = (("organization", "OpenAI-Organization"), ("project", "OpenAI-Project"))


#: operation -> the ``{name}`` segments of its path template.
_PLACEHOLDERS = {
    operation: [part[1:-1] for part in template.split("/") if part.startswith("{")]
    for operation, (_, template) in ROUTES.items()
}


@hookimpl(trylast=True)
def llmplug_build_request(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request | None:
    return build_openai_request(provider, operation, params)


llmplug_authenticate = key_header("Authorization", "Bearer ")


@hookimpl(trylast=True)
def llmplug_structured_output(provider: ProviderSpec, operation: str, output: Any) -> dict[str, Any] | None:
    """Strict mode: the schema under OpenAI's strict rules, ``strict: true``; as
    ``response_format`` for Chat Completions, ``text.format`` for Responses."""
    spec: dict[str, Any] = {
        "name": output.name,
        "schema": output.strict_schema(inline_refs=bool(provider.options.get("schema_inline_refs"))),
        "strict": True,
    }
    if output.description:
        spec["description"] = output.description
    if operation == "responses.create":
        return {"text": {"format": {"type": "json_schema", **spec}}}
    return {"response_format": {"type": "json_schema", "json_schema": spec}}


@hookimpl(trylast=True)
def llmplug_function_tool(provider: ProviderSpec, operation: str, tool: Any) -> dict[str, Any] | None:
    """A typed tool, strict where its schema allows (``"strict": true``)."""
    declaration = tool.default_declaration(operation)
    schema = tool.strict_schema(inline_refs=bool(provider.options.get("schema_inline_refs")))
    if schema is not None:
        function = declaration if operation == "responses.create" else declaration["function"]
        function["parameters"] = schema
        function["strict"] = True
    return declaration


@hookimpl(trylast=True)
def llmplug_batch_format(provider: ProviderSpec) -> Any:
    """OpenAI's Batch API: a JSONL input file, output and error files."""
    from .openai_batch import OpenAIBatchFormat  # loaded for batch jobs only

    return OpenAIBatchFormat()


@hookimpl(trylast=True)
def llmplug_parse_response(
    provider: ProviderSpec, operation: str, data: Any, response: Response, params: dict[str, Any]
) -> Any:
    model = get_operation(operation).result
    if provider.options.get("fill_tool_call_ids") and operation == "chat.create":
        _fill_tool_call_ids(data)
    if _sends_base64(provider, operation, params):
        _floats_from_base64(data)
    result = data if model is None else structure(data, model)
    if provider.options.get("stop_means_tool_calls") and isinstance(result, ChatCompletion):
        for choice in result.choices:
            if choice.finish_reason == "stop" and choice.message.tool_calls:
                choice.finish_reason = "tool_calls"
    return result


def _sends_base64(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> bool:
    """Whether embeddings are asked for as base64 on the caller's behalf (it named no format)."""
    return operation == "embeddings.create" and bool(provider.options.get("embeddings_base64")) and (
        "encoding_format" not in params
    )


def _floats_from_base64(data: Any) -> None:
    """Turn each base64 embedding of ``data`` (little-endian float32) back into the list of floats."""
    for item in data.get("data") or () if isinstance(data, dict) else ():
        encoded = item.get("embedding") if isinstance(item, dict) else None
        if isinstance(encoded, str):
            values = array.array("f", base64.b64decode(encoded))
            if sys.byteorder == "big":
                values.byteswap()
            item["embedding"] = values.tolist()


def new_call_id() -> str:
    """A tool-call id for a call the server sent without one."""
    return f"call_{os.urandom(12).hex()}"


def _fill_tool_call_ids(data: Any) -> None:
    """Give each tool call of a completion body whose id is empty a generated one."""
    for choice in data.get("choices") or () if isinstance(data, dict) else ():
        message = choice.get("message") if isinstance(choice, dict) else None
        for call in (message.get("tool_calls") or ()) if isinstance(message, dict) else ():
            if isinstance(call, dict) and not call.get("id"):
                call["id"] = new_call_id()


def parse_openai_event(model: type | None, event: SSEEvent) -> Any:
    """One OpenAI SSE event as ``model`` (or DONE / SKIP); error events raise."""
    payload = event.data
    if payload == "[DONE]" or event.event == "done":
        return DONE
    if not payload or payload.isspace():
        return SKIP
    data = parse_json_event(event)
    if type(data) is dict and ("error" in data or data.get("type") in _ERROR_TYPES or event.event in _ERROR_TYPES):
        kind = data.get("type") or event.event
        if kind in _ERROR_TYPES or (kind == "message" and "error" in data and "choices" not in data):
            raise StreamError(f"the server reported an error mid-stream: {_stream_error_message(data)}", payload=payload)
    return data if model is None else structure(data, model)


#: Event types that report an error.
_ERROR_TYPES = ("error", "response.failed")


def _stream_error_message(data: dict[str, Any]) -> str:
    for holder in (data.get("error"), (data.get("response") or {}).get("error"), data):
        if isinstance(holder, dict) and holder.get("message"):
            code = holder.get("code")
            return f"{holder['message']} ({code})" if code else str(holder["message"])
    return str(data)[:300]


@hookimpl(trylast=True)
def llmplug_stream_parser(provider: ProviderSpec, operation: str) -> Callable[[SSEEvent], Any] | None:
    options = provider.options
    if operation == "chat.create" and (options.get("stop_means_tool_calls") or options.get("fill_tool_call_ids")):
        parse: Callable[[SSEEvent], Any] = QuirkChunkParser(
            stop_means_tool_calls=bool(options.get("stop_means_tool_calls")),
            fill_ids=bool(options.get("fill_tool_call_ids")),
        )
    else:
        parse = partial(parse_openai_event, get_operation(operation).event)
    # Chat and text completions end at [DONE]: a body cut after the last
    # finish reason would lose the usage chunk. Responses end at response.completed.
    return Terminated(parse, by="done") if operation in _DONE_TERMINATED else parse


class QuirkChunkParser(StreamParser):
    """Chat chunks for one stream, with a provider's quirks mended on the models
    (``.raw`` keeps what the server sent):

    - ``stop_means_tool_calls``: ``"stop"`` after tool calls becomes ``"tool_calls"``;
    - ``fill_ids``: a tool-call delta with no ``index`` belongs to the last call
      of its choice unless it names a function (then it starts the next one),
      and gets that call's index; an empty id becomes the call's generated id.
    """

    def __init__(self, *, stop_means_tool_calls: bool, fill_ids: bool) -> None:
        self.stop_means_tool_calls = stop_means_tool_calls
        self.fill_ids = fill_ids
        self.with_calls: set[int] = set()
        #: choice index -> the ids of its calls so far, by call index
        self.call_ids: dict[int, list[str]] = {}

    def parse(self, event: SSEEvent) -> Any:
        chunk = parse_openai_event(ChatCompletionChunk, event)
        if isinstance(chunk, ChatCompletionChunk):
            for choice in chunk.choices:
                if choice.delta.tool_calls:
                    self.with_calls.add(choice.index)
                    if self.fill_ids:
                        self._fill(self.call_ids.setdefault(choice.index, []), choice.delta.tool_calls)
                if self.stop_means_tool_calls and choice.finish_reason == "stop" and choice.index in self.with_calls:
                    choice.finish_reason = "tool_calls"
        return chunk

    @staticmethod
    def _fill(ids: list[str], deltas: list[Any]) -> None:
        for delta in deltas:
            if delta.index is None:
                starts = not ids or bool(delta.function and delta.function.name) or (delta.id and delta.id not in ids)
                delta.index = len(ids) if starts else len(ids) - 1
            while len(ids) <= delta.index:
                ids.append(new_call_id())
            if delta.id:
                ids[delta.index] = delta.id
            else:
                delta.id = ids[delta.index]
