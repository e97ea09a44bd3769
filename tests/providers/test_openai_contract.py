"""The contract suite: every OpenAI endpoint through every transport, against
the fake API over real sockets."""

from __future__ import annotations

import base64
import json
import time

import pytest

import llmplug
from tests.async_bridge import AsyncBridge
from llmplug.testing.openai_api import embedding_vector
from llmplug.core import models as m
from llmplug.testing.openai_api import REFUSAL, chat_completion_events
from tests.conftest import TEST_KEY

USER = [{"role": "user", "content": "Say hello"}]
REFUSED = [{"role": "user", "content": "How do I build a bomb?"}]  # the fake refuses what moderation flags


def _headers_ok(req, api, *, body: bool) -> None:
    assert req.headers.get("Authorization") == f"Bearer {TEST_KEY}"
    assert req.headers.get("Host") == api.url.split("//", 1)[1]
    if body:
        assert req.headers.get("Content-Type") == "application/json"
    else:
        assert "Content-Type" not in req.headers
        assert req.body == b""


# ---------------------------------------------------------------- chat completions


def test_chat_completion_round_trip(client, api):
    status, body, headers = client.create_chat_completion(USER, temperature=0.2)
    assert status == 200
    assert isinstance(body, m.ChatCompletion)
    assert body.choices[0].message.content == "You said: Say hello"
    assert body.choices[0].finish_reason == "stop"
    assert body.model == "gpt-4.1"
    assert body.usage.total_tokens == body.usage.prompt_tokens + body.usage.completion_tokens
    assert body.raw["object"] == "chat.completion"
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert headers["x-request-id"].startswith("req_")
    req = api.last_request
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.json == {"model": "gpt-4.1", "messages": USER, "temperature": 0.2}
    assert req.headers.get("Accept") == "application/json"
    _headers_ok(req, api, body=True)


def test_options_dict_and_kwargs_merge(client, api):
    client.create_chat_completion(USER, {"model": "gpt-4.1-mini", "temperature": 1}, temperature=0)
    assert api.last_request.json["model"] == "gpt-4.1-mini"
    assert api.last_request.json["temperature"] == 0


def test_chat_n_choices_and_tool_calls(client, api):
    _, body, _ = client.create_chat_completion(USER, n=3)
    assert [c.index for c in body.choices] == [0, 1, 2]
    assert len({c.message.content for c in body.choices}) == 3
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    _, body, _ = client.create_chat_completion(
        [{"role": "user", "content": 'please add {"a": 1, "b": 2}'}], tools=tools
    )
    msg = body.choices[0].message
    assert body.choices[0].finish_reason == "tool_calls"
    assert msg.content is None
    assert msg.tool_calls[0].function.name == "add"
    assert json.loads(msg.tool_calls[0].function.arguments) == {"a": 1, "b": 2}
    assert msg.tool_calls[0].id


def test_stream_with_callback_assembles_completion(client, api):
    events = []
    status, body, _ = client.create_chat_completion(
        USER, stream=True, stream_options={"include_usage": True}, chunk_callback=events.append
    )
    assert status == 200
    assert all(isinstance(e, m.ChatCompletionChunk) for e in events)
    assert "".join(str(e) for e in events) == "You said: Say hello"
    assert isinstance(body, m.ChatCompletion)
    assert body.choices[0].message.content == "You said: Say hello"
    assert body.choices[0].finish_reason == "stop"
    assert body.usage is not None and body.usage.completion_tokens > 0
    req = api.last_request
    assert req.json["stream"] is True
    assert req.headers.get("Accept") == "text/event-stream"


def test_callback_alone_turns_streaming_on(client, api):
    seen = []
    _, body, _ = client.create_chat_completion(USER, None, seen.append)
    assert api.last_request.json["stream"] is True
    assert seen and body.choices[0].message.content == "You said: Say hello"


