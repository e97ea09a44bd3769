"""``/v1/responses``: the Responses API, with stored responses and their inputs.

Creates a response (reasoning items and summaries, function calls, refusals,
image generation calls, ``max_output_tokens`` cuts, ``previous_response_id``
chaining, JSON answers for a ``text.format``, see :mod:`.formats`), streams it as OpenAI's typed events (:func:`response_events`, also
for scripting streamed replies), and gets, deletes, cancels and lists the
input items of stored responses.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..server import RecordedRequest, Reply
from .common import ROUTES, _list_page, _arg_pieces, _hex, _pieces, _rand, _text_of, _truncate, _words
from .formats import check_strict_tools, responses_output_format
from .images import PNG_B64
from .moderation import REFUSAL, _flagged
from .tools import _called, _function_names, _tool_arguments
from .validation import _bool, _int, _invalid_type, _invalid_value, _missing, _model_call, _not_found

if TYPE_CHECKING:
    from .service import OpenAIService


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
    body, model = _model_call(req)
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
    check_strict_tools(tools)
    reasoning = body.get("reasoning")
    instructions = body.get("instructions")
    prompt = " ".join(_text_of(it.get("content")) for it in items if it.get("type", "message") == "message")
    output_format = responses_output_format(body, f"{_text_of(instructions)} {prompt}")

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
    per_call: dict[str, str] = {}
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
            per_call = _tool_arguments(tools, calls, user_text or "")
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
                    "arguments": per_call[name],
                    "call_id": "call_" + _rand(24),
                    "name": name,
                }
            )
            output_tokens += _words(name + " " + per_call[name])
    else:
        text, incomplete = _truncate(text if refused else output_format.render(text), limit)
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
    return _list_page(items, False)
