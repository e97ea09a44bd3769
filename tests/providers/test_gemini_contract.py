"""The ``gemini`` provider (native v1beta API) through every transport, against
the fake API over real sockets: each mapping both ways, streamed and not.
Every body sent is also parsed with Google's protos (``gemini_protos``)."""

from __future__ import annotations

import json

import pytest

import llmplug
from llmplug.core import models as m
from llmplug.testing import FakeAPI
from llmplug.testing.gemini_api import fake_thought_signature
from tests.conftest import TEST_KEY
from tests.providers.gemini_protos import gemini_protos  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("gemini_protos")

GEN = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
USER = [{"role": "user", "content": "Say hello"}]
TOOLS = [
    {"type": "function", "function": {"name": "add", "description": "Add two numbers",
                                      "parameters": {"type": "object", "properties": {"a": {"type": "integer"},
                                                                                      "b": {"type": "integer"}}}}},
    {"type": "function", "function": {"name": "mul", "parameters": {"type": "object"}}},
]


@pytest.fixture
def gemini(api: FakeAPI, transport: str):
    with llmplug.new("gemini", api_key=TEST_KEY, base_url=api.url + "/v1beta", transport=transport, max_retries=0) as c:
        yield c


def _sse(*events: dict) -> list[str]:
    return ["data: " + json.dumps(e) + "\r\n\r\n" for e in events]


# ---------------------------------------------------------------- chat: request and response


def test_chat_round_trip(gemini, api):
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [{"type": "text", "text": "No emoji."}]},
        {"role": "user", "content": "Say hello"},
    ]
    status, body, headers = gemini.create_chat_completion(
        messages, temperature=0.2, top_p=0.9, max_tokens=50, stop="zzz", seed=7, user="u1"
    )
    assert status == 200 and isinstance(body, m.ChatCompletion)
    choice = body.choices[0]
    assert choice.message.content == "You said: Say hello" and str(body) == "You said: Say hello"
    assert choice.message.role == "assistant" and choice.finish_reason == "stop"
    assert body.id == body.raw["responseId"] and body.model == body.raw["modelVersion"] == "gemini-2.5-flash"
    assert body.raw["candidates"][0]["content"]["role"] == "model"  # .raw is Gemini's own JSON
    meta = body.raw["usageMetadata"]
    assert body.usage.prompt_tokens == meta["promptTokenCount"]
    assert body.usage.completion_tokens == meta["candidatesTokenCount"] + meta["thoughtsTokenCount"]
    assert body.usage.reasoning_tokens == meta["thoughtsTokenCount"] > 0
    assert body.usage.total_tokens == meta["totalTokenCount"]
    assert headers["content-type"].startswith("application/json")
    req = api.last_request
    assert (req.method, req.path, req.query) == ("POST", GEN, {})
    assert req.headers["x-goog-api-key"] == TEST_KEY and "Authorization" not in req.headers
    assert req.headers["Accept"] == "application/json" and req.headers["Content-Type"] == "application/json"
    assert req.json == {
        "contents": [{"role": "user", "parts": [{"text": "Say hello"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}, {"text": "No emoji."}]},
        "generationConfig": {"temperature": 0.2, "topP": 0.9, "maxOutputTokens": 50, "seed": 7, "stopSequences": ["zzz"]},
    }


def test_history_roles_and_merging(gemini, api):
    messages = [
        {"role": "user", "content": "one"},
        {"role": "user", "content": [{"type": "text", "text": "two"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "assistant", "content": ""},  # nothing to send: dropped
        {"role": "user", "content": "three"},
    ]
    _, body, _ = gemini.create_chat_completion(messages)
    assert body.content == "You said: three"
    assert api.last_request.json["contents"] == [
        {"role": "user", "parts": [{"text": "one"}, {"text": "two"}]},
        {"role": "model", "parts": [{"text": "ok"}]},
        {"role": "user", "parts": [{"text": "three"}]},
    ]


def test_candidates_length_and_stop(gemini, api):
    _, body, _ = gemini.create_chat_completion(USER, n=2, max_completion_tokens=2, max_tokens=99)
    assert [c.index for c in body.choices] == [0, 1]
    assert [c.finish_reason for c in body.choices] == ["length", "length"]
    assert body.choices[0].message.content == "You said:"
    assert api.last_request.json["generationConfig"] == {"candidateCount": 2, "maxOutputTokens": 2}
    _, body, _ = gemini.create_chat_completion(USER, stop=["hello"], presence_penalty=0.5, frequency_penalty=0.1)
    assert body.content == "You said: Say "
    assert api.last_request.json["generationConfig"] == {
        "presencePenalty": 0.5, "frequencyPenalty": 0.1, "stopSequences": ["hello"]
    }


def test_model_names(gemini, api):
    gemini.create_chat_completion(USER, model="models/gemini-2.5-pro")
    assert api.last_request.path == "/v1beta/models/gemini-2.5-pro:generateContent"
    with pytest.raises(llmplug.NotFoundError) as info:
        gemini.create_chat_completion(USER, model="gemini-9")
    assert "models/gemini-9 is not found" in str(info.value) and "(NOT_FOUND)" in str(info.value)
    assert info.value.provider == "gemini"


def test_images_audio_and_files(gemini, api):
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
        {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"}},
        {"fileData": {"mimeType": "video/mp4", "fileUri": "https://example.com/v.mp4"}},
    ]
    _, body, _ = gemini.create_chat_completion([{"role": "user", "content": content}])
    assert body.content == "You said: What is this?"
    assert api.last_request.json["contents"][0]["parts"] == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/cat.jpg"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
        {"fileData": {"mimeType": "video/mp4", "fileUri": "https://example.com/v.mp4"}},
    ]


def test_json_schema_response_format(gemini, api):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}, "words": {"type": "integer"}},
              "required": ["answer"]}
    _, body, _ = gemini.create_chat_completion(
        USER, response_format={"type": "json_schema", "json_schema": {"name": "reply", "schema": schema}}
    )
    assert json.loads(body.content) == {"answer": "You said: Say hello", "words": 4}
    assert api.last_request.json["generationConfig"] == {"responseMimeType": "application/json",
                                                         "responseJsonSchema": schema}
    _, body, _ = gemini.create_chat_completion(USER, response_format={"type": "json_object"})
    assert json.loads(body.content) == {"text": "You said: Say hello"}


