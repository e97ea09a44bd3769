"""The ``gemini-openai`` provider (Gemini's OpenAI-compatible endpoint) through
every transport, against the fake's ``/v1beta/openai`` with Gemini's quirks."""

from __future__ import annotations

import json

import pytest

import llmplug
from llmplug.core import models as m
from llmplug.testing.gemini_api import fake_thought_signature
from tests.conftest import TEST_KEY

CHAT = "/v1beta/openai/chat/completions"
TOOLS = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}},
         {"type": "function", "function": {"name": "mul", "parameters": {"type": "object"}}}]
ASK = [{"role": "user", "content": 'please add {"a": 1, "b": 2}'}]


@pytest.fixture
def compat(api, transport):
    with llmplug.new("gemini-openai", api_key=TEST_KEY, base_url=api.url + "/v1beta/openai", transport=transport,
                     max_retries=0) as c:
        yield c


def test_provider_spec():
    spec = llmplug.new("gemini-openai", api_key="k").provider
    assert spec.family == "openai" and spec.default_model == "gemini-2.5-flash"
    assert spec.base_url == "https://generativelanguage.googleapis.com/v1beta/openai"


def test_chat_round_trip(compat, api):
    _, body, _ = compat.create_chat_completion([{"role": "user", "content": "Say hello"}], reasoning_effort="low")
    assert isinstance(body, m.ChatCompletion) and body.content == "You said: Say hello"
    assert body.model == "gemini-2.5-flash" and body.choices[0].finish_reason == "stop"
    req = api.last_request
    assert req.path == CHAT and req.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert "x-goog-api-key" not in req.headers
    assert req.json == {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Say hello"}],
                        "reasoning_effort": "low"}


def test_tool_call_keeps_signature_and_sends_it_back(compat, api):
    _, body, _ = compat.create_chat_completion(ASK, tools=TOOLS)
    choice = body.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    signature = fake_thought_signature("add", {"a": 1, "b": 2})
    assert call.raw["extra_content"] == {"google": {"thought_signature": signature}}
    history = ASK + [choice.message.raw, {"role": "tool", "tool_call_id": call.id, "content": "3"}]
    _, body, _ = compat.create_chat_completion(history, tools=TOOLS)
    assert body.content == "Tool result: 3"
    assert api.last_request.json["messages"][1]["tool_calls"][0]["extra_content"] == {
        "google": {"thought_signature": signature}
    }


def test_streamed_tool_calls_quirks(compat, api):
    chunks = []
    _, body, _ = compat.create_chat_completion(
        [{"role": "user", "content": 'add and mul {"a": 2}'}], tools=TOOLS, chunk_callback=chunks.append
    )
    raw_calls = [c for chunk in chunks for ch in chunk.raw["choices"] for c in ch["delta"].get("tool_calls", [])]
    assert raw_calls and all("index" not in c and c["id"] == "" for c in raw_calls)  # what Gemini sends
    assert chunks[-1].raw["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1].choices[0].finish_reason == "tool_calls"  # fixed on the model, raw kept
    choice = body.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [c.function.name for c in calls] == ["add", "mul"]
    # Gemini sends "id": "": each call gets a generated id, the same on its chunks and in the message.
    ids = [c.id for c in calls]
    assert all(i.startswith("call_") and len(i) == 29 for i in ids) and ids[0] != ids[1]
    chunk_ids = [c.id for chunk in chunks for ch in chunk.choices for c in ch.delta.tool_calls or []]
    assert chunk_ids == ids
    assert all(json.loads(c.function.arguments) == {"a": 2} for c in calls)
    assert calls[0].raw["extra_content"]["google"]["thought_signature"] == fake_thought_signature("add", {"a": 2})
    assert "extra_content" not in calls[1].raw


def test_split_index_less_deltas_merge(compat, api):
    head = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gemini-2.5-flash"}
    sig = {"google": {"thought_signature": "c2ln"}}
    events = [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [
            {"id": "", "type": "function", "function": {"name": "add", "arguments": '{"a":'}, "extra_content": sig}]}}]},
        {**head, "choices": [{"index": 0, "delta": {"tool_calls": [{"id": "", "function": {"arguments": " 1}"}}]}}]},
        {**head, "choices": [{"index": 0, "delta": {"tool_calls": [
            {"id": "", "type": "function", "function": {"name": "mul", "arguments": "{}"}}]}, "finish_reason": "stop"}]},
        "data: [DONE]\n\n",
    ]
    api.queue("POST", CHAT, events=events)
    _, body, _ = compat.create_chat_completion(ASK, tools=TOOLS, chunk_callback=lambda c: None)
    calls = body.choices[0].message.tool_calls
    assert [(c.function.name, c.function.arguments) for c in calls] == [("add", '{"a": 1}'), ("mul", "{}")]
    assert calls[0].id.startswith("call_") and calls[1].id.startswith("call_") and calls[0].id != calls[1].id
    assert calls[0].raw["extra_content"] == sig and body.choices[0].finish_reason == "tool_calls"


