"""The ``gemini`` mappings as pure functions: request bodies (each parsed with
Google's protos), response normalisation, finish reasons, usage and errors."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format

import llmplug
from llmplug.core import models as m
from llmplug.core.http import BytesStream, Headers, Request, Response
from llmplug.core.sse import SSEEvent
from llmplug.core.streaming import SKIP
from llmplug.providers import gemini as g
from tests.providers.gemini_protos import check_body

USER = [{"role": "user", "content": "hi"}]


def body(**params):
    """A chat body, checked against GenerateContentRequest."""
    out = g.chat_body({"messages": USER, **params})
    check_body("generateContent", out)
    return out


def test_the_proto_check_rejects_misspelt_and_mistyped_fields():
    check_body("generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    for bad in (
        {"contents": [{"role": "user", "parts": [{"txt": "hi"}]}]},
        {"contents": [], "generationConfig": {"maxOutputTokens": "many"}},
        {"contents": [], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}},
        {"contents": [], "generation_config": {"thinking_config": {"include_thoughts": "yes"}}},
    ):
        with pytest.raises(json_format.ParseError):
            check_body("generateContent", bad)
    with pytest.raises(json_format.ParseError):
        check_body("embedContent", {"content": {"parts": [{"text": "x"}]}, "dimensions": 3})


def test_generation_config():
    out = body(temperature=0, top_p=1, top_k=3, n=2, max_tokens=5, presence_penalty=0.1, frequency_penalty=0.2,
               seed=1, stop="x", logprobs=True, top_logprobs=2)
    assert out["generationConfig"] == {
        "temperature": 0, "topP": 1, "topK": 3, "candidateCount": 2, "maxOutputTokens": 5, "presencePenalty": 0.1,
        "frequencyPenalty": 0.2, "seed": 1, "responseLogprobs": True, "logprobs": 2, "stopSequences": ["x"],
    }
    assert "generationConfig" not in body(user="u", store=False, metadata={"a": "b"}, parallel_tool_calls=True)


@pytest.mark.parametrize(("effort", "budget"), [("none", 0), ("low", 1024), ("medium", 8192), ("high", 24576)])
def test_reasoning_effort(effort, budget):
    assert body(reasoning_effort=effort)["generationConfig"] == {"thinkingConfig": {"thinkingBudget": budget}}


def test_refused_and_invalid_params():
    with pytest.raises(llmplug.ConfigurationError, match="logit_bias"):
        g.chat_body({"messages": USER, "logit_bias": {"1": 2}})
    with pytest.raises(llmplug.ConfigurationError, match="reasoning_effort"):
        g.chat_body({"messages": USER, "reasoning_effort": "max"})
    with pytest.raises(llmplug.ConfigurationError, match="response_format"):
        g.chat_body({"messages": USER, "response_format": {"type": "yaml"}})
    with pytest.raises(llmplug.ConfigurationError, match="tool_choice"):
        g.chat_body({"messages": USER, "tool_choice": "sometimes"})
    with pytest.raises(llmplug.ConfigurationError, match="web_search_preview"):
        g.chat_body({"messages": USER, "tools": [{"type": "web_search_preview"}]})


def test_tools_and_tool_choice():
    tools = [{"type": "function", "function": {"name": "f", "strict": True}}, {"googleSearch": {}}]
    allowed = {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "f"}}]}}
    out = body(tools=tools, tool_choice=allowed)
    assert out["tools"] == [{"functionDeclarations": [{"name": "f"}]}, {"googleSearch": {}}]
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}}
    out = body(tools=tools, tool_choice="auto", toolConfig={"functionCallingConfig": {"mode": "VALIDATED"}})
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "VALIDATED"}}


def test_nested_json_schema_is_sent_whole():
    schema = {"type": "object", "properties": {"items": {"type": "array", "items": {
        "type": "object", "properties": {"name": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
        "additionalProperties": False}}}, "$defs": {"x": {"type": "string"}}}
    out = body(tools=[{"type": "function", "function": {"name": "f", "parameters": schema}}],
               response_format={"type": "json_schema", "json_schema": {"name": "r", "schema": schema, "strict": True}})
    assert out["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"] == schema
    assert out["generationConfig"]["responseJsonSchema"] == schema


def test_messages_mapping():
    history = [
        {"role": "developer", "content": "rules"},
        {"role": "user", "content": "q"},
        m.ChatMessage(raw={"role": "assistant", "content": "a", "reasoning": "hidden"}),
        {"role": "system", "content": "late rules"},
        {"role": "user", "content": [{"type": "image_url", "image_url": "data:text/plain,hi%20there"}]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}], "tool_calls": [
            {"id": "", "type": "function", "function": {"name": "f", "arguments": ""}},
            {"id": "", "type": "function", "function": {"name": "h", "arguments": {"x": 1}}}]},
        {"role": "tool", "tool_call_id": "", "content": [{"type": "text", "text": "[1, 2]"}]},
        {"role": "tool", "tool_call_id": "", "content": '{"ok": true}'},
    ]
    system, contents = g.map_messages(history)
    assert system == {"parts": [{"text": "rules"}, {"text": "late rules"}]}
    assert contents == [
        {"role": "user", "parts": [{"text": "q"}]},
        {"role": "model", "parts": [{"text": "a"}]},
        {"role": "user", "parts": [{"inlineData": {"mimeType": "text/plain", "data": "aGkgdGhlcmU="}}]},
        {"role": "model", "parts": [{"text": "no"}, {"functionCall": {"name": "f", "args": {}}},
                                    {"functionCall": {"name": "h", "args": {"x": 1}}}]},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"output": "[1, 2]"}}},
                                   {"functionResponse": {"name": "h", "response": {"ok": True}}}]},
    ]
    check_body("generateContent", {"systemInstruction": system, "contents": contents})


def test_tool_message_errors():
    with pytest.raises(llmplug.ConfigurationError, match="add 'name'"):
        g.map_messages([{"role": "tool", "tool_call_id": "nope", "content": "x"}])
    _, contents = g.map_messages([{"role": "tool", "tool_call_id": "nope", "name": "f", "content": "x"}])
    assert contents[0]["parts"][0]["functionResponse"] == {"id": "nope", "name": "f", "response": {"output": "x"}}
    with pytest.raises(llmplug.ConfigurationError, match="not valid JSON"):
        g.map_messages([{"role": "assistant", "tool_calls": [{"id": "1", "function": {"name": "f", "arguments": "{"}}]}])
    with pytest.raises(llmplug.ConfigurationError, match="role 'robot'"):
        g.map_messages([{"role": "robot", "content": "x"}])
    with pytest.raises(llmplug.ConfigurationError, match="no Gemini equivalent"):
        g.map_messages([{"role": "user", "content": [{"type": "video", "video": "x"}]}])


def test_embedding_bodies():
    method, out = g.embedding_body("models/gemini-embedding-001", {"input": "x", "title": "T", "taskType": "RETRIEVAL_DOCUMENT"})
    assert method == "embedContent" and out == {"content": {"parts": [{"text": "x"}]}, "title": "T", "taskType": "RETRIEVAL_DOCUMENT"}
    check_body(method, out)
    method, out = g.embedding_body("gemini-embedding-001", {"input": ["x"], "encoding_format": "float", "user": "u"})
    assert method == "batchEmbedContents"
    assert out == {"requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]}}]}
    check_body(method, out)
    with pytest.raises(llmplug.ConfigurationError, match="float"):
        g.embedding_body("m", {"input": "x", "encoding_format": "base64"})
    with pytest.raises(llmplug.ConfigurationError, match="text only"):
        g.embedding_body("m", {"input": [1, 2, 3]})


def test_model_resource():
    assert g.model_resource("gemini-2.5-flash") == "models/gemini-2.5-flash"
    assert g.model_resource("models/gemini-2.5-flash") == "models/gemini-2.5-flash"
    assert g.model_resource("tunedModels/mine") == "tunedModels/mine"
    with pytest.raises(llmplug.ConfigurationError):
        g.model_resource(" ")


# ---------------------------------------------------------------- responses


@pytest.mark.parametrize(
    ("reason", "calls", "expected"),
    [("STOP", False, "stop"), ("STOP", True, "tool_calls"), ("MAX_TOKENS", False, "length"),
     ("SAFETY", False, "content_filter"), ("RECITATION", False, "content_filter"), ("SPII", False, "content_filter"),
     ("IMAGE_SAFETY", False, "content_filter"), ("MALFORMED_FUNCTION_CALL", True, "malformed_function_call"),
     ("OTHER", False, "other"), (None, False, None), ("FINISH_REASON_UNSPECIFIED", False, None)],
)
def test_finish_reasons(reason, calls, expected):
    assert g.finish_reason(reason, calls) == expected


def test_usage_with_thoughts_cache_and_tool_prompt():
    meta = {"promptTokenCount": 10, "cachedContentTokenCount": 4, "toolUsePromptTokenCount": 3,
            "candidatesTokenCount": 5, "thoughtsTokenCount": 7, "totalTokenCount": 25}
    completion = g.completion_from_gemini({"candidates": [], "usageMetadata": meta})
    u = completion.usage
    assert (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (13, 12, 25)
    assert (u.reasoning_tokens, u.cached_tokens) == (7, 4)
    assert completion.raw["usageMetadata"] is meta


def test_completion_with_candidates_and_logprobs():
    data = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "Hel"}, {"text": "lo"}]}, "finishReason": "STOP",
             "logprobsResult": {"topCandidates": [{"candidates": [{"token": "Hel", "logProbability": -0.1}]}],
                                "chosenCandidates": [{"token": "Hel", "logProbability": -0.1}]}},
            {"index": 1, "content": {"role": "model", "parts": [{"thought": True, "text": "hmm"}, {"text": "Hi"}]},
             "finishReason": "MAX_TOKENS"},
        ],
        "modelVersion": "gemini-2.5-flash-001", "responseId": "abc",
    }
    completion = g.completion_from_gemini(data)
    first, second = completion.choices
    assert (first.index, first.message.content, first.finish_reason) == (0, "Hello", "stop")
    assert first.logprobs["content"][0] == {"token": "Hel", "logprob": -0.1, "bytes": None,
                                            "top_logprobs": [{"token": "Hel", "logprob": -0.1, "bytes": None}]}
    assert (second.index, second.message.content, second.message.reasoning) == (1, "Hi", "hmm")
    assert second.finish_reason == "length" and completion.id == "abc" and completion.model == "gemini-2.5-flash-001"
    assert completion.candidates == data["candidates"]  # Gemini's fields read through .raw


def test_generated_ids_are_stable_and_unique_per_response():
    data = {"responseId": "r1", "candidates": [{"content": {"parts": [
        {"functionCall": {"name": "f", "args": {}}}, {"functionCall": {"name": "f", "args": {}}}]}, "finishReason": "STOP"}]}
    ids = [c.id for c in g.completion_from_gemini(data).choices[0].message.tool_calls]
    assert ids == [c.id for c in g.completion_from_gemini(data).choices[0].message.tool_calls]
    assert len(set(ids)) == 2 and all(i.startswith(g.GENERATED_ID_PREFIX) for i in ids)
    other = g.completion_from_gemini({**data, "responseId": "r2"}).choices[0].message.tool_calls
    assert not set(ids) & {c.id for c in other}


def test_chunk_parser_state():
    parse = g.ChunkParser()
    call = {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "c2ln"}
    first = parse(SSEEvent(json.dumps({"responseId": "r", "candidates": [{"content": {"parts": [{"text": "a"}]}}]})))
    second = parse(SSEEvent(json.dumps({"responseId": "r", "candidates": [{"content": {"parts": [call, call]}}]})))
    last = parse(SSEEvent(json.dumps({"responseId": "r", "candidates": [{"finishReason": "STOP"}]})))
    assert first.choices[0].delta.role == "assistant" and second.choices[0].delta.role is None
    deltas = second.choices[0].delta.tool_calls
    assert [d.index for d in deltas] == [0, 1] and deltas[0].raw["extra_content"]["google"]["thought_signature"] == "c2ln"
    assert last.choices[0].finish_reason == "tool_calls"
    assert parse(SSEEvent("  ")) is SKIP
    with pytest.raises(llmplug.StreamError, match="not valid JSON"):
        parse(SSEEvent("{oops"))


def test_embeddings_and_models_normalised():
    emb = g.embeddings_from_gemini({"embeddings": [{"values": [1.0]}, {"values": [2.0]}]}, "gemini-embedding-001")
    assert emb.vectors == [[1.0], [2.0]] and emb.model == "gemini-embedding-001" and emb.usage is None
    models = g.models_from_gemini({"models": [{"name": "models/x", "displayName": "X"}], "nextPageToken": "t"})
    assert models.ids == ["x"] and models.data[0].display_name == "X" and models.raw["nextPageToken"] == "t"


# ---------------------------------------------------------------- errors


def _response(status: int, headers: dict | None = None) -> Response:
    return Response(status, Headers(headers or {}), BytesStream(b""), Request("POST", "https://x/v1beta/models/m:generateContent"))


@pytest.mark.parametrize(("delay", "seconds"), [("53s", 53.0), ("1.5s", 1.5), ("0s", 0.0), ({"seconds": 2, "nanos": 500000000}, 2.5)])
def test_retry_delay(delay, seconds):
    from llmplug.providers.gemini.errors import retry_info_delay

    details = [{"@type": "type.googleapis.com/google.rpc.Help"},
               {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]
    assert retry_info_delay({"error": {"code": 429, "details": details}}) == seconds
    assert retry_info_delay([{"error": {"details": details}}]) == seconds  # the compatible endpoint's list


def test_parse_error_shapes():
    spec = llmplug.new("gemini", api_key="k").provider
    body = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    err = g.parse_gemini_error(spec, _response(503, {"retry-after": "2"}), body)
    assert isinstance(err, llmplug.InternalServerError) and err.retry_after == 2.0
    assert err.message == "The model is overloaded. (UNAVAILABLE)" and err.provider == "gemini"
    err = g.parse_gemini_error(spec, _response(400), [{"error": {"code": 400, "message": "Bad.", "status": "INVALID_ARGUMENT"}}])
    assert isinstance(err, llmplug.BadRequestError) and err.message == "Bad. (INVALID_ARGUMENT)"
    err = g.parse_gemini_error(spec, _response(404), "<html>Error 404 (Not Found)!!1</html>")
    assert isinstance(err, llmplug.NotFoundError) and "404 (Not Found)" in err.message


def test_empty_signed_text_part_next_to_a_call():
    data = {"candidates": [{"content": {"parts": [{"functionCall": {"name": "f", "args": {}}},
                                                  {"text": "", "thoughtSignature": "c2ln"}]}, "finishReason": "STOP"}]}
    message = g.completion_from_gemini(data).choices[0].message
    assert message.content is None and message.tool_calls[0].function.name == "f"
    empty = g.completion_from_gemini({"candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}]})
    assert empty.choices[0].message.content == ""
    chunk = g.ChunkParser().chunk(data)
    assert chunk.choices[0].delta.content is None and chunk.choices[0].finish_reason == "tool_calls"