def test_gemini_only_options_pass_through(gemini, api):
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]
    gemini.create_chat_completion(
        USER, temperature=0.5, safetySettings=safety, generationConfig={"topK": 3, "temperature": 0.9},
        stream_options={"include_usage": True}, parallel_tool_calls=False, store=True,
    )
    sent = api.last_request.json
    assert sent["safetySettings"] == safety
    assert sent["generationConfig"] == {"temperature": 0.9, "topK": 3}  # the explicit Gemini config wins
    assert set(sent) == {"contents", "safetySettings", "generationConfig"}


# ---------------------------------------------------------------- reasoning


def test_thoughts_are_reasoning_not_content(gemini, api):
    _, body, _ = gemini.create_chat_completion(
        USER, reasoning_effort="low", generationConfig={"thinkingConfig": {"includeThoughts": True}}
    )
    msg = body.choices[0].message
    assert msg.content == "You said: Say hello"
    assert msg.reasoning.startswith("**Answering the user**")
    assert body.usage.reasoning_tokens > 0
    assert api.last_request.json["generationConfig"] == {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}
    _, body, _ = gemini.create_chat_completion(USER, reasoning_effort="none")
    assert body.choices[0].message.reasoning is None and body.usage.reasoning_tokens == 0


def test_streamed_thoughts(gemini, api):
    chunks = []
    _, body, _ = gemini.create_chat_completion(
        USER, generationConfig={"thinkingConfig": {"includeThoughts": True}}, chunk_callback=chunks.append
    )
    assert chunks[0].choices[0].delta.reasoning.startswith("**Answering")
    assert chunks[0].choices[0].delta.content is None and str(chunks[0]) == ""
    assert body.choices[0].message.reasoning == chunks[0].choices[0].delta.reasoning
    assert body.choices[0].message.content == "You said: Say hello"