def test_stream_n_and_tool_calls_merge_by_index(client, api):
    tools = [
        {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "mul", "parameters": {"type": "object"}}},
    ]
    _, body, _ = client.create_chat_completion(
        [{"role": "user", "content": 'add and mul {"a": 2, "b": 3}'}], tools=tools, stream=True, chunk_callback=lambda c: None
    )
    calls = body.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["add", "mul"]
    assert all(json.loads(c.function.arguments) == {"a": 2, "b": 3} for c in calls)
    assert body.choices[0].finish_reason == "tool_calls"
    _, body, _ = client.create_chat_completion(USER, n=2, stream=True, chunk_callback=lambda c: None)
    assert len(body.choices) == 2
    assert body.choices[0].message.content != body.choices[1].message.content


def test_stream_iterator(client, api):
    with client.create_chat_completion(USER, stream=True) as stream:
        # An async client's AsyncStream is read here through the test bridge's SyncStream.
        expected = llmplug.AsyncStream if isinstance(client, AsyncBridge) else llmplug.Stream
        assert isinstance(getattr(stream, "async_stream", stream), expected)
        text = "".join(str(chunk) for chunk in stream)
    assert text == "You said: Say hello"
    assert stream.final.choices[0].message.content == text


def test_early_break_closes_the_connection(client, api):
    events = [{"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": f"w{i} "}}]} for i in range(200)]
    api.queue("POST", "/v1/chat/completions", events=events + ["data: [DONE]\n\n"], interval=0.01)
    stream = client.create_chat_completion(USER, stream=True)
    for i, _chunk in enumerate(stream):
        if i == 2:
            break
    stream.close()
    deadline = time.monotonic() + 5
    while api.aborted_streams == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert api.aborted_streams == 1


def test_legacy_chat_alias_calls_back_with_text_chunks(client, api):
    got = []
    _, body, _ = client.chat(USER, {"stream": True}, lambda chunk, raw: got.append((str(chunk), chunk.index, raw)))
    assert "".join(text for text, _, _ in got) == "You said: Say hello"
    assert all(index == 0 for _, index, _ in got)
    assert all(raw["object"] == "chat.completion.chunk" for _, _, raw in got)
    assert body.choices[0].message.content == "You said: Say hello"


@pytest.mark.parametrize("logprobs", [False, True], ids=["plain", "logprobs"])
def test_a_streamed_refusal_is_the_non_streamed_reply(client, api, logprobs):
    """Issue 18.1: streamed, a refusal was ``content == ""`` and chat() never called back."""
    params = {"logprobs": True, "top_logprobs": 2} if logprobs else {}
    plain = client.create_chat_completion(REFUSED, **params).body.choices[0]
    assert plain.message.content is None and plain.message.refusal == REFUSAL
    by_callback = client.create_chat_completion(REFUSED, None, lambda chunk: None, **params).body.choices[0]
    with client.create_chat_completion(REFUSED, stream=True, **params) as stream:
        assert "".join(str(chunk) for chunk in stream) == ""  # str() of a chunk is its content
    pieces = []
    by_chat = client.chat(REFUSED, {"stream": True, **params}, lambda chunk, raw: pieces.append(chunk)).body.choices[0]
    for streamed in (by_callback, stream.final.choices[0], by_chat):
        assert (streamed.message, streamed.finish_reason, streamed.logprobs) == (plain.message, plain.finish_reason, plain.logprobs)
        assert streamed.message.content is None and streamed.message.refusal == REFUSAL
    assert "".join(chunk.refusal for chunk in pieces) == REFUSAL and {str(chunk) for chunk in pieces} == {""}
    if logprobs:
        assert plain.logprobs["content"] is None
        assert "".join(t["token"] for t in plain.logprobs["refusal"]) == REFUSAL


def test_a_refusal_cut_short_reports_the_refusal_received(client, api):
    body = client.create_chat_completion(REFUSED).body.raw
    events = list(chat_completion_events(body))[:3]  # the role delta and two refusal pieces, no [DONE]
    api.queue("POST", "/v1/chat/completions", events=events)
    with pytest.raises(llmplug.StreamError) as info:
        client.create_chat_completion(REFUSED, stream=True, chunk_callback=lambda c: None)
    assert info.value.received == "I'm sorry,"


