"""A fake of Anthropic's Messages API, for the tests of the ``llmplug-anthropic``
example (``examples/plugins/llmplug-anthropic``), built on llmplug's FakeAPI.

:class:`AnthropicService` is a :class:`llmplug.testing.Service` with its own
:class:`~llmplug.testing.RouteTable`: ``POST /v1/messages`` and ``GET /v1/models``.
It is not registered as a default service (``register_service``): its ``/v1``
prefix is the OpenAI fake's, so a test serves it alone::

    with FakeAPI(api_key=KEY, services=[AnthropicService()]) as api:
        llmplug.new("anthropic", api_key=KEY, base_url=api.base_url)

Requests are checked as Anthropic checks them: the ``x-api-key`` and
``anthropic-version`` headers (when the FakeAPI has a key, also for scripted
replies), no unknown top-level field (an OpenAI param that leaked through is
``"stop: Extra inputs are not permitted"``), ``model``/``messages``/``max_tokens``
required, roles ``user``/``assistant`` only and alternating, non-empty text
blocks, every ``tool_use`` answered by a ``tool_result`` in the next message
and every ``tool_result`` answering one, tools with an object ``input_schema``,
``tool_choice`` and ``thinking`` as documented, and, with thinking on, the
last assistant turn of a tool loop starting with a thinking block this fake
signed. Errors are ``{"type": "error", "error": {"type", "message"}}``, and
every reply has a ``request-id`` header (``req_fake0001``, counted per server).

Answers are deterministic, as the other fakes': ``"You said: <text of the last
user message>"``; after tool results, ``"Tool result: <content>"``; a declared
tool whose name appears in the last user text is called (each one, in
declaration order; the first only with ``disable_parallel_tool_use``) with the
first JSON object literal of that text as its input; ``tool_choice`` ``any``
and ``tool`` force a call, ``none`` forbids one. With ``thinking`` enabled a
signed thinking block comes first. Tokens are words; ``max_tokens`` cuts the
text (``stop_reason: max_tokens``) and ``stop_sequences`` cut it too. Streams
are Anthropic's SSE, with ``event:`` names, a ``ping``, text a word at a time
and tool input in two ``input_json_delta`` pieces. A 529 (or any status)
scripted with ``api.queue("POST", "/v1/messages", status=529)`` gets
Anthropic's error body (``overloaded_error``, ``"Overloaded"``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from typing import Any

from llmplug.testing import APIError, RecordedRequest, Reply, RouteTable, Service

API_VERSION = "2023-06-01"
MODELS = [
    {"type": "model", "id": "claude-sonnet-4-5", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"},
    {"type": "model", "id": "claude-haiku-4-5", "display_name": "Claude Haiku 4.5", "created_at": "2025-10-15T00:00:00Z"},
    {"type": "model", "id": "claude-opus-4-1", "display_name": "Claude Opus 4.1", "created_at": "2025-08-05T00:00:00Z"},
]
ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error",
    413: "request_too_large", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error",
}
CANNED = {401: "invalid x-api-key", 404: "Not found", 429: "Number of requests has exceeded your rate limit",
          500: "Internal server error", 529: "Overloaded"}
#: The top-level fields of a Messages request.
FIELDS = frozenset({"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream", "temperature",
                    "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier"})
BLOCK_TYPES = frozenset({"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking"})
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

ROUTES = RouteTable()


def _fail(message: str, status: int = 400) -> APIError:
    return APIError(status, message, type=ERROR_TYPES.get(status, "api_error"))


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def signature(thinking: str) -> str:
    """The signature this fake puts on a thinking block (and wants back with it)."""
    return "sig_" + _digest("thinking", thinking)[:32]


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _words(text: str) -> int:
    return len(text.split())


class AnthropicService(Service):
    """Anthropic's API under ``/v1``: messages (plain and streamed) and models."""

    prefix = "/v1"
    routes = ROUTES

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def reset(self) -> None:
        self._ids = itertools.count(1)

    def error(self, status: int, message: str, *, type: str | None = None, param: str | None = None,
              code: str | None = None) -> Reply:
        error = {"type": type or ERROR_TYPES.get(status, "api_error"), "message": message}
        return Reply(status, json={"type": "error", "error": error})

    def status_error(self, status: int) -> Reply:
        return self.error(status, CANNED.get(status, f"HTTP {status}"))

    def not_found(self, request: RecordedRequest) -> Reply:
        return self.error(404, "Not found")

    def internal_error(self) -> Reply:
        return self.error(500, "Internal server error")

    def response_headers(self, request: RecordedRequest, elapsed: float) -> list[tuple[str, str]]:
        return [("request-id", f"req_fake{next(self._ids):04d}"), ("anthropic-organization-id", "org-fake")]

    def authenticate(self, request: RecordedRequest, api_key: str) -> Reply | None:
        key = request.headers.get("x-api-key")
        if not key:
            return self.error(401, "x-api-key header is required")
        if key != api_key:
            return self.error(401, "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return self.error(400, "anthropic-version: header is required")
        return None


# ---------------------------------------------------------------- checks


def check_request(body: Any) -> dict[str, Any]:
    """``body`` as Anthropic's validation sees it: the first problem is a 400 (404 for the model)."""
    if not isinstance(body, dict):
        raise _fail("Request body must be a JSON object")
    for key in body:
        if key not in FIELDS:
            raise _fail(f"{key}: Extra inputs are not permitted")
    for key in ("model", "messages", "max_tokens"):
        if key not in body:
            raise _fail(f"{key}: Field required")
    if not isinstance(body["max_tokens"], int) or isinstance(body["max_tokens"], bool) or body["max_tokens"] < 1:
        raise _fail("max_tokens: Input should be a valid integer greater than or equal to 1")
    if body["model"] not in {m["id"] for m in MODELS}:
        raise _fail(f"model: {body['model']}", 404)
    system = body.get("system")
    if system is not None and not isinstance(system, str):
        for i, block in enumerate(system if isinstance(system, list) else [None]):
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                raise _fail(f"system.{i}: Input should be a valid text block")
    stops = body.get("stop_sequences")
    if stops is not None and not (isinstance(stops, list) and all(isinstance(s, str) for s in stops)):
        raise _fail("stop_sequences: Input should be a valid list of strings")
    tools = _check_tools(body.get("tools"))
    _check_tool_choice(body.get("tool_choice"), tools)
    thinking = _check_thinking(body.get("thinking"), body["max_tokens"])
    _check_messages(body["messages"], thinking)
    return body


def _check_tools(tools: Any) -> list[dict[str, Any]]:
    if tools is None:
        return []
    if not isinstance(tools, list):
        raise _fail("tools: Input should be a valid list")
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            raise _fail(f"tools.{i}: Input should be a valid dictionary")
        if tool.get("type", "custom") != "custom":
            if tool["type"] == "function":
                raise _fail(f"tools.{i}.type: Input tag 'function' found using 'type' does not match any of the expected tags")
            continue  # a server tool (web_search_...): not run by this fake
        for key in tool:
            if key not in ("type", "name", "description", "input_schema", "cache_control"):
                raise _fail(f"tools.{i}.custom.{key}: Extra inputs are not permitted")
        if not TOOL_NAME.match(str(tool.get("name", ""))):
            raise _fail(f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            raise _fail(f"tools.{i}.custom.input_schema: Field required")
        if schema.get("type") != "object":
            raise _fail(f"tools.{i}.custom.input_schema.type: Input should be 'object'")
    return tools


def _check_tool_choice(choice: Any, tools: list[dict[str, Any]]) -> None:
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise _fail("tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'")
    allowed = {"type", "disable_parallel_tool_use"} | ({"name"} if choice["type"] == "tool" else set())
    for key in choice:
        if key not in allowed:
            raise _fail(f"tool_choice.{choice['type']}.{key}: Extra inputs are not permitted")
    if choice["type"] == "tool" and choice.get("name") not in {t.get("name") for t in tools}:
        raise _fail(f"Tool '{choice.get('name')}' not found in provided tools")
    if choice["type"] in ("any", "tool") and not tools:
        raise _fail("tool_choice may only be specified while providing tools.")


def _check_thinking(thinking: Any, max_tokens: int) -> bool:
    if thinking is None or thinking == {"type": "disabled"}:
        return False
    if not isinstance(thinking, dict) or thinking.get("type") != "enabled":
        raise _fail("thinking: Input tag does not match any of the expected tags: 'enabled', 'disabled'")
    budget = thinking.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        raise _fail("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if max_tokens <= budget:
        raise _fail("`max_tokens` must be greater than `thinking.budget_tokens`.")
    return True


def _check_messages(messages: Any, thinking: bool) -> None:
    if not isinstance(messages, list) or not messages:
        raise _fail("messages: at least one message is required")
    pending: list[str] = []  # tool_use ids of the previous message, to be answered now
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise _fail(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        for key in message:
            if key not in ("role", "content"):
                raise _fail(f"messages.{i}.{key}: Extra inputs are not permitted")
        role = message["role"]
        if i == 0 and role != "user":
            raise _fail("messages: first message must use the \"user\" role")
        if i and role == messages[i - 1]["role"]:
            raise _fail(f'messages: roles must alternate between "user" and "assistant", but found multiple "{role}" roles in a row')
        blocks = _blocks(message.get("content"))
        if not isinstance(blocks, list) or (not blocks and not (role == "assistant" and i == len(messages) - 1)):
            raise _fail(f"messages.{i}: all messages must have non-empty content except for the optional final assistant message")
        answered = []
        for j, block in enumerate(blocks):
            where = f"messages.{i}.content.{j}"
            kind = block.get("type") if isinstance(block, dict) else None
            if kind not in BLOCK_TYPES:
                raise _fail(f"{where}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags")
            if kind == "text" and not (isinstance(block.get("text"), str) and block["text"]):
                raise _fail(f"{where}.text: text content blocks must be non-empty")
            if kind == "tool_use" and (role != "assistant" or not isinstance(block.get("input"), dict) or not block.get("id")):
                raise _fail(f"{where}: a tool_use block needs an id, a name and an object input, in an assistant message")
            if kind == "tool_result":
                if block.get("tool_use_id") not in pending:
                    raise _fail(
                        f"{where}: unexpected `tool_use_id` found in `tool_result` blocks: {block.get('tool_use_id')}. "
                        "Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                    )
                answered.append(block["tool_use_id"])
            if kind in ("thinking", "redacted_thinking") and role != "assistant":
                raise _fail(f"{where}: thinking blocks may only be in assistant messages")
        missing = [tool_id for tool_id in pending if tool_id not in answered]
        if missing:
            raise _fail(
                f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` block in the next message."
            )
        pending = [b["id"] for b in blocks if b.get("type") == "tool_use"]
    if thinking:
        _check_thinking_turn(messages)


def _check_thinking_turn(messages: list[dict[str, Any]]) -> None:
    """With thinking on, the assistant turn whose tool calls the last message answers
    starts with a thinking block that this fake signed."""
    last = _blocks(messages[-1]["content"])
    if len(messages) < 2 or not any(b.get("type") == "tool_result" for b in last):
        return
    i = len(messages) - 2
    first = _blocks(messages[i]["content"])[0]
    if first.get("type") not in ("thinking", "redacted_thinking"):
        raise _fail(
            f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first.get('type')}`. "
            "When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the "
            "lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from "
            "previous turns. To avoid this requirement, disable `thinking`."
        )
    if first["type"] == "thinking" and first.get("signature") != signature(first.get("thinking", "")):
        raise _fail(f"messages.{i}.content.0: Invalid `signature` in `thinking` block")


# ---------------------------------------------------------------- answers


def _first_json_object(text: str) -> dict[str, Any]:
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            value, _ = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _result_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _block_text(block: dict[str, Any]) -> str:
    """The words a block counts for in usage."""
    if block.get("type") == "tool_use":
        return json.dumps(block.get("input"))
    if block.get("type") == "tool_result":
        return _result_text(block.get("content"))
    return block.get("text") or block.get("thinking") or ""


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """The message that answers a checked request."""
    last = _blocks(body["messages"][-1]["content"])
    text = " ".join(b["text"] for b in last if b.get("type") == "text")
    results = [b for b in last if b.get("type") == "tool_result"]
    content: list[dict[str, Any]] = []
    if body.get("thinking", {}).get("type") == "enabled":
        thought = f"The user wrote {_words(text)} words; I will answer."
        content.append({"type": "thinking", "thinking": thought, "signature": signature(thought)})
    tools = [t for t in body.get("tools") or [] if t.get("type", "custom") == "custom"]
    choice = body.get("tool_choice") or {"type": "auto"}
    names = [] if results or choice["type"] == "none" else [t["name"] for t in tools if t["name"] in text]
    if choice["type"] == "tool":
        names = [choice["name"]]
    elif choice["type"] == "any" and not names:
        names = [tools[0]["name"]]
    if choice.get("disable_parallel_tool_use"):
        names = names[:1]
    stop_reason, stop_sequence = "end_turn", None
    if names:
        args = _first_json_object(text)
        for name in names:
            content.append({"type": "tool_use", "id": "toolu_01" + _digest(text, name)[:22], "name": name, "input": args})
        stop_reason = "tool_use"
    else:
        reply = ("Tool result: " + " ".join(_result_text(b.get("content")) for b in results)) if results else f"You said: {text}"
        cuts = [(reply.find(s), s) for s in body.get("stop_sequences") or [] if s and s in reply]
        if cuts:
            at, stop_sequence = min(cuts)
            reply, stop_reason = reply[:at], "stop_sequence"
        words = re.findall(r"\S+\s*", reply)
        if len(words) > body["max_tokens"]:
            reply, stop_reason, stop_sequence = "".join(words[: body["max_tokens"]]).rstrip(), "max_tokens", None
        content.append({"type": "text", "text": reply})
    blocks = _blocks(body.get("system") or []) + [b for m in body["messages"] for b in _blocks(m["content"])]
    prompt = " ".join(_block_text(b) for b in blocks)
    output = sum(_words(_block_text(b)) for b in content)
    return {
        "id": "msg_01" + _digest(body)[:22],
        "type": "message",
        "role": "assistant",
        "model": body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop_sequence,
        "usage": {"input_tokens": _words(prompt), "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0,
                  "output_tokens": output},
    }


def sse(kind: str, data: dict[str, Any]) -> str:
    """One Server-Sent Event as Anthropic sends it: its ``event:`` name, then its JSON."""
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data}, separators=(',', ':'))}\n\n"


def stream_events(message: dict[str, Any]) -> list[str]:
    """The SSE stream of ``message``: message_start, a ping, each content block
    (start, deltas, stop), message_delta with the stop reason and usage, message_stop."""
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
             "usage": {**message["usage"], "output_tokens": 1}}
    events = [sse("message_start", {"message": start}), sse("ping", {})]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opening = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in re.findall(r"\S+\s*|\s+", block["text"])]
        elif block["type"] == "thinking":
            opening = {"type": "thinking", "thinking": ""}
            deltas = [{"type": "thinking_delta", "thinking": piece} for piece in re.findall(r"\S+\s*", block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        else:
            opening = {**block, "input": {}}
            arguments = json.dumps(block["input"]) if block["input"] else ""
            half = len(arguments) // 2
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in (arguments[:half], arguments[half:])]
        events.append(sse("content_block_start", {"index": index, "content_block": opening}))
        events += [sse("content_block_delta", {"index": index, "delta": delta}) for delta in deltas]
        events.append(sse("content_block_stop", {"index": index}))
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message["stop_sequence"]}
    events.append(sse("message_delta", {"delta": delta, "usage": {"output_tokens": message["usage"]["output_tokens"]}}))
    events.append(sse("message_stop", {}))
    return events


@ROUTES.route("POST", r"/v1/messages")
def create_message(service: AnthropicService, request: RecordedRequest) -> Reply:
    body = check_request(request.json)
    message = answer(body)
    if body.get("stream"):
        return Reply(events=stream_events(message), content_type="text/event-stream; charset=utf-8")
    return Reply(json=message)


@ROUTES.route("GET", r"/v1/models")
def list_models(service: AnthropicService, request: RecordedRequest) -> Reply:
    return Reply(json={"data": MODELS, "has_more": False, "first_id": MODELS[0]["id"], "last_id": MODELS[-1]["id"]})


@ROUTES.route("GET", r"/v1/models/(?P<model>[^/]+)")
def get_model(service: AnthropicService, request: RecordedRequest, model: str) -> Reply:
    for entry in MODELS:
        if entry["id"] == model:
            return Reply(json=entry)
    raise _fail(f"model: {model}", 404)