def test_non_streamed_empty_tool_call_ids_are_filled_in_raw_too(compat, api):
    head = {"id": "c1", "object": "chat.completion", "created": 1, "model": "gemini-2.5-flash"}
    message = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "", "type": "function", "function": {"name": "add", "arguments": "{}"}},
        {"id": "kept", "type": "function", "function": {"name": "mul", "arguments": "{}"}}]}
    api.queue("POST", CHAT, json={**head, "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})
    _, body, _ = compat.create_chat_completion(ASK, tools=TOOLS)
    first, second = body.choices[0].message.tool_calls
    assert first.id.startswith("call_") and first.raw["id"] == first.id  # a history built from .raw agrees
    assert second.id == "kept"


@pytest.mark.parametrize("streamed", [False, True], ids=["plain", "streamed"])
def test_session_tool_loop_over_empty_ids(compat, api, streamed):
    """A session answers Gemini's id-less tool calls and the tool message names the generated id."""
    session = compat.new_chat_session(tools=TOOLS)
    texts: list[str] = []
    callback = (lambda chunk, raw: texts.append(str(chunk))) if streamed else None
    reply = session.run('add {"a": 2}', {"add": lambda a: a + 40, "mul": lambda a: a * 2}, stream_callback=callback)
    assert reply == "Tool result: 42"
    sent = api.last_request.json["messages"]
    assistant, tool = sent[1], sent[2]
    assert tool["role"] == "tool" and tool["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert tool["tool_call_id"].startswith("call_")
    assert not streamed or "".join(texts).endswith("Tool result: 42")


def test_gemini_3_needs_the_signature_back(compat, api):
    _, body, _ = compat.create_chat_completion(ASK, tools=TOOLS, model="gemini-3-pro-preview")
    message = body.choices[0].message.raw
    reply = {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "3"}
    _, body, _ = compat.create_chat_completion(ASK + [message, reply], tools=TOOLS, model="gemini-3-pro-preview")
    assert body.content == "Tool result: 3"
    stripped = {**message, "tool_calls": [{k: v for k, v in c.items() if k != "extra_content"}
                                          for c in message["tool_calls"]]}
    with pytest.raises(llmplug.BadRequestError) as info:
        compat.create_chat_completion(ASK + [stripped, reply], tools=TOOLS, model="gemini-3-pro-preview")
    assert "thought_signature" in str(info.value) and "(INVALID_ARGUMENT)" in str(info.value)
    assert isinstance(info.value.body, list)  # the compatible endpoint wraps errors in a list


def test_errors_and_retry_info(compat, api):
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "7s"}]
    api.queue("POST", CHAT, status=429, json=[{"error": {"code": 429, "message": "Resource exhausted.",
                                                         "status": "RESOURCE_EXHAUSTED", "details": details}}])
    with pytest.raises(llmplug.RateLimitError) as info:
        compat.create_chat_completion(ASK)
    assert info.value.retry_after == 7.0 and str(info.value) == "gemini-openai: 429 Resource exhausted. (RESOURCE_EXHAUSTED)"



class GatewayErrors:
    """Another plugin that builds the errors itself: the Gemini plugin's wrapper still adds RetryInfo."""

    @llmplug.hookimpl(tryfirst=True)
    def llmplug_parse_error(self, provider, operation, response, body):
        from llmplug.core.errors import make_status_error

        return make_status_error("from the gateway plugin", status_code=response.status_code, body=body,
                                 headers=response.headers, provider=provider.name)


@pytest.mark.parametrize("name", ["gemini-openai", "openai"])
def test_retry_info_wraps_any_plugins_error(api, name):
    plugins = llmplug.PluginManager(entry_points=False)
    plugins.register(GatewayErrors(), name="gateway-errors")
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3s"}]
    api.queue("POST", CHAT, status=429, json={"error": {"code": 429, "details": details}}, headers={"retry-after": "9"})
    with llmplug.new(name, api_key=TEST_KEY, base_url=api.url + "/v1beta/openai", max_retries=0, plugins=plugins) as c:
        with pytest.raises(llmplug.RateLimitError) as info:
            c.create_chat_completion(ASK)
    assert info.value.message == "from the gateway plugin"
    # only a spec with the ``retry_info`` option gets Google's delay; the others keep their own (none here)
    assert info.value.retry_after == (3.0 if name == "gemini-openai" else None)

def test_embeddings_and_models(compat, api):
    _, body, _ = compat.embedding(["a", "b"], dimensions=4)
    assert len(body.vectors) == 2 and api.last_request.json["model"] == "gemini-embedding-001"
    _, models, _ = compat.models()
    assert "models/gemini-2.5-flash" in models.ids


@pytest.mark.parametrize("call", [lambda c: c.moderation("x"), lambda c: c.create_response("x"),
                                  lambda c: c.completion("x")])
def test_unsupported(api, call):
    client = llmplug.new("gemini-openai", api_key="k", base_url=api.url + "/v1beta/openai")
    with pytest.raises(llmplug.UnsupportedOperationError, match="'gemini-openai'"):
        call(client)
    assert api.requests == []