# ---------------------------------------------------------------- streaming


def test_stream_with_callback(gemini, api):
    events = []
    status, body, _ = gemini.create_chat_completion(
        [{"role": "user", "content": "Tell me a rather long story about HTTP please"}], chunk_callback=events.append
    )
    assert status == 200 and len(events) >= 3
    assert all(isinstance(e, m.ChatCompletionChunk) for e in events)
    assert all("candidates" in e.raw and e.id == e.raw["responseId"] for e in events)
    assert events[0].choices[0].delta.role == "assistant" and events[1].choices[0].delta.role is None
    assert "".join(str(e) for e in events) == body.content == "You said: Tell me a rather long story about HTTP please"
    assert body.choices[0].finish_reason == "stop"
    assert body.id == events[0].id and body.model == "gemini-2.5-flash"
    assert body.usage.total_tokens == events[-1].raw["usageMetadata"]["totalTokenCount"]
    req = api.last_request
    assert (req.path, req.query) == (STREAM, {"alt": ["sse"]})
    assert req.headers["Accept"] == "text/event-stream"
    assert "stream" not in req.json


def test_stream_iterator(gemini, api):
    with gemini.create_chat_completion(USER, stream=True) as stream:
        text = "".join(str(chunk) for chunk in stream)
        final = stream.final
    assert text == "You said: Say hello" == final.content
    assert final.choices[0].finish_reason == "stop"


def test_stream_legacy_chat_callback(gemini, api):
    got = []
    gemini.chat(USER, lambda chunk, raw: got.append((str(chunk), raw)))
    assert "".join(text for text, _ in got) == "You said: Say hello"
    assert all("responseId" in raw for _, raw in got)


def test_stream_finish_reason_in_an_empty_chunk(gemini, api):
    head = {"modelVersion": "gemini-2.5-flash", "responseId": "r1"}
    api.queue("POST", STREAM, events=_sse(
        {"candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}}], **head},
        {"candidates": [{"content": {"parts": [{"text": "lo"}], "role": "model"}}], **head},
        {"candidates": [{"finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1,
                                                                     "totalTokenCount": 3}, **head},
    ))
    _, body, _ = gemini.create_chat_completion(USER, chunk_callback=lambda c: None)
    assert body.content == "Hello" and body.choices[0].finish_reason == "stop" and body.id == "r1"
    assert (body.usage.prompt_tokens, body.usage.completion_tokens, body.usage.total_tokens) == (2, 1, 3)


def test_stream_without_finish_reason_is_an_error(gemini, api):
    api.queue("POST", STREAM, events=_sse({"candidates": [{"content": {"parts": [{"text": "Hel"}], "role": "model"}}]}))
    with pytest.raises(llmplug.StreamError) as info:
        gemini.create_chat_completion(USER, chunk_callback=lambda c: None)
    assert info.value.received == "Hel" and info.value.provider == "gemini"


def test_error_event_mid_stream(gemini, api):
    api.queue("POST", STREAM, events=_sse(
        {"candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}}]},
        {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
    ))
    with pytest.raises(llmplug.StreamError, match="overloaded"):
        gemini.create_chat_completion(USER, chunk_callback=lambda c: None)


# ---------------------------------------------------------------- tools


def test_tool_call_and_result_round_trip(gemini, api):
    messages = [{"role": "user", "content": 'please add {"a": 1, "b": 2}'}]
    _, body, _ = gemini.create_chat_completion(messages, tools=TOOLS, tool_choice="auto")
    assert api.last_request.json["tools"] == [{"functionDeclarations": [
        {"name": "add", "description": "Add two numbers", "parametersJsonSchema": TOOLS[0]["function"]["parameters"]},
        {"name": "mul", "parametersJsonSchema": {"type": "object"}},
    ]}]
    assert api.last_request.json["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    choice = body.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.id.startswith("gencall_") and call.type == "function"
    assert call.function.name == "add" and json.loads(call.function.arguments) == {"a": 1, "b": 2}
    signature = fake_thought_signature("add", {"a": 1, "b": 2})
    assert call.raw["extra_content"] == {"google": {"thought_signature": signature}}

    messages += [choice.message.raw, {"role": "tool", "tool_call_id": call.id, "content": "3"}]
    _, body, _ = gemini.create_chat_completion(messages, tools=TOOLS)
    assert body.content == "Tool result: 3"
    assert api.last_request.json["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"name": "add", "args": {"a": 1, "b": 2}},
                                     "thoughtSignature": signature}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "add", "response": {"output": "3"}}}]},
    ]


