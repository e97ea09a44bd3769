"""Anthropic's Messages API for llmplug: the provider ``anthropic``.

The provider is a family of its own (``anthropic``), so this module does all
the mapping, against ``llmplug.plugin`` only, and does no I/O. One hook per job:

- ``llmplug_build_request``: OpenAI-shaped chat params -> ``POST /messages``
  (system messages -> ``system``, tool calls -> ``tool_use`` blocks, tool
  messages -> ``tool_result`` blocks, tools -> ``input_schema``...); any other
  endpoint through ``client.request(method, path, ...)``;
- ``llmplug_authenticate``: ``x-api-key`` and ``anthropic-version``;
- ``llmplug_parse_response`` and ``llmplug_stream_parser``: a message, or the
  events of its stream, -> the core ``ChatCompletion`` / ``ChatCompletionChunk``;
- ``llmplug_parse_error``: ``{"type": "error", "error": {...}}`` -> the typed error.

Thinking blocks come back as ``message.reasoning``, and whole (signatures and
all) in ``message.extra_content["anthropic"]["thinking"]``: a session keeps that
in its history and this module sends the blocks back at the head of their
turn, as Anthropic requires for a tool loop with thinking on.
"""

from __future__ import annotations

import json
from typing import Any

import llmplug
from llmplug.plugin import DONE, SKIP, ChatCompletion, ChatCompletionChunk, ProviderSpec, Request, StreamError
from llmplug.plugin import UnsupportedOperationError, encode_json, error_message, generic_request, make_status_error
from llmplug.plugin import Terminated, parse_json_event, parse_retry_after, require_model, structure

FAMILY = "anthropic"
API_VERSION = "2023-06-01"
#: Anthropic's ``stop_reason`` in OpenAI's words; any other reason (``pause_turn``...) is kept as sent.
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls",
          "refusal": "content_filter"}
#: OpenAI's ``tool_choice`` words in Anthropic's shape.
TOOL_CHOICE = {"auto": {"type": "auto"}, "required": {"type": "any"}, "none": {"type": "none"}}
#: OpenAI params that are mapped below rather than sent as they are (any other param is sent as it is).
MAPPED = {"messages", "max_completion_tokens", "stop", "tools", "tool_choice"}
#: OpenAI's roles as Anthropic's; ``system`` goes to the top-level ``system``, ``tool`` results come from the user.
ROLES = {"assistant": "assistant", "system": "system", "developer": "system"}


@llmplug.hookimpl
def llmplug_register_providers(register):
    register(ProviderSpec(
        name="anthropic", family=FAMILY, base_url="https://api.anthropic.com/v1", api_key_env=("ANTHROPIC_API_KEY",),
        base_url_env=("ANTHROPIC_BASE_URL",), default_model="claude-sonnet-4-5", description="Anthropic's Messages API",
        defaults={"chat.create": {"max_tokens": 1024}}))  # Anthropic requires max_tokens


# ---------------------------------------------------------------- requests