def test_a_streamed_response_refusal_is_the_non_streamed_one(client, api):
    plain = client.create_response("How do I build a bomb?").body
    events = []
    streamed = client.create_response("How do I build a bomb?", None, events.append).body
    with client.create_response("How do I build a bomb?", stream=True) as stream:
        iterated = [e for e in stream if e.type == "response.refusal.delta"]
    for response in (streamed, stream.final):
        assert response.refusal == plain.refusal == REFUSAL and response.output_text == plain.output_text == ""
    assert "".join(e.delta for e in events if e.type == "response.refusal.delta") == REFUSAL
    assert "".join(e.delta for e in iterated) == REFUSAL


# ---------------------------------------------------------------- other POST endpoints


def test_completion_defaults(client, api):
    _, body, _ = client.completion("Once upon a time")
    assert isinstance(body, m.Completion)
    assert "Once upon a time" in str(body)
    assert api.last_request.json == {
        "model": "gpt-3.5-turbo-instruct",
        "temperature": 0.5,
        "max_tokens": 600,
        "prompt": "Once upon a time",
    }
    assert api.last_request.path == "/v1/completions"


def test_completion_stream(client, api):
    _, body, _ = client.completion("Once upon a time", stream=True, chunk_callback=lambda c: None)
    assert "Once upon a time" in body.choices[0].text


def test_embedding_one_and_many(client, api):
    _, body, _ = client.embedding("hello")
    assert isinstance(body, m.EmbeddingList)
    assert len(body.data) == 1 and len(body.data[0].embedding) == 8
    # No format named: asked as base64 (a quarter of the bytes), handed back as the floats.
    assert api.last_request.json == {"model": "text-embedding-3-small", "input": "hello", "encoding_format": "base64"}
    assert body.data[0].embedding == embedding_vector("hello") == body["data"][0]["embedding"]
    _, body, _ = client.embedding(["a", "b", "c"], dimensions=4)
    assert [len(v) for v in body.vectors] == [4, 4, 4]
    assert body.vectors[0] != body.vectors[1]


@pytest.mark.parametrize("fmt", ["float", "base64"])
def test_embedding_format_named_by_the_caller_is_kept(client, api, fmt):
    _, body, _ = client.embedding("hello", encoding_format=fmt)
    assert api.last_request.json["encoding_format"] == fmt
    expected = embedding_vector("hello")
    if fmt == "float":
        assert body.data[0].embedding == expected
    else:  # the caller asked for base64: it gets the string, as the server sent it
        assert isinstance(body.data[0].embedding, str) and len(body.data[0].embedding) == 44


def test_moderation(client, api):
    _, body, _ = client.moderation(["a sunny day", "I will kill it"])
    assert isinstance(body, m.Moderation)
    assert [r.flagged for r in body.results] == [False, True]
    assert body.flagged
    assert api.last_request.json == {"input": ["a sunny day", "I will kill it"]}


def test_image_generation(client, api):
    _, body, _ = client.image_generation({"prompt": "a red square", "n": 2})
    assert isinstance(body, m.ImagesResponse)
    assert len(body.data) == 2
    assert base64.b64decode(body.data[0].b64_json).startswith(b"\x89PNG")
    assert api.last_request.path == "/v1/images/generations"
    assert api.last_request.json == {"prompt": "a red square", "n": 2}


# ---------------------------------------------------------------- GET / DELETE endpoints


def test_models(client, api):
    _, body, _ = client.models()
    assert isinstance(body, m.ModelList)
    assert "gpt-4.1" in body.ids
    req = api.last_request
    assert (req.method, req.path) == ("GET", "/v1/models")
    assert req.headers.get("Accept") == "application/json"
    _headers_ok(req, api, body=False)
    _, one, _ = client.model("gpt-4.1")
    assert one.id == "gpt-4.1"