def test_streamed_tool_call_matches_unstreamed(gemini, api):
    messages = [{"role": "user", "content": 'please add {"a": 1, "b": 2}'}]
    _, plain, _ = gemini.create_chat_completion(messages, tools=TOOLS)
    chunks = []
    _, streamed, _ = gemini.create_chat_completion(messages, tools=TOOLS, chunk_callback=chunks.append)
    assert streamed.choices[0].finish_reason == "tool_calls"
    (call,) = streamed.choices[0].message.tool_calls
    (expected,) = plain.choices[0].message.tool_calls
    assert call.function.name == "add" and call.function.arguments == expected.function.arguments
    assert call.id.startswith("gencall_") and call.raw["extra_content"] == expected.raw["extra_content"]
    delta = next(c for c in chunks if c.choices[0].delta.tool_calls).choices[0].delta.tool_calls[0]
    assert delta.index == 0 and delta.id == call.id


def test_parallel_calls_results_share_one_turn(gemini, api):
    messages = [{"role": "user", "content": 'add and mul {"a": 2, "b": 3}'}]
    _, body, _ = gemini.create_chat_completion(messages, tools=TOOLS)
    calls = body.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["add", "mul"] and len({c.id for c in calls}) == 2
    messages.append(body.choices[0].message.raw)
    messages += [{"role": "tool", "tool_call_id": c.id, "content": json.dumps({"value": i})} for i, c in enumerate(calls)]
    _, body, _ = gemini.create_chat_completion(messages, tools=TOOLS)
    assert body.content == 'Tool result: {"value": 1}'
    last = api.last_request.json["contents"][-1]
    assert last == {"role": "user", "parts": [
        {"functionResponse": {"name": "add", "response": {"value": 0}}},
        {"functionResponse": {"name": "mul", "response": {"value": 1}}},
    ]}


def test_ids_from_gemini_are_sent_back(gemini, api):
    api.queue("POST", GEN, json={
        "candidates": [{"content": {"role": "model", "parts": [
            {"functionCall": {"id": "fc-1", "name": "mul", "args": {"x": 2}}, "thoughtSignature": "c2ln"}]},
            "finishReason": "STOP", "index": 0}],
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1",
    })
    messages = [{"role": "user", "content": "mul"}]
    _, body, _ = gemini.create_chat_completion(messages, tools=TOOLS)
    (call,) = body.choices[0].message.tool_calls
    assert call.id == "fc-1"
    messages += [body.choices[0].message.raw, {"role": "tool", "tool_call_id": "fc-1", "content": "4"}]
    gemini.create_chat_completion(messages, tools=TOOLS)
    assert api.last_request.json["contents"][1:] == [
        {"role": "model", "parts": [{"functionCall": {"id": "fc-1", "name": "mul", "args": {"x": 2}},
                                     "thoughtSignature": "c2ln"}]},
        {"role": "user", "parts": [{"functionResponse": {"id": "fc-1", "name": "mul", "response": {"output": "4"}}}]},
    ]


@pytest.mark.parametrize(
    ("choice", "config", "called"),
    [
        ("none", {"mode": "NONE"}, []),
        ("required", {"mode": "ANY"}, ["add"]),
        ({"type": "function", "function": {"name": "mul"}}, {"mode": "ANY", "allowedFunctionNames": ["mul"]}, ["mul"]),
    ],
)
def test_tool_choice(gemini, api, choice, config, called):
    _, body, _ = gemini.create_chat_completion([{"role": "user", "content": "hi add"}], tools=TOOLS, tool_choice=choice)
    assert api.last_request.json["toolConfig"] == {"functionCallingConfig": config}
    assert [c.function.name for c in body.choices[0].message.tool_calls or []] == called


