"""``POST /v1/chat/completions``: the fake's Chat Completions, streamed or not.

Builds the completion (echoed text, tool or legacy function calls, refusals,
``n`` choices, ``stop``/``max_tokens`` cuts, logprobs, usage, JSON answers for
a ``response_format``, see :mod:`.formats`) and, for
``stream: true``, the ``chat.completion.chunk`` events OpenAI sends for it
(:func:`chat_completion_events`, also for scripting streamed replies).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Union

from ..server import APIError, RecordedRequest, Reply
from .common import (
    _ALNUM, ROUTES, _arg_pieces, _choice_text, _completion, _fingerprint, _first_json_object, _pieces, _rand, _text_of,
    _words,
)
from .formats import chat_output_format, check_strict_tools
from .moderation import REFUSAL, _flagged
from .tools import _called, _function_names, _tool_arguments
from .validation import (
    _bool, _choices_and_limit, _int, _invalid_type, _invalid_value, _missing, _model_call, _stream_flags,
)

if TYPE_CHECKING:
    from .service import OpenAIService


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


@ROUTES.route("POST", r"/v1/chat/completions")
def chat_completions(svc: OpenAIService, req: RecordedRequest, *, lenient: bool = False) -> Reply:
    """The chat completion; ``lenient`` (for Gemini's OpenAI-compatible endpoint)
    skips the response format's name, strict-mode and "json" checks and the
    tools' strict-mode checks."""
    body, model = _model_call(req)
    messages = _check_messages(body)
    output = chat_output_format(body, " ".join(_text_of(m.get("content")) for m in messages), lenient=lenient)
    if not lenient:
        check_strict_tools(body.get("tools"))
    n, limit = _choices_and_limit(body, "max_completion_tokens", "max_tokens", least=1)
    stream, include_usage, obfuscate = _stream_flags(body)
    want_logprobs = _bool(body, "logprobs")
    top_logprobs = _int(body, "top_logprobs", 0, 0, 20) or 0

    last = messages[-1]
    last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    base_text: str
    calls: list[str] = []
    arguments = "{}"
    per_call: dict[str, str] = {}
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
            per_call = _tool_arguments(body.get("tools"), calls, text)

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
                {"id": "call_" + _rand(24), "type": "function", "function": {"name": name, "arguments": per_call[name]}}
                for name in calls
            ]
            finish = "tool_calls"
            completion_tokens += sum(_words(name + " " + per_call[name]) for name in calls)
        else:
            text, cut = _choice_text(base_text, i, body, limit, None if refused else output.render)
            key = "refusal" if refused else "content"
            message[key] = text
            finish = "length" if cut else "stop"
            completion_tokens += _words(text)
            if want_logprobs:
                logprobs = _logprobs_of(key, _token_logprobs(text, top_logprobs))
        choices.append({"index": i, "message": message, "logprobs": logprobs, "finish_reason": finish})

    prompt_tokens = sum(_words(_text_of(m.get("content"))) for m in messages)
    completion = _completion("chatcmpl-", "chat.completion", model, choices, _chat_usage(prompt_tokens, completion_tokens))
    completion.update(service_tier="default", system_fingerprint=_fingerprint(model))
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