def test_files_round_trip(client, api, tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_bytes(b'{"prompt": "x"}\n')
    _, created, _ = client.upload_file(path, "fine-tune")
    assert isinstance(created, m.FileObject)
    assert created.filename == "data.jsonl" and created.bytes == 16 and created.purpose == "fine-tune"
    upload = api.last_request
    assert upload.headers.get("Content-Type").startswith("multipart/form-data; boundary=")
    assert upload.headers.get("Authorization") == f"Bearer {TEST_KEY}"

    _, listing, _ = client.files()
    assert created.id in [f.id for f in listing.data]
    _headers_ok(api.last_request, api, body=False)
    _, one, _ = client.file(created.id)
    assert one.id == created.id
    _, content, _ = client.file_content(created.id)
    assert content == b'{"prompt": "x"}\n'
    assert api.last_request.path == f"/v1/files/{created.id}/content"
    _, deleted, _ = client.delete_file(created.id)
    assert deleted.deleted is True and deleted.id == created.id
    req = api.last_request
    assert (req.method, req.path) == ("DELETE", f"/v1/files/{created.id}")
    _headers_ok(req, api, body=False)
    with pytest.raises(llmplug.NotFoundError):
        client.file(created.id)


def test_upload_from_bytes_and_file_object(client, api, tmp_path):
    _, created, _ = client.upload_file(b"abc", "batch", filename="x.jsonl")
    assert created.filename == "x.jsonl" and created.bytes == 3
    path = tmp_path / "y.txt"
    path.write_bytes(b"hello")
    with open(path, "rb") as fh:
        _, created, _ = client.upload_file(fh, "assistants")
    assert created.filename == "y.txt"


# ---------------------------------------------------------------- Responses API


def test_responses_round_trip(client, api):
    _, resp, _ = client.create_response("Tell me a joke", instructions="Be brief")
    assert isinstance(resp, m.Response)
    assert resp.output_text == "You said: Tell me a joke" == str(resp)
    assert api.last_request.json == {"model": "gpt-4.1", "input": "Tell me a joke", "instructions": "Be brief"}
    _, again, _ = client.response(resp.id)
    assert again.id == resp.id and again.get_output_text() == resp.output_text
    assert api.last_request.method == "GET"
    _headers_ok(api.last_request, api, body=False)
    _, cancelled, _ = client.cancel_response(resp.id)
    assert cancelled.status == "cancelled"
    assert api.last_request.path == f"/v1/responses/{resp.id}/cancel"
    _, deleted, _ = client.delete_response(resp.id)
    assert deleted.deleted is True
    with pytest.raises(llmplug.NotFoundError):
        client.response(resp.id)


def test_responses_stream_events(client, api):
    events = []
    _, resp, _ = client.create_response("Tell me a joke", stream=True, stream_callback=events.append)
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == "You said: Tell me a joke"
    assert isinstance(resp, m.Response) and resp.output_text == "You said: Tell me a joke"


def test_responses_stream_error_event_raises(client, api):
    api.queue(
        "POST",
        "/v1/responses",
        events=[
            'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":"Hel"}\n\n',
            'event: error\ndata: {"type":"error","code":"server_error","message":"boom"}\n\n',
        ],
    )
    with pytest.raises(llmplug.StreamError) as info:
        client.create_response("x", stream=True, stream_callback=lambda e: None)
    assert "boom" in str(info.value)
    assert info.value.received == "Hel"


def test_request_generic(client, api):
    _, body, _ = client.request("GET", "/models", query={"limit": 2})
    assert body["object"] == "list"
    req = api.last_request
    assert req.path == "/v1/models" and req.query == {"limit": ["2"]}
    _, body, _ = client.request("POST", "chat/completions", {"model": "m", "messages": USER})
    assert body["choices"][0]["message"]["content"] == "You said: Say hello"


# ---------------------------------------------------------------- auth and errors


def test_no_key_no_authorization_header(api, transport):
    with llmplug.new("openai-compatible", base_url=api.base_url, transport=transport, default_model="llama3") as c:
        _, body, _ = c.create_chat_completion(USER)
    assert body.model == "llama3"
    assert "Authorization" not in api.last_request.headers


STATUS_ERRORS = [
    (400, llmplug.BadRequestError),
    (401, llmplug.AuthenticationError),
    (403, llmplug.PermissionDeniedError),
    (404, llmplug.NotFoundError),
    (409, llmplug.ConflictError),
    (422, llmplug.UnprocessableEntityError),
    (429, llmplug.RateLimitError),
    (500, llmplug.InternalServerError),
    (503, llmplug.InternalServerError),
]


@pytest.mark.parametrize(("status", "error"), STATUS_ERRORS)
def test_status_errors_are_typed(client, api, status, error):
    api.queue(
        "POST",
        "/v1/chat/completions",
        status=status,
        json={"error": {"message": f"nope {status}", "type": "x", "param": None, "code": "c"}},
        headers={"x-request-id": "req_abc123"},
    )
    with pytest.raises(error) as info:
        client.create_chat_completion(USER)
    exc = info.value
    assert isinstance(exc, llmplug.APIStatusError) and isinstance(exc, llmplug.LLMPlugError)
    assert exc.status_code == status
    assert exc.request_id == "req_abc123"
    assert exc.provider == "openai"
    assert exc.body["error"]["message"] == f"nope {status}"
    assert f"nope {status}" in str(exc)
    assert TEST_KEY not in str(exc) and TEST_KEY not in repr(exc.args) and TEST_KEY not in repr(exc.request)


def test_raise_for_status_false_gives_lua_behaviour(api, transport):
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, raise_for_status=False, max_retries=0) as c:
        api.queue("GET", "/v1/models", status=404, json={"error": {"message": "gone"}})
        status, body, headers = c.models()
    assert status == 404
    assert body == {"error": {"message": "gone"}}
    assert "x-request-id" in headers