def test_legacy_functions(gemini, api):
    functions = [{"name": "add", "parameters": {"type": "object"}}]
    _, body, _ = gemini.create_chat_completion([{"role": "user", "content": "add"}], functions=functions,
                                               function_call={"name": "add"})
    assert api.last_request.json["tools"] == [{"functionDeclarations": [{"name": "add", "parametersJsonSchema": {"type": "object"}}]}]
    assert body.choices[0].message.tool_calls[0].function.name == "add"
    history = [{"role": "user", "content": "add"},
               {"role": "assistant", "content": None, "function_call": {"name": "add", "arguments": "{}"}},
               {"role": "function", "name": "add", "content": "5"}]
    _, body, _ = gemini.create_chat_completion(history, functions=functions)
    assert body.content == "Tool result: 5"


# ---------------------------------------------------------------- what Gemini reports instead of an answer


def test_blocked_prompt(gemini, api):
    blocked = {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
               "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "modelVersion": "gemini-2.5-flash"}
    api.queue("POST", GEN, json=blocked)
    _, body, _ = gemini.create_chat_completion(USER)
    choice = body.choices[0]
    assert choice.finish_reason == "content_filter" and choice.message.content is None
    assert "PROHIBITED_CONTENT" in choice.message.refusal
    api.queue("POST", STREAM, events=_sse(blocked))
    _, body, _ = gemini.create_chat_completion(USER, stream=True, chunk_callback=lambda c: None)
    assert body.choices[0].finish_reason == "content_filter" and "PROHIBITED_CONTENT" in body.choices[0].message.refusal


def test_malformed_function_call_surfaces(gemini, api):
    api.queue("POST", GEN, json={"candidates": [{"finishReason": "MALFORMED_FUNCTION_CALL", "index": 0,
                                                 "finishMessage": "Malformed function call: add(a=)"}]})
    _, body, _ = gemini.create_chat_completion(USER, tools=TOOLS)
    choice = body.choices[0]
    assert choice.finish_reason == "malformed_function_call"
    assert choice.message.content is None and choice.finish_message == "Malformed function call: add(a=)"


def test_safety_finish_is_content_filter(gemini, api):
    api.queue("POST", GEN, json={"candidates": [{"content": {"role": "model", "parts": [{"text": "Once"}]},
                                                 "finishReason": "SAFETY", "index": 0}]})
    _, body, _ = gemini.create_chat_completion(USER)
    assert body.choices[0].finish_reason == "content_filter" and body.content == "Once"


# ---------------------------------------------------------------- errors


def test_bad_request_error(gemini, api):
    with pytest.raises(llmplug.BadRequestError) as info:
        gemini.create_chat_completion(USER, generationConfig={"temprature": 1})
    err = info.value
    assert 'Unknown name "temprature"' in str(err) and "(INVALID_ARGUMENT)" in str(err)
    assert err.body["error"]["status"] == "INVALID_ARGUMENT"
    api.requests.clear()  # that body was wrong on purpose


def test_rate_limit_retry_info(api, transport):
    waits = []
    policy = llmplug.RetryPolicy(sleep=waits.append)
    client = llmplug.new("gemini", api_key=TEST_KEY, base_url=api.url + "/v1beta", transport=transport,
                         max_retries=1, retry=policy)
    details = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}]
    api.queue("POST", GEN, status=429,
              json={"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED", "details": details}})
    _, body, _ = client.create_chat_completion(USER)
    assert body.content == "You said: Say hello" and waits == [1.5]
    api.queue("POST", GEN, status=429, times=2,
              json={"error": {"code": 429, "message": "Quota exceeded.", "status": "RESOURCE_EXHAUSTED",
                              "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "53s"}]}})
    with pytest.raises(llmplug.RateLimitError) as info:
        client.create_chat_completion(USER)
    assert info.value.retry_after == 53.0 and "RESOURCE_EXHAUSTED" in str(info.value)


def test_overloaded_and_lua_style(api, transport):
    client = llmplug.new("gemini", api_key=TEST_KEY, base_url=api.url + "/v1beta", transport=transport,
                         max_retries=0, raise_for_status=False)
    api.queue("POST", GEN, status=503)
    status, body, _ = client.create_chat_completion(USER)
    assert status == 503 and body["error"]["status"] == "UNAVAILABLE"
    assert body["error"]["message"] == "The model is overloaded. Please try again later."


def test_api_key_header_only(transport):
    with FakeAPI(api_key="AIza-right") as api:
        good = llmplug.new("gemini", api_key="AIza-right", base_url=api.url + "/v1beta", transport=transport)
        assert good.create_chat_completion(USER).status == 200
        assert "key" not in api.last_request.query and "AIza" not in api.last_request.path
        bad = llmplug.new("gemini", api_key="AIza-wrong", base_url=api.url + "/v1beta", transport=transport)
        with pytest.raises(llmplug.BadRequestError) as info:
            bad.models()
        assert "API key not valid" in str(info.value) and "AIza-wrong" not in repr(info.value.request)


def test_key_from_environment(monkeypatch, api):
    monkeypatch.setenv("GOOGLE_API_KEY", "from-google")
    client = llmplug.new("gemini", base_url=api.url + "/v1beta")
    client.models()
    assert api.last_request.headers["x-goog-api-key"] == "from-google"
    monkeypatch.setenv("GEMINI_API_KEY", "from-gemini")
    llmplug.new("gemini", base_url=api.url + "/v1beta").models()
    assert api.last_request.headers["x-goog-api-key"] == "from-gemini"
    monkeypatch.delenv("GEMINI_API_KEY")
    monkeypatch.delenv("GOOGLE_API_KEY")
    with pytest.raises(llmplug.MissingAPIKeyError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        llmplug.new("gemini")


# ---------------------------------------------------------------- embeddings, models, request()


def test_embedding_one(gemini, api):
    _, body, _ = gemini.embedding("hello world", dimensions=4, task_type="RETRIEVAL_QUERY")
    assert isinstance(body, m.EmbeddingList) and body.model == "gemini-embedding-001"
    assert len(body.data) == 1 and body.data[0].index == 0 and len(body.data[0].embedding) == 4
    assert body.raw == {"embedding": {"values": body.data[0].embedding}}
    req = api.last_request
    assert req.path == "/v1beta/models/gemini-embedding-001:embedContent"
    assert req.json == {"content": {"parts": [{"text": "hello world"}]}, "outputDimensionality": 4,
                        "taskType": "RETRIEVAL_QUERY"}


def test_embedding_batch(gemini, api):
    _, body, _ = gemini.embedding(["a", "b", "a"], model="text-embedding-004", dimensions=3)
    assert [e.index for e in body.data] == [0, 1, 2] and body.model == "text-embedding-004"
    assert body.vectors[0] == body.vectors[2] != body.vectors[1]
    req = api.last_request
    assert req.path == "/v1beta/models/text-embedding-004:batchEmbedContents"
    assert req.json == {"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": t}]}, "outputDimensionality": 3}
        for t in ("a", "b", "a")
    ]}


