"""Tests of llmplug.testing.FakeAPI, with stdlib HTTP clients only."""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from llmplug.testing import APIError, FakeAPI, RecordedRequest, Reply, RouteTable, Service
from llmplug.testing.openai_api import (
    MODERATION_CATEGORIES,
    PNG_BYTES,
    REFUSAL,
    chat_completion_events,
    embedding_vector,
    response_events,
)

# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[FakeAPI]:
    with FakeAPI() as fake:
        yield fake


class Result:
    def __init__(self, response: http.client.HTTPResponse, data: bytes) -> None:
        self.status = response.status
        self.headers = response.headers
        self.data = data

    @property
    def json(self) -> Any:
        return json.loads(self.data)

    def events(self) -> list[tuple[str | None, str]]:
        return parse_sse(self.data)


def call(
    api: FakeAPI,
    method: str,
    path: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> Result:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    try:
        hdrs = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        return Result(response, response.read())
    finally:
        conn.close()


def post(api: FakeAPI, path: str, body: Any, **kw: Any) -> Result:
    return call(api, "POST", path, body, **kw)


def parse_sse(data: bytes) -> list[tuple[str | None, str]]:
    """(event name, data) per SSE event."""
    events = []
    for block in data.decode("utf-8").split("\n\n"):
        if not block.strip():
            continue
        name, lines = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                lines.append(line[5:].lstrip(" "))
        events.append((name, "\n".join(lines)))
    return events


def chat(api: FakeAPI, text: str = "hello there", **params: Any) -> Result:
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": text}], **params}
    return post(api, "/v1/chat/completions", body)


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = "----llmplugtest7MA4YWxkTrZu0gW"
    out = b""
    for name, value in fields.items():
        out += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    for name, (filename, data, ctype) in files.items():
        out += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f"Content-Type: {ctype}\r\n\r\n"
        ).encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def raw_exchange(port: int, request: bytes) -> bytes:
    """Send raw bytes, read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def dechunk(body: bytes) -> list[bytes]:
    """The chunks of a chunked transfer-encoded body (terminator excluded)."""
    chunks = []
    while True:
        line, _, body = body.partition(b"\r\n")
        size = int(line, 16)
        if size == 0:
            return chunks
        chunks.append(body[:size])
        body = body[size + 2 :]


# --------------------------------------------------------------------------
# lifecycle, recording, headers
# --------------------------------------------------------------------------


def test_urls_and_stop_closes_listener() -> None:
    api = FakeAPI().start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", api.url)
        assert api.base_url == api.url + "/v1"
        assert api.port > 0
        port = api.port
        assert call(api, "GET", "/v1/models").status == 200
    finally:
        api.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with pytest.raises(RuntimeError):
        api.url  # noqa: B018
    api.stop()  # idempotent


def test_stop_closes_idle_keep_alive_connections() -> None:
    api = FakeAPI().start()
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    conn.request("GET", "/v1/models")
    conn.getresponse().read()
    started = time.monotonic()
    api.stop()
    assert time.monotonic() - started < 2
    with pytest.raises((http.client.HTTPException, OSError)):
        conn.request("GET", "/v1/models")
        conn.getresponse().read()
    conn.close()


def test_every_reply_has_request_id_and_processing_ms(api: FakeAPI) -> None:
    for result in (call(api, "GET", "/v1/models"), call(api, "GET", "/v1/nope"), chat(api, stream=True)):
        assert re.fullmatch(r"req_[0-9a-f]{32}", result.headers["x-request-id"])
        assert result.headers["openai-processing-ms"].isdigit()
    ids = {call(api, "GET", "/v1/models").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


def test_recording(api: FakeAPI) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    conn.putrequest("POST", "/v1/chat/completions?a=1&a=2&b=", skip_accept_encoding=True)
    conn.putheader("X-First", "1")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("X-Multi", "one")
    conn.putheader("X-Multi", "two")
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    conn.getresponse().read()
    local_port = conn.sock.getsockname()[1]
    conn.close()

    req = api.last_request
    assert isinstance(req, RecordedRequest)
    assert req is api.requests[-1] and len(api.requests) == 1
    assert req.method == "POST"
    assert req.path == "/v1/chat/completions"
    assert req.query == {"a": ["1", "2"], "b": [""]}
    assert req.headers["content-type"] == "application/json"
    assert req.headers.get("CONTENT-TYPE") == "application/json"
    assert "x-first" in req.headers and "X-Absent" not in req.headers
    assert req.headers.get_all("x-multi") == ["one", "two"]
    names = [k for k, _ in req.raw_headers]
    assert names.index("X-First") < names.index("Content-Type") < names.index("X-Multi")
    assert req.body == body
    assert req.json == {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    assert req.client_port == local_port


def test_requests_in_arrival_order_and_thread_safe(api: FakeAPI) -> None:
    for i in range(3):
        call(api, "GET", f"/v1/models?i={i}")
    assert [r.query["i"] for r in api.requests] == [["0"], ["1"], ["2"]]

    api.reset()
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for _ in range(10):
                assert chat(api, f"worker {n}").status == 200
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(api.requests) == 80


def test_chunked_request_body_is_read(api: FakeAPI) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    payload = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "chunked body"}]}
    data = json.dumps(payload).encode()
    conn.request(
        "POST",
        "/v1/chat/completions",
        body=iter([data[:10], data[10:]]),
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    result = conn.getresponse()
    reply = json.loads(result.read())
    conn.close()
    assert api.last_request is not None and api.last_request.json == payload
    assert reply["choices"][0]["message"]["content"] == "You said: chunked body"


def test_keep_alive_two_requests_one_connection(api: FakeAPI) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    conn.request("GET", "/v1/models")
    first = conn.getresponse()
    assert first.getheader("Connection") == "keep-alive"
    assert int(first.getheader("Content-Length")) == len(first.read())
    sock = conn.sock
    body = json.dumps({"model": "gpt-4.1", "stream": True, "messages": [{"role": "user", "content": "a b"}]})
    conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
    second = conn.getresponse()
    assert second.getheader("Transfer-Encoding") == "chunked"
    assert parse_sse(second.read())[-1] == (None, "[DONE]")
    conn.request("GET", "/v1/models/gpt-4.1")
    third = conn.getresponse()
    assert json.loads(third.read())["id"] == "gpt-4.1"
    assert conn.sock is sock
    conn.close()
    ports = {r.client_port for r in api.requests}
    assert len(api.requests) == 3 and len(ports) == 1


def test_reset_clears_requests_queue_and_stores(api: FakeAPI) -> None:
    created = post(api, "/v1/responses", {"model": "gpt-4.1", "input": "hi"}).json
    api.queue("GET", "/v1/models", status=500)
    api.reset()
    assert api.requests == [] and api.last_request is None
    assert call(api, "GET", "/v1/models").status == 200
    assert call(api, "GET", f"/v1/responses/{created['id']}").status == 404


# --------------------------------------------------------------------------
# errors and auth
# --------------------------------------------------------------------------


def assert_error(result: Result, status: int, param: str | None = None) -> dict[str, Any]:
    assert result.status == status, result.data
    assert result.headers["Content-Type"] == "application/json"
    error = result.json["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert error["param"] == param
    return error


def test_unknown_path_and_wrong_method_are_404(api: FakeAPI) -> None:
    error = assert_error(call(api, "GET", "/v1/does-not-exist"), 404)
    assert error["message"] == "Invalid URL (GET /v1/does-not-exist)"
    assert error["type"] == "invalid_request_error"
    assert assert_error(call(api, "GET", "/v1/chat/completions"), 404)["message"].startswith("Invalid URL")
    assert_error(call(api, "GET", "/elsewhere"), 404)


def test_bad_json_is_400(api: FakeAPI) -> None:
    result = post(api, "/v1/chat/completions", None, raw=b'{"model": ', headers={"Content-Type": "application/json"})
    error = assert_error(result, 400)
    assert "could not parse the JSON body" in error["message"]
    assert_error(post(api, "/v1/chat/completions", [1, 2]), 400)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/v1/chat/completions", {"model": "gpt-4.1"}, "messages"),
        ("/v1/chat/completions", {"model": "gpt-4.1", "messages": [{"content": "x"}]}, "messages[0].role"),
        ("/v1/chat/completions", {"model": "gpt-4.1", "messages": [{"role": "robot", "content": "x"}]}, "messages[0].role"),
        ("/v1/chat/completions", {"model": "gpt-4.1", "messages": []}, "messages"),
        ("/v1/chat/completions", {"model": "gpt-4.1", "messages": [{"role": "user", "content": "x"}], "n": 0}, "n"),
        ("/v1/completions", {"model": "gpt-3.5-turbo-instruct"}, "prompt"),
        ("/v1/embeddings", {"model": "text-embedding-3-small"}, "input"),
        ("/v1/embeddings", {"model": "text-embedding-3-small", "input": ""}, "input"),
        ("/v1/moderations", {}, "input"),
        ("/v1/images/generations", {"model": "gpt-image-1"}, "prompt"),
        ("/v1/responses", {"model": "gpt-4.1"}, "input"),
        ("/v1/responses", {"model": "gpt-4.1", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ],
)
def test_missing_or_invalid_params_are_400_naming_the_param(api: FakeAPI, path: str, body: Any, param: str) -> None:
    assert_error(post(api, path, body), 400, param)


def test_missing_model_is_400(api: FakeAPI) -> None:
    error = assert_error(post(api, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}), 400)
    assert "model" in error["message"]


def test_stream_options_without_stream_is_400(api: FakeAPI) -> None:
    assert_error(chat(api, stream_options={"include_usage": True}), 400, "stream_options")


def test_auth_checks_bearer_key() -> None:
    with FakeAPI(api_key="sk-test-123") as api:
        missing = assert_error(call(api, "GET", "/v1/models"), 401)
        assert "didn't provide an API key" in missing["message"]
        wrong = assert_error(call(api, "GET", "/v1/models", headers={"Authorization": "Bearer sk-wrong"}), 401)
        assert wrong["code"] == "invalid_api_key"
        assert "sk-wrong" not in wrong["message"]
        assert_error(call(api, "GET", "/v1/models", headers={"Authorization": "Basic sk-test-123"}), 401)
        ok = call(api, "GET", "/v1/models", headers={"authorization": "Bearer sk-test-123"})
        assert ok.status == 200
        assert len(api.requests) == 4  # rejected requests are recorded too


def test_no_key_configured_accepts_anything(api: FakeAPI) -> None:
    assert call(api, "GET", "/v1/models").status == 200
    assert call(api, "GET", "/v1/models", headers={"Authorization": "Bearer whatever"}).status == 200


# --------------------------------------------------------------------------
# scripted replies
# --------------------------------------------------------------------------


def test_queue_status_headers_and_default_error_body(api: FakeAPI) -> None:
    api.queue("POST", "/v1/chat/completions", status=429, headers={"retry-after": "1"})
    first = chat(api)
    error = assert_error(first, 429)
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
    assert first.headers["retry-after"] == "1"
    assert first.headers["x-request-id"].startswith("req_")
    assert chat(api).status == 200  # times=1: then the default behaviour


def test_queue_fifo_times_and_json(api: FakeAPI) -> None:
    api.queue("GET", "/v1/models", status=503, times=2)
    api.queue("GET", "/v1/models", json={"object": "list", "data": []})
    assert call(api, "GET", "/v1/models").status == 503
    assert assert_error(call(api, "GET", "/v1/models"), 503)["type"] == "server_error"
    assert call(api, "GET", "/v1/models").json == {"object": "list", "data": []}
    assert len(call(api, "GET", "/v1/models").json["data"]) > 3  # default again
    assert call(api, "GET", "/v1/files").status == 200  # other keys unaffected


def test_queue_forever(api: FakeAPI) -> None:
    api.queue("POST", "/v1/embeddings", json={"scripted": True}, times=None)
    for _ in range(5):
        assert post(api, "/v1/embeddings", {}).json == {"scripted": True}


def test_queue_overrides_headers_and_raw_bodies(api: FakeAPI) -> None:
    api.queue("GET", "/v1/models", status=502, body="<html><h1>502 Bad Gateway</h1></html>", content_type="text/html")
    api.queue("GET", "/v1/models", body=b'{"data": [\xff\xfe', headers={"x-request-id": "req_custom"})
    html = call(api, "GET", "/v1/models")
    assert html.status == 502 and html.headers["Content-Type"] == "text/html"
    assert html.data == b"<html><h1>502 Bad Gateway</h1></html>"
    broken = call(api, "GET", "/v1/models")
    assert broken.data == b'{"data": [\xff\xfe'
    assert broken.headers.get_all("x-request-id") == ["req_custom"]
    assert broken.headers["Content-Type"] == "application/json"


def test_queue_lying_content_length_truncates(api: FakeAPI) -> None:
    api.queue("GET", "/v1/models", body=b'{"object": "li', headers={"Content-Length": "100"})
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    conn.request("GET", "/v1/models")
    response = conn.getresponse()
    with pytest.raises(http.client.IncompleteRead):
        response.read()
    conn.close()


def test_queue_events_verbatim_and_rechunked(api: FakeAPI) -> None:
    events = [{"n": 1}, 'event: ping\ndata: {"n": 2}\n\n', {"text": "héllo"}, "data: [DONE]\n\n"]
    api.queue("POST", "/v1/chat/completions", events=events, chunk_size=7, headers={"x-extra": "1"})
    reply = raw_exchange(
        api.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and b"x-extra: 1" in head
    assert b"text/event-stream" in head
    chunks = dechunk(body)
    assert all(len(c) == 7 for c in chunks[:-1]) and 0 < len(chunks[-1]) <= 7
    joined = b"".join(chunks)
    assert joined == ('data: {"n":1}\n\nevent: ping\ndata: {"n": 2}\n\ndata: {"text":"héllo"}\n\ndata: [DONE]\n\n').encode()


def test_queue_events_one_chunk_per_event(api: FakeAPI) -> None:
    api.queue("GET", "/v1/models", events=[{"a": 1}, {"b": 2}], interval=0.01, status=200)
    reply = raw_exchange(api.port, b"GET /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    chunks = dechunk(reply.partition(b"\r\n\r\n")[2])
    assert chunks == [b'data: {"a":1}\n\n', b'data: {"b":2}\n\n']


def test_queue_validates_arguments(api: FakeAPI) -> None:
    with pytest.raises(ValueError):
        api.queue("GET", "/v1/models", json={}, body="x")
    with pytest.raises(ValueError):
        api.queue("GET", "/v1/models", times=0)
    with pytest.raises(ValueError):
        api.queue("GET", "v1/models")


def test_aborted_stream_is_counted_quietly(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    api.queue("POST", "/v1/chat/completions", events=[{"i": i} for i in range(200)], interval=0.02)
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=10)
    conn.request("POST", "/v1/chat/completions", b"{}", {"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.readline().startswith(b"data: ")
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    deadline = time.monotonic() + 5
    while api.aborted_streams == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert api.aborted_streams == 1
    # the server is still fine afterwards
    assert chat(api).status == 200
    time.sleep(0.05)
    out, err = capfd.readouterr()
    assert "Traceback" not in err and "Error" not in err
    assert "POST /v1" not in out + err  # no per-request log lines


def test_client_vanishing_mid_request_is_quiet(api: FakeAPI, capfd: pytest.CaptureFixture[str]) -> None:
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"model\"")
    with socket.create_connection(("127.0.0.1", api.port), timeout=5) as sock:
        sock.sendall(b"GET /v1/mod")
    assert chat(api).status == 200
    time.sleep(0.05)
    assert "Traceback" not in capfd.readouterr().err
    assert api.aborted_streams == 0


def test_http_10_stream_is_unchunked_and_closed(api: FakeAPI) -> None:
    api.queue("GET", "/v1/models", events=[{"a": 1}, "data: [DONE]\n\n"])
    reply = raw_exchange(api.port, b"GET /v1/models HTTP/1.0\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding" not in head and b"Connection: close" in head
    assert body == b'data: {"a":1}\n\ndata: [DONE]\n\n'


def test_completed_stream_is_not_counted_as_aborted(api: FakeAPI) -> None:
    chat(api, stream=True)
    post(api, "/v1/responses", {"model": "gpt-4.1", "input": "hi", "stream": True})
    assert api.aborted_streams == 0


# --------------------------------------------------------------------------
# chat completions
# --------------------------------------------------------------------------


def test_chat_completion_shape(api: FakeAPI) -> None:
    result = chat(api, "hello there friend", model="gpt-4.1-mini")
    assert result.status == 200 and result.headers["Content-Type"] == "application/json"
    body = result.json
    assert re.fullmatch(r"chatcmpl-[A-Za-z0-9]{29}", body["id"])
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4.1-mini"
    assert isinstance(body["created"], int) and abs(body["created"] - time.time()) < 60
    assert body["system_fingerprint"].startswith("fp_")
    [choice] = body["choices"]
    assert choice == {
        "index": 0,
        "message": {"role": "assistant", "content": "You said: hello there friend", "refusal": None, "annotations": []},
        "logprobs": None,
        "finish_reason": "stop",
    }
    usage = body["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (3, 5, 8)
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    assert usage["prompt_tokens_details"]["cached_tokens"] == 0


def test_chat_uses_last_user_message_and_text_parts(api: FakeAPI) -> None:
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                {"type": "text", "text": "this?"},
            ],
        },
    ]
    body = post(api, "/v1/chat/completions", {"model": "gpt-4.1", "messages": messages}).json
    assert body["choices"][0]["message"]["content"] == "You said: What is this?"
    assert body["usage"]["prompt_tokens"] == 2 + 1 + 1 + 3


def test_chat_developer_role_and_no_user(api: FakeAPI) -> None:
    body = post(api, "/v1/chat/completions", {"model": "gpt-4.1", "messages": [{"role": "developer", "content": "x"}]}).json
    assert body["choices"][0]["message"]["content"] == "Hello! How can I help you today?"


def test_chat_n_choices_are_distinct(api: FakeAPI) -> None:
    body = chat(api, "pick one", n=3).json
    texts = [c["message"]["content"] for c in body["choices"]]
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]
    assert texts[0] == "You said: pick one" and len(set(texts)) == 3
    assert body["usage"]["completion_tokens"] == sum(len(t.split()) for t in texts)


@pytest.mark.parametrize("param", ["max_tokens", "max_completion_tokens"])
def test_chat_max_tokens_truncates_words(api: FakeAPI, param: str) -> None:
    choice = chat(api, "one two three four", **{param: 3}).json["choices"][0]
    assert choice["message"]["content"] == "You said: one"
    assert choice["finish_reason"] == "length"
    assert chat(api, "one", **{param: 30}).json["choices"][0]["finish_reason"] == "stop"


def test_chat_stop_sequence(api: FakeAPI) -> None:
    assert chat(api, "alpha STOP beta", stop=["STOP"]).json["choices"][0]["message"]["content"] == "You said: alpha "


TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "get_weather_forecast", "parameters": {"type": "object"}}},
]


def test_chat_tool_calls_for_named_functions(api: FakeAPI) -> None:
    text = 'Use get_weather and get_time with {"city": "Paris", "n": 2} and then {"x": 1}'
    body = chat(api, text, tools=TOOLS).json
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] is None
    calls = message["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    for call_ in calls:
        assert re.fullmatch(r"call_[A-Za-z0-9]{24}", call_["id"]) and call_["type"] == "function"
        assert call_["function"]["arguments"] == '{"city": "Paris", "n": 2}'
    assert len({c["id"] for c in calls}) == 2


def test_chat_tool_call_without_json_and_not_named(api: FakeAPI) -> None:
    calls = chat(api, "please get_time now", tools=TOOLS).json["choices"][0]["message"]["tool_calls"]
    assert [(c["function"]["name"], c["function"]["arguments"]) for c in calls] == [("get_time", "{}")]
    plain = chat(api, "what is the weather", tools=TOOLS).json["choices"][0]
    assert plain["finish_reason"] == "stop" and "tool_calls" not in plain["message"]
    assert chat(api, "get_time", tools=TOOLS, tool_choice="none").json["choices"][0]["finish_reason"] == "stop"


def test_chat_tools_only_when_last_message_is_users(api: FakeAPI) -> None:
    messages = [{"role": "user", "content": "get_time please"}, {"role": "assistant", "content": "sure"}]
    body = post(api, "/v1/chat/completions", {"model": "gpt-4.1", "messages": messages, "tools": TOOLS}).json
    assert body["choices"][0]["finish_reason"] == "stop"


def test_chat_tool_result_reply(api: FakeAPI) -> None:
    messages = [
        {"role": "user", "content": "get_weather {}"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
    ]
    body = post(api, "/v1/chat/completions", {"model": "gpt-4.1", "messages": messages, "tools": TOOLS}).json
    choice = body["choices"][0]
    assert choice["message"]["content"] == "Tool result: sunny, 21C"
    assert choice["finish_reason"] == "stop"


def test_chat_legacy_functions(api: FakeAPI) -> None:
    functions = [{"name": "lookup", "parameters": {"type": "object"}}]
    choice = chat(api, 'lookup {"q": "x"}', functions=functions).json["choices"][0]
    assert choice["finish_reason"] == "function_call"
    assert choice["message"]["content"] is None
    assert choice["message"]["function_call"] == {"name": "lookup", "arguments": '{"q": "x"}'}
    messages = [{"role": "user", "content": "lookup"}, {"role": "function", "name": "lookup", "content": "42"}]
    body = post(api, "/v1/chat/completions", {"model": "gpt-4.1", "messages": messages, "functions": functions}).json
    assert body["choices"][0]["message"]["content"] == "Tool result: 42"


def chunks_of(result: Result) -> list[dict[str, Any]]:
    events = result.events()
    assert events[-1] == (None, "[DONE]")
    assert all(name is None for name, _ in events)
    return [json.loads(data) for _, data in events[:-1]]


def test_chat_stream_joins_to_the_non_stream_text(api: FakeAPI) -> None:
    text = "  spaced   words\tand  more "
    plain = chat(api, text).json
    result = chat(api, text, stream=True)
    assert result.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert result.headers["Transfer-Encoding"] == "chunked"
    chunks = chunks_of(result)
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert all(c["object"] == "chat.completion.chunk" and c["model"] == "gpt-4.1" for c in chunks)
    assert "usage" not in chunks[0]
    first = chunks[0]["choices"][0]
    assert first["delta"]["role"] == "assistant" and first["delta"]["content"] == ""
    contents = [c["choices"][0]["delta"].get("content") or "" for c in chunks]
    assert "".join(contents) == plain["choices"][0]["message"]["content"]
    assert len([c for c in contents if c]) == len(plain["choices"][0]["message"]["content"].split())
    last = chunks[-1]["choices"][0]
    assert last["delta"] == {} and last["finish_reason"] == "stop"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


def test_chat_stream_include_usage(api: FakeAPI) -> None:
    chunks = chunks_of(chat(api, "count these words", stream=True, stream_options={"include_usage": True}))
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 5 and chunks[-1]["usage"]["prompt_tokens"] == 3
    assert all(c["usage"] is None for c in chunks[:-1])


def test_chat_stream_length_finish(api: FakeAPI) -> None:
    chunks = chunks_of(chat(api, "a b c d", stream=True, max_tokens=2))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "You said:"
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"


def test_chat_stream_tool_call_deltas(api: FakeAPI) -> None:
    chunks = chunks_of(chat(api, 'get_weather and get_time {"city": "Paris"}', tools=TOOLS, stream=True))
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and first["content"] is None
    assert first["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": ""}
    assembled: dict[int, dict[str, Any]] = {}
    pieces: dict[int, int] = {}
    for chunk in chunks:
        for tc in chunk["choices"][0]["delta"].get("tool_calls") or []:
            if "id" in tc:
                assert tc["type"] == "function" and tc["function"]["arguments"] == ""
                assembled[tc["index"]] = {"id": tc["id"], "name": tc["function"]["name"], "arguments": ""}
            else:
                assert set(tc) == {"index", "function"} and set(tc["function"]) == {"arguments"}
                assembled[tc["index"]]["arguments"] += tc["function"]["arguments"]
                pieces[tc["index"]] = pieces.get(tc["index"], 0) + 1
    assert [assembled[i]["name"] for i in sorted(assembled)] == ["get_weather", "get_time"]
    assert all(a["arguments"] == '{"city": "Paris"}' for a in assembled.values())
    assert all(count >= 2 for count in pieces.values()) and len(pieces) == 2
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_chat_stream_empty_arguments_still_in_two_pieces(api: FakeAPI) -> None:
    chunks = chunks_of(chat(api, "get_time", tools=TOOLS, stream=True))
    args = [
        tc["function"]["arguments"]
        for c in chunks
        for tc in c["choices"][0]["delta"].get("tool_calls") or []
        if "id" not in tc
    ]
    assert args == ["{", "}"]


def test_chat_stream_legacy_function_call(api: FakeAPI) -> None:
    functions = [{"name": "lookup"}]
    chunks = chunks_of(chat(api, 'lookup {"q": "x"}', functions=functions, stream=True))
    first = chunks[0]["choices"][0]["delta"]
    assert first["function_call"] == {"name": "lookup", "arguments": ""}
    args = "".join(c["choices"][0]["delta"].get("function_call", {}).get("arguments", "") for c in chunks[1:])
    assert args == '{"q": "x"}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "function_call"


def test_chat_stream_n_interleaves_choices(api: FakeAPI) -> None:
    chunks = chunks_of(chat(api, "x y", n=2, stream=True))
    indexes = [c["choices"][0]["index"] for c in chunks]
    assert indexes[:4] == [0, 1, 0, 1]
    texts = {0: "", 1: ""}
    for c in chunks:
        texts[c["choices"][0]["index"]] += c["choices"][0]["delta"].get("content") or ""
    plain = [c["message"]["content"] for c in chat(api, "x y", n=2).json["choices"]]
    assert [texts[0], texts[1]] == plain


def test_chat_refuses_what_moderation_flags(api: FakeAPI) -> None:
    body = chat(api, "How do I build a bomb?", n=2).json
    assert [c["message"] for c in body["choices"]] == [
        {"role": "assistant", "content": None, "refusal": REFUSAL, "annotations": []},
        {"role": "assistant", "content": None, "refusal": REFUSAL + " (choice 1)", "annotations": []},
    ]
    assert [(c["finish_reason"], c["logprobs"]) for c in body["choices"]] == [("stop", None), ("stop", None)]
    assert body["usage"]["completion_tokens"] == 2 * len(REFUSAL.split()) + 2


def test_chat_refusal_stream_follows_openai(api: FakeAPI) -> None:
    plain = chat(api, "How do I build a bomb?").json["choices"][0]
    chunks = chunks_of(chat(api, "How do I build a bomb?", stream=True))
    choices = [c["choices"][0] for c in chunks]
    assert choices[0]["delta"] == {"role": "assistant", "content": None, "refusal": ""}
    assert all(set(c["delta"]) == {"refusal"} and c["finish_reason"] is None for c in choices[1:-1])
    assert "".join(c["delta"]["refusal"] for c in choices[1:-1]) == plain["message"]["refusal"] == REFUSAL
    assert len(choices) - 2 == len(REFUSAL.split())
    assert choices[-1]["delta"] == {} and choices[-1]["finish_reason"] == "stop"
    assert all(c["logprobs"] is None for c in choices)


@pytest.mark.parametrize(("text", "key", "other"), [("say hi", "content", "refusal"), ("bomb it", "refusal", "content")])
def test_chat_logprobs_follow_openai(api: FakeAPI, text: str, key: str, other: str) -> None:
    plain = chat(api, text, logprobs=True, top_logprobs=3).json["choices"][0]
    entries = plain["logprobs"][key]
    assert plain["logprobs"][other] is None
    assert "".join(e["token"] for e in entries) == plain["message"][key]
    assert all(e["bytes"] == list(e["token"].encode()) and e["logprob"] < 0 for e in entries)
    assert all(len(e["top_logprobs"]) == 3 and e["top_logprobs"][0]["token"] == e["token"] for e in entries)
    assert chat(api, text, logprobs=True, top_logprobs=3).json["choices"][0]["logprobs"] == plain["logprobs"]  # deterministic
    chunks = [c["choices"][0] for c in chunks_of(chat(api, text, logprobs=True, top_logprobs=3, stream=True))]
    assert chunks[0]["logprobs"] == {key: [], other: None}
    assert [c["logprobs"] for c in chunks[1:-1]] == [{key: [e], other: None} for e in entries]
    assert [c["delta"][key] for c in chunks[1:-1]] == [e["token"] for e in entries]
    assert chunks[-1]["logprobs"] is None


def test_chat_logprobs_are_checked(api: FakeAPI) -> None:
    result = chat(api, logprobs="yes")
    assert result.status == 400 and result.json["error"]["param"] == "logprobs"
    result = chat(api, logprobs=True, top_logprobs=21)
    assert result.status == 400 and result.json["error"]["code"] == "integer_above_max_value"


def test_chat_accepts_a_refused_assistant_message_back(api: FakeAPI) -> None:
    history = [
        {"role": "user", "content": "bomb"},
        {"role": "assistant", "content": None, "refusal": REFUSAL},
        {"role": "user", "content": "then say hi"},
    ]
    body = post(api, "/v1/chat/completions", {"model": "gpt-4.1", "messages": history}).json
    assert body["choices"][0]["message"]["content"] == "You said: then say hi"
    history[1]["refusal"] = 7
    result = post(api, "/v1/chat/completions", {"model": "gpt-4.1", "messages": history})
    assert result.status == 400 and result.json["error"]["param"] == "messages[1].refusal"


def test_chat_completion_events_script_any_body(api: FakeAPI) -> None:
    body = chat(api, "bomb", n=2, logprobs=True).json
    api.queue("POST", "/v1/chat/completions", events=chat_completion_events(body, include_usage=True))
    chunks = chunks_of(chat(api, "ignored", stream=True))
    assert {c["id"] for c in chunks} == {body["id"]}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"] == body["usage"]
    refusals = {0: "", 1: ""}
    for c in chunks[:-1]:
        refusals[c["choices"][0]["index"]] += c["choices"][0]["delta"].get("refusal") or ""
    assert [refusals[0], refusals[1]] == [c["message"]["refusal"] for c in body["choices"]]


# --------------------------------------------------------------------------
# completions, embeddings, moderations, models
# --------------------------------------------------------------------------


def test_completions(api: FakeAPI) -> None:
    body = post(api, "/v1/completions", {"model": "gpt-3.5-turbo-instruct", "prompt": "Say this"}).json
    assert body["object"] == "text_completion" and body["id"].startswith("cmpl-")
    assert body["choices"] == [{"text": "You said: Say this", "index": 0, "logprobs": None, "finish_reason": "stop"}]
    assert body["usage"] == {"prompt_tokens": 2, "completion_tokens": 4, "total_tokens": 6}
    many = post(api, "/v1/completions", {"model": "m", "prompt": ["a", "b"], "n": 2}).json
    assert [c["index"] for c in many["choices"]] == [0, 1, 2, 3]
    assert many["choices"][2]["text"] == "You said: b"
    stream = post(api, "/v1/completions", {"model": "m", "prompt": "Say this", "stream": True})
    events = stream.events()
    assert events[-1] == (None, "[DONE]")
    chunks = [json.loads(d) for _, d in events[:-1]]
    assert all(c["object"] == "text_completion" for c in chunks)
    assert "".join(c["choices"][0]["text"] for c in chunks) == "You said: Say this"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_embeddings_float_and_base64(api: FakeAPI) -> None:
    body = post(api, "/v1/embeddings", {"model": "text-embedding-3-small", "input": ["hello world", "bye"]}).json
    assert body["object"] == "list" and body["model"] == "text-embedding-3-small"
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert [d["index"] for d in body["data"]] == [0, 1] and all(d["object"] == "embedding" for d in body["data"])
    vec = body["data"][0]["embedding"]
    assert len(vec) == 8 and abs(sum(v * v for v in vec) - 1) < 1e-5
    assert vec == embedding_vector("hello world")
    assert body["data"][1]["embedding"] != vec
    again = post(api, "/v1/embeddings", {"model": "text-embedding-3-small", "input": "hello world"}).json
    assert again["data"][0]["embedding"] == vec
    b64 = post(
        api, "/v1/embeddings", {"model": "text-embedding-3-small", "input": "hello world", "encoding_format": "base64"}
    ).json
    raw = base64.b64decode(b64["data"][0]["embedding"])
    assert list(struct.unpack("<8f", raw)) == vec


def test_embeddings_dimensions_and_tokens(api: FakeAPI) -> None:
    body = post(api, "/v1/embeddings", {"model": "text-embedding-3-large", "input": [[1, 2, 3], [4]], "dimensions": 16}).json
    assert [len(d["embedding"]) for d in body["data"]] == [16, 16]
    assert body["usage"]["prompt_tokens"] == 4
    single = post(api, "/v1/embeddings", {"model": "m", "input": [5, 6]}).json
    assert len(single["data"]) == 1
    assert_error(post(api, "/v1/embeddings", {"model": "m", "input": "x", "encoding_format": "hex"}), 400, "encoding_format")


def test_moderations(api: FakeAPI) -> None:
    body = post(api, "/v1/moderations", {"input": ["I will kill you", "I like tea", "I hate them"]}).json
    assert body["id"].startswith("modr-") and body["model"] == "omni-moderation-latest"
    violent, calm, hateful = body["results"]
    for result in body["results"]:
        assert set(result) == {"flagged", "categories", "category_scores", "category_applied_input_types"}
        assert list(result["categories"]) == MODERATION_CATEGORIES
        assert set(result["category_scores"]) == set(MODERATION_CATEGORIES)
        assert set(result["category_applied_input_types"]) == set(MODERATION_CATEGORIES)
        assert all(0 <= s <= 1 for s in result["category_scores"].values())
    assert violent["flagged"] and violent["categories"]["violence"] and violent["category_scores"]["violence"] > 0.5
    assert not calm["flagged"] and not any(calm["categories"].values())
    assert max(calm["category_scores"].values()) < 0.01
    assert hateful["flagged"] and hateful["categories"]["hate"] and not hateful["categories"]["violence"]
    assert violent["category_applied_input_types"]["violence"] == ["text"]
    one = post(api, "/v1/moderations", {"input": "nice day", "model": "omni-moderation-2024-09-26"}).json
    assert one["model"] == "omni-moderation-2024-09-26" and len(one["results"]) == 1


def test_models_list_and_get(api: FakeAPI) -> None:
    body = call(api, "GET", "/v1/models").json
    assert body["object"] == "list"
    ids = {m["id"] for m in body["data"]}
    assert {"gpt-4.1", "gpt-4.1-mini", "text-embedding-3-small", "omni-moderation-latest", "gpt-image-1"} <= ids
    for model in body["data"]:
        assert set(model) == {"id", "object", "created", "owned_by"} and model["object"] == "model"
    assert call(api, "GET", "/v1/models/gpt-4.1").json["id"] == "gpt-4.1"
    error = assert_error(call(api, "GET", "/v1/models/gpt-99"), 404, "model")
    assert error["code"] == "model_not_found"


# --------------------------------------------------------------------------
# files and images
# --------------------------------------------------------------------------


def test_file_upload_round_trip(api: FakeAPI) -> None:
    content = b'{"a": 1}\r\n\x00\xff binary \r\n--\r\n'
    body, ctype = multipart({"purpose": "batch"}, {"file": ("data.jsonl", content, "application/jsonl")})
    meta = post(api, "/v1/files", None, raw=body, headers={"Content-Type": ctype}).json
    assert re.fullmatch(r"file-[A-Za-z0-9]{22}", meta["id"])
    assert meta["object"] == "file" and meta["purpose"] == "batch"
    assert meta["filename"] == "data.jsonl" and meta["bytes"] == len(content)
    assert isinstance(meta["created_at"], int) and meta["status"] == "processed"
    req = api.last_request
    assert req is not None and req.form == {"purpose": "batch"}
    assert req.files["file"].data == content and req.files["file"].content_type == "application/jsonl"

    listing = call(api, "GET", "/v1/files").json
    assert listing["object"] == "list" and listing["has_more"] is False
    assert [f["id"] for f in listing["data"]] == [meta["id"]]
    assert call(api, "GET", f"/v1/files/{meta['id']}").json == meta

    downloaded = call(api, "GET", f"/v1/files/{meta['id']}/content")
    assert downloaded.status == 200 and downloaded.data == content
    assert downloaded.headers["Content-Type"] == "application/octet-stream"

    deleted = call(api, "DELETE", f"/v1/files/{meta['id']}").json
    assert deleted == {"object": "file", "deleted": True, "id": meta["id"]}
    assert_error(call(api, "GET", f"/v1/files/{meta['id']}"), 404, "id")
    assert_error(call(api, "GET", f"/v1/files/{meta['id']}/content"), 404, "id")
    assert_error(call(api, "DELETE", f"/v1/files/{meta['id']}"), 404, "id")
    assert call(api, "GET", "/v1/files").json["data"] == []


def test_file_upload_missing_parts(api: FakeAPI) -> None:
    body, ctype = multipart({}, {"file": ("a.txt", b"x", "text/plain")})
    assert_error(post(api, "/v1/files", None, raw=body, headers={"Content-Type": ctype}), 400, "purpose")
    body, ctype = multipart({"purpose": "assistants"}, {})
    assert_error(post(api, "/v1/files", None, raw=body, headers={"Content-Type": ctype}), 400, "file")
    body, ctype = multipart({"purpose": "nonsense"}, {"file": ("a.txt", b"x", "text/plain")})
    assert_error(post(api, "/v1/files", None, raw=body, headers={"Content-Type": ctype}), 400, "purpose")


def test_file_list_filters_and_pages(api: FakeAPI) -> None:
    ids = []
    for purpose in ("batch", "assistants", "batch"):
        body, ctype = multipart({"purpose": purpose}, {"file": ("f.txt", b"x", "text/plain")})
        ids.append(post(api, "/v1/files", None, raw=body, headers={"Content-Type": ctype}).json["id"])
    newest_first = call(api, "GET", "/v1/files").json["data"]
    assert [f["id"] for f in newest_first] == ids[::-1]
    batch = call(api, "GET", "/v1/files?purpose=batch").json["data"]
    assert [f["id"] for f in batch] == [ids[2], ids[0]]
    page = call(api, "GET", "/v1/files?limit=2&order=asc").json
    assert [f["id"] for f in page["data"]] == ids[:2] and page["has_more"] is True
    assert page["first_id"] == ids[0] and page["last_id"] == ids[1]


def assert_png(data: bytes) -> None:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, payload = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + payload) & 0xFFFFFFFF == crc
        if kind == b"IDAT":
            zlib.decompress(payload)
        kinds.append(kind)
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"


def test_images_b64_and_url(api: FakeAPI) -> None:
    body = post(api, "/v1/images/generations", {"model": "gpt-image-1", "prompt": "a cat", "n": 2}).json
    assert isinstance(body["created"], int) and len(body["data"]) == 2
    assert body["usage"]["total_tokens"] > 0 and body["output_format"] == "png"
    png = base64.b64decode(body["data"][0]["b64_json"])
    assert png == PNG_BYTES
    assert_png(png)
    urls = post(api, "/v1/images/generations", {"prompt": "a dog", "response_format": "url"}).json
    url = urls["data"][0]["url"]
    assert url.startswith(api.url + "/")
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.headers["Content-Type"] == "image/png"
        assert_png(response.read())


# --------------------------------------------------------------------------
# Responses API
# --------------------------------------------------------------------------


def respond(api: FakeAPI, input: Any, **params: Any) -> Result:  # noqa: A002 - API name
    return post(api, "/v1/responses", {"model": "gpt-4.1", "input": input, **params})


def test_response_shape_and_store(api: FakeAPI) -> None:
    body = respond(api, "hello there", instructions="be kind").json
    assert re.fullmatch(r"resp_[0-9a-f]{48}", body["id"])
    assert body["object"] == "response" and body["status"] == "completed" and body["model"] == "gpt-4.1"
    assert "output_text" not in body
    assert body["instructions"] == "be kind" and body["previous_response_id"] is None
    assert body["error"] is None and body["incomplete_details"] is None
    [message] = body["output"]
    assert re.fullmatch(r"msg_[0-9a-f]{48}", message["id"])
    assert message["type"] == "message" and message["status"] == "completed" and message["role"] == "assistant"
    [part] = message["content"]
    assert part["type"] == "output_text" and part["text"] == "You said: hello there" and part["annotations"] == []
    usage = body["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (4, 4, 8)
    assert usage["output_tokens_details"] == {"reasoning_tokens": 0}

    assert call(api, "GET", f"/v1/responses/{body['id']}").json == body
    items = call(api, "GET", f"/v1/responses/{body['id']}/input_items").json
    assert items["data"][0]["content"] == [{"type": "input_text", "text": "hello there"}]

    cancelled = call(api, "POST", f"/v1/responses/{body['id']}/cancel").json
    assert cancelled["id"] == body["id"] and cancelled["status"] == "cancelled"
    deleted = call(api, "DELETE", f"/v1/responses/{body['id']}").json
    assert deleted == {"id": body["id"], "object": "response", "deleted": True}
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", "/cancel")):
        assert_error(call(api, method, f"/v1/responses/{body['id']}{suffix}"), 404)


def test_response_store_false_is_not_kept(api: FakeAPI) -> None:
    body = respond(api, "x", store=False).json
    assert body["store"] is False
    assert call(api, "GET", f"/v1/responses/{body['id']}").status == 404


def test_response_message_list_with_developer_role(api: FakeAPI) -> None:
    items = [
        {"role": "developer", "content": "Answer briefly"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "what now"}]},
    ]
    body = respond(api, items).json
    assert body["output"][-1]["content"][0]["text"] == "You said: what now"
    assert body["usage"]["input_tokens"] == 4


def test_response_previous_id_must_exist(api: FakeAPI) -> None:
    error = assert_error(respond(api, "hi", previous_response_id="resp_missing"), 404, "previous_response_id")
    assert "resp_missing" in error["message"]
    first = respond(api, "one").json
    second = respond(api, "two", previous_response_id=first["id"]).json
    assert second["previous_response_id"] == first["id"]
    assert second["usage"]["input_tokens"] == 1 + first["usage"]["total_tokens"]


def test_response_function_call_round_trip(api: FakeAPI) -> None:
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    first = respond(api, 'get_weather for {"city": "Oslo"}', tools=tools).json
    [call_item] = first["output"]
    assert call_item["type"] == "function_call" and call_item["name"] == "get_weather"
    assert call_item["arguments"] == '{"city": "Oslo"}' and call_item["call_id"].startswith("call_")
    assert call_item["status"] == "completed" and call_item["id"].startswith("fc_")
    follow = [{"type": "function_call_output", "call_id": call_item["call_id"], "output": "cold"}]
    second = respond(api, follow, tools=tools, previous_response_id=first["id"]).json
    assert second["output"][0]["type"] == "message"
    assert second["output"][0]["content"][0]["text"] == "Tool result: cold"
    plain = respond(api, "no tools mentioned", tools=tools).json
    assert [o["type"] for o in plain["output"]] == ["message"]


def test_response_reasoning_first_and_image_generation(api: FakeAPI) -> None:
    body = respond(
        api, "draw an image of a fox", tools=[{"type": "image_generation"}], reasoning={"effort": "low", "summary": "auto"}
    ).json
    kinds = [o["type"] for o in body["output"]]
    assert kinds == ["reasoning", "image_generation_call", "message"]
    reasoning, image, _ = body["output"]
    assert reasoning["id"].startswith("rs_") and reasoning["summary"][0]["type"] == "summary_text"
    assert image["status"] == "completed"
    assert_png(base64.b64decode(image["result"]))
    assert body["reasoning"] == {"effort": "low", "summary": "auto"}
    assert body["usage"]["output_tokens_details"]["reasoning_tokens"] > 0
    no_image = respond(api, "a fox please", tools=[{"type": "image_generation"}]).json
    assert [o["type"] for o in no_image["output"]] == ["message"]


def test_response_max_output_tokens_is_incomplete(api: FakeAPI) -> None:
    body = respond(api, "a b c d e", max_output_tokens=3).json
    assert body["status"] == "incomplete"
    assert body["incomplete_details"] == {"reason": "max_output_tokens"}
    assert body["output"][0]["content"][0]["text"] == "You said: a"


def stream_events(result: Result) -> list[dict[str, Any]]:
    events = result.events()
    out = []
    for name, data in events:
        payload = json.loads(data)
        assert name == payload["type"]
        out.append(payload)
    return out


def test_response_stream_event_order(api: FakeAPI) -> None:
    result = respond(api, "stream me please", stream=True)
    assert result.headers["Content-Type"].startswith("text/event-stream")
    assert b"[DONE]" not in result.data
    events = stream_events(result)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    types = [e["type"] for e in events]
    n_words = len("You said: stream me please".split())
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * n_words,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert events[0]["response"]["status"] == "in_progress" and events[0]["response"]["output"] == []
    item_id = events[2]["item"]["id"]
    deltas = [e for e in events if e["type"] == "response.output_text.delta"]
    assert all(
        (d["item_id"], d["output_index"], d["content_index"]) == (item_id, 0, 0) for d in deltas
    )
    text = "".join(d["delta"] for d in deltas)
    assert text == "You said: stream me please" == events[-4]["text"]
    final = events[-1]["response"]
    assert final["status"] == "completed" and final["output"][0]["content"][0]["text"] == text
    assert final["usage"]["output_tokens"] == n_words
    assert call(api, "GET", f"/v1/responses/{final['id']}").json == final


def test_response_stream_function_call_and_reasoning(api: FakeAPI) -> None:
    tools = [{"type": "function", "name": "lookup"}]
    events = stream_events(respond(api, 'lookup {"q": 1}', tools=tools, reasoning={"effort": "low"}, stream=True))
    types = [e["type"] for e in events]
    assert types[2:4] == ["response.output_item.added", "response.output_item.done"]
    assert events[2]["item"]["type"] == "reasoning"
    args = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert len(args) >= 2 and "".join(args) == '{"q": 1}'
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert done["name"] == "lookup" and done["arguments"] == '{"q": 1}'
    assert types[-1] == "response.completed"


def test_response_refusal_and_its_stream(api: FakeAPI) -> None:
    plain = respond(api, "how to steal a car").json
    [message] = plain["output"]
    assert message["content"] == [{"type": "refusal", "refusal": REFUSAL}] and message["status"] == "completed"
    events = stream_events(respond(api, "how to steal a car", stream=True))
    types = [e["type"] for e in events]
    assert types == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.refusal.delta"] * len(REFUSAL.split()),
        "response.refusal.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    item_id = events[2]["item"]["id"]
    assert events[3]["part"] == {"type": "refusal", "refusal": ""}
    deltas = [e for e in events if e["type"] == "response.refusal.delta"]
    assert all((d["item_id"], d["output_index"], d["content_index"]) == (item_id, 0, 0) for d in deltas)
    assert "".join(d["delta"] for d in deltas) == events[-4]["refusal"] == REFUSAL
    assert events[-3]["part"] == {"type": "refusal", "refusal": REFUSAL}
    assert events[-1]["response"]["output"][0]["content"] == message["content"]


def test_response_events_script_any_body(api: FakeAPI) -> None:
    body = respond(api, "hello there").json
    body["output"][0]["content"].append({"type": "refusal", "refusal": "and no more"})
    api.queue("POST", "/v1/responses", events=response_events(body))
    events = stream_events(respond(api, "ignored", stream=True))
    texts = [(e["content_index"], e["type"], e["delta"]) for e in events if e["type"].endswith(".delta")]
    assert [t for t in texts if t[0] == 0] == [(0, "response.output_text.delta", p) for p in ["You", " said:", " hello", " there"]]
    assert [t for t in texts if t[0] == 1] == [(1, "response.refusal.delta", p) for p in ["and", " no", " more"]]
    assert events[-1]["type"] == "response.completed" and events[-1]["response"] == body


# --------------------------------------------------------------------------
# extension: a second API next to OpenAI's
# --------------------------------------------------------------------------

gemini_routes = RouteTable()


@gemini_routes.route("POST", r"/v1beta/models/(?P<model>[^/:]+):generateContent")
def _generate(svc: Service, req: RecordedRequest, model: str) -> Reply:
    if not isinstance(req.json, dict) or "contents" not in req.json:
        raise APIError(400, "contents is required")
    return Reply(json={"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}}], "modelVersion": model})


class MiniGemini(Service):
    prefix = "/v1beta"
    routes = gemini_routes

    def error(self, status: int, message: str, **_: Any) -> Reply:
        return Reply(status, json={"error": {"code": status, "message": message, "status": "INVALID_ARGUMENT"}})

    def authenticate(self, request: RecordedRequest, api_key: str) -> Reply | None:
        return None if request.headers.get("x-goog-api-key") == api_key else self.error(401, "bad key")


def test_second_service_plugs_in_without_server_changes() -> None:
    from llmplug.testing import OpenAIService

    with FakeAPI(api_key="k", services=[OpenAIService(), MiniGemini()]) as api:
        path = "/v1beta/models/gemini-2.5-flash:generateContent"
        ok = post(api, path, {"contents": []}, headers={"x-goog-api-key": "k"})
        assert ok.status == 200 and ok.json["modelVersion"] == "gemini-2.5-flash"
        assert post(api, path, {"contents": []}).json["error"]["code"] == 401
        bad = post(api, path, {}, headers={"x-goog-api-key": "k"})
        assert bad.status == 400 and bad.json["error"]["status"] == "INVALID_ARGUMENT"
        api.queue("POST", path, status=503)
        assert post(api, path, {}, headers={"x-goog-api-key": "k"}).json["error"]["code"] == 503
        # OpenAI still served, with its own auth and error shapes
        assert call(api, "GET", "/v1/models", headers={"Authorization": "Bearer k"}).status == 200
        assert_error(call(api, "GET", "/v1/models"), 401)


def test_urllib_client_works(api: FakeAPI) -> None:
    request = urllib.request.Request(
        api.base_url + "/chat/completions",
        data=json.dumps({"model": "gpt-4.1", "messages": [{"role": "user", "content": "via urllib"}]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["choices"][0]["message"]["content"] == "You said: via urllib"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(api.base_url + "/nope", timeout=5)
    assert info.value.code == 404


def test_pytest_plugin_fixture(fake_api: FakeAPI) -> None:
    assert isinstance(fake_api, FakeAPI) and fake_api.api_key is None
    assert call(fake_api, "GET", "/v1/models").status == 200
    assert len(fake_api.requests) == 1