def test_html_error_page_keeps_text(client, api):
    api.queue("GET", "/v1/models", status=502, body="<html><body>Bad gateway</body></html>", content_type="text/html")
    with pytest.raises(llmplug.InternalServerError) as info:
        client.models()
    assert "Bad gateway" in str(info.value)
    assert info.value.body == "<html><body>Bad gateway</body></html>"


def test_non_json_success_body_raises(client, api):
    api.queue("GET", "/v1/models", body="not json", content_type="text/plain")
    with pytest.raises(llmplug.APIResponseValidationError) as info:
        client.models()
    assert info.value.body == "not json"


def test_connection_refused(transport):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with llmplug.new("openai", api_key=TEST_KEY, base_url=f"http://127.0.0.1:{port}/v1", transport=transport, max_retries=0) as c:
        with pytest.raises(llmplug.APIConnectionError) as info:
            c.models()
    assert TEST_KEY not in str(info.value)


def test_invalid_json_in_stream_raises_after_earlier_events(client, api):
    good = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "ok"}}]}
    api.queue("POST", "/v1/chat/completions", events=[good, "data: {not json\n\n"])
    seen = []
    with pytest.raises(llmplug.StreamError) as info:
        client.create_chat_completion(USER, stream=True, chunk_callback=seen.append)
    assert len(seen) == 1
    assert info.value.payload == "{not json"
    assert info.value.received == "ok"


def test_stream_without_terminator_raises(client, api):
    chunk = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "par"}}]}
    api.queue("POST", "/v1/chat/completions", events=[chunk])
    with pytest.raises(llmplug.StreamError) as info:
        client.create_chat_completion(USER, stream=True, chunk_callback=lambda c: None)
    assert info.value.received == "par"


def test_lua_faults_fixed_in_stream(client, api):
    """Chunks without `object`, usage-only chunks, `tool_calls: null`, no trailing newline."""
    events = [
        {"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi", "tool_calls": None}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {"content": " there"}, "finish_reason": "stop"}]},
        {"id": "c", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
        "data: [DONE]",
    ]
    api.queue("POST", "/v1/chat/completions", events=events)
    _, body, _ = client.create_chat_completion(USER, stream=True, chunk_callback=lambda c: None)
    assert body.choices[0].message.content == "Hi there"
    assert body.usage.total_tokens == 5


def test_openai_stream_needs_done_even_after_finish_reason(client, api):
    """A body cut after the last finish reason (before the usage chunk and [DONE]) is not whole."""
    finished = {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}
    api.queue("POST", "/v1/chat/completions", events=[finished])
    with pytest.raises(llmplug.StreamError, match="before it was complete") as info:
        client.create_chat_completion(USER, stream=True, stream_options={"include_usage": True}, chunk_callback=lambda c: None)
    assert info.value.received == "Hi"