def test_models(gemini, api):
    _, body, _ = gemini.models()
    assert isinstance(body, m.ModelList) and "gemini-2.5-flash" in body.ids
    first = body.data[0]
    assert first.id == "gemini-2.5-flash" and first.display_name == "Gemini 2.5 Flash" and first.owned_by == "google"
    assert first["name"] == "models/gemini-2.5-flash" and first.raw["inputTokenLimit"] == 1048576
    assert "models" in body.raw
    assert api.last_request.query == {"pageSize": ["1000"]}
    _, model, _ = gemini.model("models/gemini-2.5-pro")
    assert model.id == "gemini-2.5-pro" and api.last_request.path == "/v1beta/models/gemini-2.5-pro"


def test_models_follows_every_page(gemini, api):
    from llmplug.testing.gemini_api import MODELS

    _, body, _ = gemini.models(pageSize=2)
    assert body.ids == [model["name"].split("/", 1)[1] for model in MODELS]
    pages = [r for r in api.requests if r.path == "/v1beta/models"]
    assert len(pages) == (len(MODELS) + 1) // 2 >= 2
    assert pages[0].query == {"pageSize": ["2"]} and "pageToken" in pages[1].query
    assert len(body.raw["models"]) == 2 and len(body.raw["next_pages"]) == len(pages) - 1
    assert [m["id"] for m in body["data"]] == body.ids  # dict access: OpenAI's shape, every page