@llmplug.hookimpl
def llmplug_build_request(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request | None:
    if operation == "chat.create":
        require_model(provider, operation, params)  # core filled in the default model, unless it was set to None
        accept = "text/event-stream" if params.get("stream") else "application/json"
        headers = {"Content-Type": "application/json", "Accept": accept}
        return Request("POST", f"{provider.base_url}/messages", headers, encode_json(messages_body(params)))
    if operation == "request":  # client.request(method, path, ...): /models, /messages/count_tokens, batches...
        return generic_request(provider.base_url, params)
    raise UnsupportedOperationError(f"provider {provider.name!r} has no operation {operation!r} in this example: "
                                    "it maps chat only; for another endpoint use client.request(method, path, ...)")


def messages_body(params: dict[str, Any]) -> dict[str, Any]:
    """OpenAI-shaped chat params as a Messages API body. A param Anthropic does not
    know (``n``, ``user``...) is sent as it is, for the server to refuse by name."""
    body = {key: value for key, value in params.items() if key not in MAPPED}
    body["max_tokens"] = params.get("max_completion_tokens") or params.get("max_tokens")
    system, turns = [], []  # content blocks; {"role", "content"} turns
    for message in params.get("messages") or []:
        role = ROLES.get(message.get("role"), "user")
        if role != "system" and not (turns and turns[-1]["role"] == role):  # roles alternate: neighbours join
            turns.append({"role": role, "content": []})  # (the results of parallel tool calls make one user turn)
        (system if role == "system" else turns[-1]["content"]).extend(content_blocks(message))
    body.update(messages=turns, **({"system": system} if system else {}))
    if params.get("stop"):
        body["stop_sequences"] = [params["stop"]] if isinstance(params["stop"], str) else params["stop"]
    if params.get("tools"):
        body["tools"] = [anthropic_tool(tool) for tool in params["tools"]]
    choice = params.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") == "function":
        choice = {"type": "tool", "name": choice["function"]["name"]}
    if choice:
        body["tool_choice"] = TOOL_CHOICE.get(choice, choice) if isinstance(choice, str) else choice
    return body


def content_blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    """A user, assistant or tool message's content as Anthropic content blocks.
    OpenAI's text parts are Anthropic's text blocks; other parts pass as they are
    (so Anthropic's own image or document blocks can be sent)."""
    if message.get("role") == "tool":
        return [{"type": "tool_result", "tool_use_id": message.get("tool_call_id"), "content": message.get("content")}]
    parts = [{"type": "text", "text": text}] if isinstance(text := message.get("content"), str) else text or []
    kept = ((message.get("extra_content") or {}).get("anthropic") or {}).get("thinking") or []
    blocks = [*kept, *(part for part in parts if part.get("text") != "")]  # Anthropic refuses empty text
    for call in message.get("tool_calls") or []:
        arguments = json.loads(call["function"].get("arguments") or "{}")
        blocks.append({"type": "tool_use", "id": call["id"], "name": call["function"]["name"], "input": arguments})
    return blocks


def anthropic_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI function tool as an Anthropic tool; Anthropic's own tools pass as they are."""
    if tool.get("type") != "function":
        return tool
    function = tool["function"]
    out = {"name": function["name"], "input_schema": function.get("parameters") or {"type": "object", "properties": {}}}
    return {**out, "description": function["description"]} if function.get("description") else out


@llmplug.hookimpl
def llmplug_authenticate(provider: ProviderSpec, request: Request, api_key: str | None) -> Request | None:
    if api_key:
        request.headers["x-api-key"] = api_key  # redacted in every repr, error and log line
    request.headers.setdefault("anthropic-version", API_VERSION)  # headers={...} on llmplug.new may pick another
    return request


# ---------------------------------------------------------------- responses


def shaped(model: type, data: dict[str, Any], head: dict[str, Any], counts: Any, **choice: Any) -> Any:
    """An OpenAI-shaped completion or chunk of one choice; its ``.raw`` is Anthropic's
    JSON. Cache reads and writes count as prompt tokens, as OpenAI counts them."""
    choice["finish_reason"] = FINISH.get(choice["finish_reason"], choice["finish_reason"])
    counts = counts or {}
    prompt = sum(n for key, n in counts.items() if key.endswith("input_tokens") and isinstance(n, int))  # + cache
    output = counts.get("output_tokens") or 0
    usage = {"prompt_tokens": prompt, "completion_tokens": output, "total_tokens": prompt + output} if counts else None
    choices = [{"index": 0, **choice}]
    result = structure({"id": head.get("id"), "model": head.get("model"), "usage": usage, "choices": choices}, model)
    result.raw = data
    return result


def completion(data: dict[str, Any]) -> ChatCompletion:
    """A Messages API reply as a chat completion."""
    blocks = data.get("content") or []
    texts = [block["text"] for block in blocks if block["type"] == "text"]
    thinking = [block for block in blocks if block["type"] in ("thinking", "redacted_thinking")]
    calls = [{"id": b["id"], "type": "function", "function": {"name": b["name"], "arguments": json.dumps(b["input"])}}
             for b in blocks if b["type"] == "tool_use"]
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if thinking:  # the reasoning as text, and the blocks whole, to be sent back
        message["reasoning"] = "".join(block.get("thinking", "") for block in thinking)
        message["extra_content"] = {"anthropic": {"thinking": thinking}}
    return shaped(ChatCompletion, data, data, data.get("usage"), message=message, finish_reason=data.get("stop_reason"))


@llmplug.hookimpl
def llmplug_parse_response(provider: ProviderSpec, operation: str, data: Any) -> Any:
    if not isinstance(data, dict):
        return None
    return completion(data) if operation == "chat.create" else data  # client.request(): the JSON as it is


class StreamParser:
    """The events of one Messages stream as chat chunks. Content blocks stream one
    at a time; the parser keeps the message's id, model and usage, the number of
    the current tool call, and the current thinking block, sent whole once signed."""

    def __init__(self) -> None:
        self.head, self.counts = {}, {}  # the message (id, model) and its usage
        self.call, self.thinking = -1, ""  # the index of the current tool call, the text of the current thinking block

    def __call__(self, event: Any) -> Any:
        data = parse_json_event(event) if event.data.strip() else {}
        kind = data.get("type") or event.event
        block = data.get("content_block") or data.get("delta") or {}
        if kind == "error":
            raise StreamError(f"the server reported an error mid-stream: {error_message(data)}", payload=event.data)
        if kind == "message_start":
            self.head, self.counts = data["message"], dict(data["message"].get("usage") or {})
            return self.chunk(data, role="assistant")
        if kind == "message_delta":  # the stop reason, and the usage so far
            self.counts.update(data.get("usage") or {})
            return self.chunk(data, data["delta"].get("stop_reason"), self.counts)
        if block.get("type") == "tool_use":
            self.call += 1
            return self.chunk(data, tool_calls=[{"index": self.call, "id": block["id"], "function": {"name": block["name"]}}])
        if block.get("type") == "input_json_delta" and block["partial_json"]:
            return self.chunk(data, tool_calls=[{"index": self.call, "function": {"arguments": block["partial_json"]}}])
        if block.get("type") in ("text", "text_delta") and block["text"]:
            return self.chunk(data, content=block["text"])
        if block.get("type") == "thinking_delta":
            self.thinking += block["thinking"]
            return self.chunk(data, reasoning=block["thinking"])
        if block.get("type") in ("signature_delta", "redacted_thinking"):  # a thinking block is whole: keep it
            signed = {"type": "thinking", "thinking": self.thinking, "signature": block.get("signature")}
            self.thinking, whole = "", block if block["type"] == "redacted_thinking" else signed
            return self.chunk(data, extra_content={"anthropic": {"thinking": [whole]}})
        # message_stop ends the stream; ping, content_block_stop, empty text and blocks with no place in a chunk carry nothing
        return DONE if kind == "message_stop" else SKIP

    def chunk(self, data: dict[str, Any], finish: str | None = None, counts: Any = None, **delta: Any) -> Any:
        return shaped(ChatCompletionChunk, data, self.head, counts, delta=delta, finish_reason=finish)


@llmplug.hookimpl
def llmplug_stream_parser(provider: ProviderSpec, operation: str) -> Any:
    # A stream is whole only at message_stop (DONE), and with a stop reason (the finish_reason of message_delta).
    return Terminated(StreamParser(), by="done")


@llmplug.hookimpl
def llmplug_parse_error(provider: ProviderSpec, response: Any, body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    # "Overloaded (overloaded_error)"; request_id from the request-id header; 529 is a 5xx: retried, InternalServerError
    return make_status_error(
        error_message(body), status_code=response.status_code, body=body, headers=response.headers,
        provider=provider.name, request=response.request, retry_after=parse_retry_after(response.headers))
