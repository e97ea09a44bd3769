"""The fake Gemini API (``llmplug.testing.gemini_api``) over raw HTTP: wire
format, Google's body checks and error shapes, paging, auth. Every answer it
gives is parsed with Google's response protos, so the fake cannot drift."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from google.ai.generativelanguage_v1beta import types as gl
from google.protobuf import json_format

from llmplug.testing import FakeAPI
from llmplug.testing.gemini_api import fake_thought_signature, gemini_service
from tests.providers.gemini_replies import CODE_REPLY, SERVER_TOOL_REPLY, THINKING_REPLY

GEN = "/v1beta/models/gemini-2.5-flash:generateContent"
HELLO = {"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]}


class Answer:
    def __init__(self, status: int, headers: Any, raw: bytes) -> None:
        self.status, self.headers, self.raw = status, headers, raw

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


def call(api: FakeAPI, method: str, path: str, body: Any = None, headers: dict | None = None) -> Answer:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(api.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return Answer(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.headers, exc.read())


def proto(message: Any, data: Any) -> None:
    json_format.Parse(json.dumps(data), message()._pb, ignore_unknown_fields=False)


def error_of(answer: Answer, status: int, name: str) -> str:
    assert answer.status == status, answer.raw
    err = answer.json["error"]
    assert (err["code"], err["status"]) == (status, name)
    return err["message"]


def test_generate_content_shape(api):
    answer = call(api, "POST", GEN, HELLO)
    assert answer.status == 200 and answer.headers["Content-Type"] == "application/json; charset=UTF-8"
    data = answer.json
    proto(gl.GenerateContentResponse, data)
    assert data["candidates"][0]["content"] == {"parts": [{"text": "You said: Hello there"}], "role": "model"}
    assert data["candidates"][0]["finishReason"] == "STOP" and data["modelVersion"] == "gemini-2.5-flash"
    meta = data["usageMetadata"]
    assert meta["totalTokenCount"] == meta["promptTokenCount"] + meta["candidatesTokenCount"] + meta["thoughtsTokenCount"]
    assert data["responseId"]


def test_sse_stream_has_crlf_and_no_done(api):
    body = {**HELLO, "generationConfig": {"thinkingConfig": {"includeThoughts": True}, "candidateCount": 2}}
    answer = call(api, "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", body)
    assert answer.headers["Content-Type"].startswith("text/event-stream")
    text = answer.raw.decode()
    assert "[DONE]" not in text and text.endswith("\r\n\r\n")
    events = [json.loads(block[len("data: "):]) for block in text.split("\r\n\r\n") if block]
    for event in events:
        proto(gl.GenerateContentResponse, event)
    assert len({e["responseId"] for e in events}) == 1
    assert events[0]["candidates"][0]["content"]["parts"][0]["thought"] is True
    finished = [c for e in events for c in e["candidates"] if "finishReason" in c]
    assert sorted(c["index"] for c in finished) == [0, 1]
    texts = ["".join(p["text"] for e in events for c in e["candidates"] if c["index"] == i
                     for p in c.get("content", {}).get("parts", []) if not p.get("thought")) for i in (0, 1)]
    assert texts == ["You said: Hello there", "You said: Hello there (choice 1)"]
    assert "candidatesTokenCount" in events[-1]["usageMetadata"]


def test_stream_without_alt_is_a_json_array(api):
    answer = call(api, "POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", HELLO)
    events = answer.json
    assert isinstance(events, list) and events[-1]["candidates"][0]["finishReason"] == "STOP"


def test_function_calls_signatures_and_results(api):
    tools = [{"functionDeclarations": [{"name": "get_weather", "parametersJsonSchema": {"type": "object"}}]}]
    body = {"contents": [{"role": "user", "parts": [{"text": 'get_weather {"city": "Paris"}'}]}], "tools": tools}
    data = call(api, "POST", GEN, body).json
    proto(gl.GenerateContentResponse, data)
    part = data["candidates"][0]["content"]["parts"][0]
    assert part["functionCall"] == {"name": "get_weather", "args": {"city": "Paris"}}
    assert part["thoughtSignature"] == fake_thought_signature("get_weather", {"city": "Paris"})
    turn = {"role": "user", "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}]}
    history = body["contents"] + [{"role": "model", "parts": [part]}, turn]
    data = call(api, "POST", GEN, {**body, "contents": history}).json
    assert data["candidates"][0]["content"]["parts"] == [{"text": "Tool result: sunny"}]
    # Gemini 3 wants the signature back on the current turn's call
    g3 = "/v1beta/models/gemini-3-pro-preview:generateContent"
    assert call(api, "POST", g3, {**body, "contents": history}).status == 200
    unsigned = body["contents"] + [{"role": "model", "parts": [{"functionCall": part["functionCall"]}]}, turn]
    assert "thought_signature" in error_of(call(api, "POST", g3, {**body, "contents": unsigned}), 400, "INVALID_ARGUMENT")
    # ...and accepts an unsigned call from an earlier turn
    later = unsigned + [{"role": "model", "parts": [{"text": "ok"}]}, {"role": "user", "parts": [{"text": "next"}]}]
    assert call(api, "POST", g3, {**body, "contents": later}).status == 200


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"contents": [{"role": "user", "parts": [{"txt": "x"}]}]},
         "Unknown name \"txt\" at 'contents[0].parts[0]': Cannot find field."),
        ({**HELLO, "generationConfig": {"temperature": "hot"}},
         "Invalid value at 'generation_config.temperature' (TYPE_FLOAT), \"hot\""),
        ({**HELLO, "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}},
         "FunctionCallingConfig.Mode), \"SOMETIMES\""),
        ({**HELLO, "generationConfig": {"maxOutputTokens": 1.5}}, "(TYPE_INT32), 1.5"),
        ({"contents": []}, "contents is not specified"),
        ({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}, "Please use a valid role: user, model."),
        ({"contents": [{"role": "user", "parts": []}]}, "contents.parts must not be empty"),
        ({"contents": [{"role": "user", "parts": [{"text": ""}]}]}, "required oneof field 'data'"),
        ({"contents": [{"role": "user", "parts": [{"text": "a", "inlineData": {"mimeType": "x/y", "data": "AA=="}}]}]},
         "Oneof field 'data' is already set"),
        ({"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "not base64!"}}]}]},
         "(TYPE_BYTES)"),
        ({"contents": [{"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]},
         "function response turn comes immediately after a function call turn"),
        ({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f"}}, {"functionCall": {"name": "g"}}]},
                       {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {}}}]}]},
         "number of function response parts is equal to the number of function call parts"),
        ({**HELLO, "tools": [{"functionDeclarations": [{"name": "bad name"}]}]}, "Invalid function name"),
        ({**HELLO, "toolConfig": {"functionCallingConfig": {"mode": "AUTO", "allowedFunctionNames": ["f"]}}},
         "only allowed when function calling mode is ANY"),
        ({**HELLO, "generationConfig": {"responseMimeType": "text/csv"}}, "allowed mimetypes"),
    ],
)
def test_bad_bodies(api, body, needle):
    assert needle in error_of(call(api, "POST", GEN, body), 400, "INVALID_ARGUMENT")


def test_unknown_fields_are_all_reported_with_details(api):
    answer = call(api, "POST", GEN, {**HELLO, "foo": 1, "generationConfig": {"bar": 2}})
    message = error_of(answer, 400, "INVALID_ARGUMENT")
    assert message.splitlines() == ['Invalid JSON payload received. Unknown name "foo": Cannot find field.',
                                    "Invalid JSON payload received. Unknown name \"bar\" at 'generation_config': "
                                    "Cannot find field."]
    assert answer.json["error"]["details"][0]["@type"] == "type.googleapis.com/google.rpc.BadRequest"
    assert error_of(call(api, "POST", GEN, b"{not json"), 400, "INVALID_ARGUMENT").startswith("Invalid JSON payload")


def test_snake_case_names_are_accepted(api):
    body = {"contents": HELLO["contents"], "system_instruction": {"parts": [{"text": "hi"}]},
            "generation_config": {"max_output_tokens": 1, "thinking_config": {"thinking_budget": 0}}}
    data = call(api, "POST", GEN, body).json
    assert data["candidates"][0]["finishReason"] == "MAX_TOKENS" and "thoughtsTokenCount" not in data["usageMetadata"]


def test_model_rules(api):
    assert "not found for API version v1beta" in error_of(
        call(api, "POST", "/v1beta/models/gemini-1.0-ultra:generateContent", HELLO), 404, "NOT_FOUND")
    assert "supported for embedContent" in error_of(
        call(api, "POST", "/v1beta/models/gemini-2.5-flash:embedContent", {"content": {"parts": [{"text": "x"}]}}),
        404, "NOT_FOUND")
    body = {**HELLO, "generationConfig": {"thinkingConfig": {"thinkingBudget": 0}}}
    assert "only works in thinking mode" in error_of(
        call(api, "POST", "/v1beta/models/gemini-2.5-pro:generateContent", body), 400, "INVALID_ARGUMENT")
    answer = call(api, "GET", "/v1beta/nothing/here")
    assert answer.status == 404 and answer.headers["Content-Type"].startswith("text/html")


def test_embeddings(api):
    one = call(api, "POST", "/v1beta/models/gemini-embedding-001:embedContent",
               {"content": {"parts": [{"text": "x"}]}, "taskType": "CLUSTERING"}).json
    proto(gl.EmbedContentResponse, one)
    assert len(one["embedding"]["values"]) == 3072
    batch = call(api, "POST", "/v1beta/models/text-embedding-004:batchEmbedContents", {"requests": [
        {"model": "models/text-embedding-004", "content": {"parts": [{"text": t}]}, "outputDimensionality": 2}
        for t in ("x", "y")]}).json
    proto(gl.BatchEmbedContentsResponse, batch)
    assert [len(e["values"]) for e in batch["embeddings"]] == [2, 2]
    wrong = {"requests": [{"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "x"}]}}]}
    assert "batch's model" in error_of(
        call(api, "POST", "/v1beta/models/text-embedding-004:batchEmbedContents", wrong), 400, "INVALID_ARGUMENT")


def test_count_tokens(api):
    data = call(api, "POST", "/v1beta/models/gemini-2.5-flash:countTokens",
                {"generateContentRequest": {"model": "models/gemini-2.5-flash", **HELLO}}).json
    proto(gl.CountTokensResponse, data)
    assert data["totalTokens"] == 2


def test_models_paging(api):
    seen, token, pages = [], "", 0
    while True:
        data = call(api, "GET", f"/v1beta/models?pageSize=3&pageToken={token}").json
        proto(gl.ListModelsResponse, data)
        seen += [entry["name"] for entry in data["models"]]
        pages += 1
        token = data.get("nextPageToken")
        if not token:
            break
    assert pages == 3 and seen[0] == "models/gemini-2.5-flash" and len(seen) == len(set(seen)) == 7
    model = call(api, "GET", "/v1beta/models/gemini-2.5-pro").json
    proto(gl.Model, model)
    assert error_of(call(api, "GET", "/v1beta/models?pageToken=%%%"), 400, "INVALID_ARGUMENT")


def test_auth():
    with FakeAPI(api_key="AIza-key") as api:
        assert "unregistered callers" in error_of(call(api, "POST", GEN, HELLO), 403, "PERMISSION_DENIED")
        bad = call(api, "POST", GEN, HELLO, {"x-goog-api-key": "nope"})
        assert error_of(bad, 400, "INVALID_ARGUMENT") == "API key not valid. Please pass a valid API key."
        assert bad.json["error"]["details"][0]["reason"] == "API_KEY_INVALID"
        assert call(api, "POST", GEN, HELLO, {"x-goog-api-key": "AIza-key"}).status == 200
        assert call(api, "POST", GEN + "?key=AIza-key", HELLO).status == 200
        compat = call(api, "GET", "/v1beta/openai/models")
        assert compat.status == 401 and compat.json[0]["error"]["status"] == "UNAUTHENTICATED"
        assert call(api, "GET", "/v1beta/openai/models", headers={"Authorization": "Bearer AIza-key"}).status == 200
        assert call(api, "GET", "/v1/models", headers={"Authorization": "Bearer AIza-key"}).status == 200


def test_scripted_replies(api):
    api.queue("POST", GEN, status=429)
    message = error_of(call(api, "POST", GEN, HELLO), 429, "RESOURCE_EXHAUSTED")
    assert "quota" in message
    assert call(api, "POST", GEN, HELLO).status == 200
    assert api.requests[-1].json == HELLO and api.requests[-1].path == GEN


def test_openai_compatible_errors_are_listed(api):
    answer = call(api, "POST", "/v1beta/openai/chat/completions", {"model": "gemini-9", "messages": []})
    assert answer.status == 404 and answer.json[0]["error"]["status"] == "NOT_FOUND"


# ---------------------------------------------------------------- scripted candidates

def _streamed_parts(answer: Answer) -> tuple[list[dict], list[dict]]:
    """(every part in arrival order, the finishing candidate) of an SSE answer."""
    events = [json.loads(block[len("data: "):]) for block in answer.raw.decode().split("\r\n\r\n") if block]
    parts = [p for e in events for c in e["candidates"] for p in c.get("content", {}).get("parts", [])]
    return parts, events[-1]["candidates"][0]


@pytest.mark.parametrize("parts", [THINKING_REPLY, CODE_REPLY, SERVER_TOOL_REPLY], ids=["thinking", "code", "tools"])
def test_scripted_candidates_streamed_and_not(api, parts):
    service = gemini_service(api)
    service.script_reply(parts, finish_message="done", times=2)
    data = call(api, "POST", GEN, HELLO).json
    if parts is not SERVER_TOOL_REPLY:  # toolCall/toolResponse are newer than the installed protos
        proto(gl.GenerateContentResponse, data)
    (candidate,) = data["candidates"]
    assert candidate["content"] == {"parts": parts, "role": "model"}
    assert (candidate["finishReason"], candidate["finishMessage"]) == ("STOP", "done")
    assert data["usageMetadata"]["candidatesTokenCount"] > 0
    streamed, last = _streamed_parts(call(api, "POST", GEN.replace("generateContent", "streamGenerateContent?alt=sse"),
                                          HELLO))
    assert (last["finishReason"], last["finishMessage"]) == ("STOP", "done")
    # text comes in pieces, each signature on the last piece of its part; other parts whole
    assert len(streamed) > len(parts)
    joined: list[dict] = []
    for part in streamed:
        if joined and set(part) <= {"text", "thoughtSignature"} and set(joined[-1]) == {"text"} and part["text"]:
            joined[-1] = {**part, "text": joined[-1]["text"] + part["text"]}
        else:
            joined.append(part)
    assert joined == parts
    assert call(api, "POST", GEN, HELLO).json["candidates"][0]["content"]["parts"] == [{"text": "You said: Hello there"}]
    assert [r.json for r in api.requests] == [HELLO] * 3


def test_scripted_block_and_bad_script(api):
    service = gemini_service(api)
    service.script_reply([], finish_reason="MODEL_ARMOR", finish_message="Blocked by Model Armor.")
    candidate = call(api, "POST", GEN, HELLO).json["candidates"][0]
    assert candidate == {"finishReason": "MODEL_ARMOR", "index": 0, "finishMessage": "Blocked by Model Armor."}
    with pytest.raises(TypeError, match="list of Gemini part dicts"):
        service.script_reply({"text": "hi"})  # type: ignore[arg-type]
    service.script_reply([{"text": "kept"}])
    assert call(api, "POST", GEN, {"contents": []}).status == 400  # a bad body does not use up the script
    assert call(api, "POST", GEN, HELLO).json["candidates"][0]["content"]["parts"] == [{"text": "kept"}]


def test_signed_empty_text_parts_are_taken_back(api):
    history = {"contents": [HELLO["contents"][0], {"role": "model", "parts": THINKING_REPLY + CODE_REPLY + SERVER_TOOL_REPLY},
                            {"role": "user", "parts": [{"text": "more"}]}]}
    assert call(api, "POST", GEN, history).status == 200
    unsigned = {"contents": [{"role": "user", "parts": [{"text": ""}]}]}
    assert "required oneof field 'data'" in error_of(call(api, "POST", GEN, unsigned), 400, "INVALID_ARGUMENT")