def test_dict_access_has_openais_shape_while_raw_keeps_geminis(gemini, api):
    user = [{"role": "user", "content": "Say hi"}]
    _, body, _ = gemini.create_chat_completion(user)
    assert body["choices"][0]["message"]["content"] == "You said: Say hi" == body.choices[0].message.content
    assert "choices" in body and "candidates" not in body and "candidates" in body.raw
    assert body["object"] == "chat.completion" and body["usage"]["total_tokens"] == body.usage.total_tokens
    streamed = gemini.create_chat_completion(user, chunk_callback=lambda chunk: None).body
    assert streamed["choices"][0]["message"]["content"] == "You said: Say hi"
    _, vectors, _ = gemini.embedding("hello")
    assert vectors["object"] == "list" and vectors["data"][0]["embedding"] == vectors.data[0].embedding


def test_request_any_endpoint(gemini, api):
    status, body, _ = gemini.request(
        "POST", "/models/gemini-2.5-flash:countTokens", json={"contents": [{"parts": [{"text": "one two three"}]}]}
    )
    assert status == 200 and body["totalTokens"] == 3
    req = api.last_request
    assert req.headers["x-goog-api-key"] == TEST_KEY and req.path == "/v1beta/models/gemini-2.5-flash:countTokens"


@pytest.mark.parametrize(
    ("call", "operation", "hint"),
    [
        (lambda c: c.moderation("x"), "moderations.create", "safety"),
        (lambda c: c.image_generation(prompt="a cat"), "images.generate", "gemini-2.5-flash-image"),
        (lambda c: c.create_response("hi"), "responses.create", "create_chat_completion"),
        (lambda c: c.response("r1"), "responses.retrieve", "create_chat_completion"),
        (lambda c: c.completion("hi"), "completions.create", "create_chat_completion"),
    ],
)
def test_unsupported_operations(api, call, operation, hint):
    client = llmplug.new("gemini", api_key=TEST_KEY, base_url=api.url + "/v1beta")
    with pytest.raises(llmplug.UnsupportedOperationError) as info:
        call(client)
    assert "'gemini'" in str(info.value) and operation in str(info.value) and hint in str(info.value)
    assert api.requests == []


def test_request_stream_ends_with_the_connection(api):
    client = llmplug.new("gemini", api_key=TEST_KEY, base_url=api.url + "/v1beta")
    events = []
    client.request("POST", "/models/gemini-2.5-flash:streamGenerateContent", query={"alt": "sse"},
                   json={"contents": [{"parts": [{"text": "hi"}]}]}, callback=events.append)
    assert events[-1]["candidates"][0]["finishReason"] == "STOP"


def test_readme_gemini_section_bodies_are_valid_protos(monkeypatch):
    """The README's Gemini example runs (tests/test_readme.py runs it too) and
    every body it sends parses with Google's protos."""
    import pathlib
    import re

    import llmplug.testing
    from tests.providers.gemini_protos import invalid_bodies

    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Gemini\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    servers: list[FakeAPI] = []

    class Recorded(FakeAPI):
        def stop(self) -> None:
            servers.append(self)
            super().stop()

    monkeypatch.setattr(llmplug.testing, "FakeAPI", Recorded)
    exec(compile(block, "README.md[Gemini]", "exec"), {"__name__": "__readme__"})
    (server,) = servers
    native = [r for r in server.requests if r.path.startswith("/v1beta/models/") and r.method == "POST"]
    assert len(native) >= 5 and invalid_bodies(server.requests) == []
