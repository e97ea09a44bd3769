"""Every reply the fake API can stream is the same reply streamed or not,
through every transport, by callback and by iterator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import llmplug
from llmplug.core.models import ChatCompletion, Response, TextChunk
from tests.conftest import TEST_KEY
from tests.parity.cases import CASES, StreamCase


@pytest.fixture
def case_client(request: pytest.FixtureRequest, api: Any, transport: str) -> Iterator[tuple[StreamCase, llmplug.Client, Any]]:
    case: StreamCase = request.param
    base_url = api.url + case.base_path
    with llmplug.new(case.provider, api_key=TEST_KEY, base_url=base_url, transport=transport, max_retries=0) as client:
        yield case, client, api


def chat_reply(completion: ChatCompletion, usage: bool) -> dict[str, Any]:
    """What a chat completion says, without what each request makes anew (ids, created)."""
    choices = []
    for choice in completion.choices:
        message = choice.message
        extras = choice.raw if isinstance(choice.raw, dict) else {}
        choices.append({
            "native_finish_reason": extras.get("native_finish_reason"),
            "finish_message": extras.get("finish_message"),
            "extra_content": message.raw.get("extra_content") if isinstance(message.raw, dict) else None,
            "index": choice.index,
            "finish_reason": choice.finish_reason,
            "logprobs": choice.logprobs,
            "role": message.role,
            "content": message.content,
            "refusal": message.refusal,
            "reasoning": message.reasoning,
            "function_call": message.function_call and (message.function_call.name, message.function_call.arguments),
            "tool_calls": message.tool_calls and [
                (bool(call.id), call.type, call.function.name, call.function.arguments) for call in message.tool_calls
            ],
        })
    return {
        "model": completion.model,
        "system_fingerprint": completion.system_fingerprint,
        "usage": completion.usage if usage else None,
        "choices": choices,
    }


_FRESH = {"id", "call_id", "created_at", "completed_at", "encrypted_content"}


def _without_fresh(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_fresh(v) for k, v in value.items() if k not in _FRESH}
    if isinstance(value, list):
        return [_without_fresh(v) for v in value]
    return value


def response_reply(response: Response) -> dict[str, Any]:
    """What a response says, without its ids and timestamps."""
    return {"reply": _without_fresh(response.raw), "text": response.output_text, "refusal": response.refusal}


def _assert_relayed(chunks: list[TextChunk], completion: ChatCompletion) -> None:
    """The TextChunks of each choice join to its content and refusal."""
    for choice in completion.choices:
        mine = [c for c in chunks if c.index == choice.index]
        assert "".join(c.content for c in mine) == (choice.message.content or "")
        assert "".join(c.refusal or "" for c in mine) == (choice.message.refusal or "")


@pytest.mark.parametrize("case_client", CASES, ids=[case.id for case in CASES], indirect=True)
def test_streamed_reply_is_the_non_streamed_reply(case_client):
    case, client, api = case_client
    method = getattr(client, case.method)
    params, stream_params = case.params, {**case.params, **case.stream_params}
    script = case.script or (lambda api: None)
    script(api)
    plain = method(case.input, **params).body
    events: list[Any] = []
    script(api)
    by_callback = method(case.input, None, events.append, **stream_params).body
    script(api)
    with method(case.input, stream=True, **stream_params) as stream:
        iterated = list(stream)
    by_iterator = stream.final
    assert [type(e) for e in events] == [type(e) for e in iterated] and events
    if isinstance(plain, ChatCompletion):
        usage = case.usage or "stream_options" in stream_params
        expected = chat_reply(plain, usage)
        assert chat_reply(by_callback, usage) == expected
        assert chat_reply(by_iterator, usage) == expected
        chunks: list[TextChunk] = []
        script(api)
        by_chat = client.chat(case.input, {"stream": True, **stream_params}, lambda chunk, raw: chunks.append(chunk)).body
        assert chat_reply(by_chat, usage) == expected
        _assert_relayed(chunks, plain)
    else:
        expected = response_reply(plain)
        assert response_reply(by_callback) == expected == response_reply(by_iterator)
        for kind, joined in (("output_text", plain.output_text), ("refusal", plain.refusal or "")):
            assert "".join(e.delta for e in events if e.type == f"response.{kind}.delta") == joined
