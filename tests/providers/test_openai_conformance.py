"""Every OpenAI operation llmplug has, checked against OpenAI's published
OpenAPI spec by the Steady mock server, through every transport.

Any 4xx, or a non-zero ``X-Steady-Error-Count``, fails the test.
"""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

import llmplug
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.conformance

ROOT = pathlib.Path(__file__).resolve().parents[2]
SPEC = pathlib.Path(os.environ.get("LLMPLUG_OPENAI_SPEC", ROOT.parent / "shared" / "reference" / "openai-openapi.yaml"))
STEADY = pathlib.Path(os.environ.get("LLMPLUG_STEADY_BIN", ROOT / "node_modules" / ".bin" / "steady"))


def _missing(what: str) -> None:
    message = f"{what}; run 'npm ci' in the project root (see README)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def steady_url() -> Iterator[str]:
    if not SPEC.is_file():
        _missing(f"OpenAI's spec is not at {SPEC}")
    if not STEADY.exists():
        _missing(f"the Steady mock server is not at {STEADY}")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [str(STEADY), "--host", "127.0.0.1", "-p", str(port), "-q", "--log-format", "text", str(SPEC)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/_x-steady/health", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"Steady exited: {proc.stdout.read().decode(errors='replace')}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("Steady did not start within 60 s") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def steady(steady_url: str, transport: str) -> Iterator[llmplug.Client]:
    with llmplug.new("openai", api_key=TEST_KEY, base_url=steady_url, transport=transport, max_retries=0) as c:
        yield c


def _conforms(status: int, headers: Any) -> None:
    errors = {k: v for k, v in headers.items() if k.lower().startswith("x-steady-error-")}
    assert status < 400, errors
    assert headers.get("x-steady-error-count", "0") == "0", errors
    assert headers.get("x-steady-request-valid", "true") == "true", errors


def check(result: Any) -> Any:
    _conforms(result.status, result.headers)
    return result.body


def check_stream(stream: llmplug.Stream) -> None:
    with stream:
        _conforms(stream.status_code, stream.headers)
        assert "event-stream" in stream.headers.get("content-type", "")
        first = next(iter(stream), None)  # the mock's events are random; one must parse
        assert first is not None


MESSAGES = [
    {"role": "developer", "content": "You are terse."},
    {"role": "system", "content": "Answer in English."},
    {"role": "user", "content": [{"type": "text", "text": "What is in this image?"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}]},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a":1,"b":2}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "3"},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers",
            "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]},
            "strict": True,
        },
    }
]
FULL_CHAT = dict(
    model="gpt-4.1-mini",
    temperature=0.7,
    top_p=0.9,
    n=2,
    stop=["\n\n"],
    max_completion_tokens=100,
    presence_penalty=0.5,
    frequency_penalty=0.5,
    logit_bias={"50256": -100},
    logprobs=True,
    top_logprobs=2,
    seed=42,
    user="user-1",
    tools=TOOLS,
    tool_choice={"type": "function", "function": {"name": "add"}},
    parallel_tool_calls=False,
    response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"x": {"type": "string"}}}, "strict": True}},
    metadata={"purpose": "test"},
    store=False,
    service_tier="auto",
)


def test_chat(steady):
    check(steady.create_chat_completion([{"role": "user", "content": "Hello"}]))
    check(steady.create_chat_completion(MESSAGES, **FULL_CHAT))
    check(steady.chat([{"role": "user", "content": "Hello"}], {"temperature": 0}))


def test_chat_after_a_refusal(steady, api, transport):
    """The history a session keeps after a streamed refusal is a valid request."""
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, max_retries=0) as fake:
        session = fake.new_chat_session()
        session.send("How do I build a bomb?", lambda chunk, raw: None)
    assert session.messages[-1]["content"] is None and session.messages[-1]["refusal"]
    check(steady.create_chat_completion([*session.messages, {"role": "user", "content": "Then say hi"}]))


def test_chat_stream(steady):
    check_stream(steady.create_chat_completion([{"role": "user", "content": "Hello"}], stream=True))
    check_stream(steady.create_chat_completion(MESSAGES, stream=True, stream_options={"include_usage": True}, **FULL_CHAT))


def test_completions(steady):
    check(steady.completion("Once upon a time"))
    check(steady.completion(["a", "b"], model="gpt-3.5-turbo-instruct", max_tokens=16, temperature=0, top_p=1, n=1, stop=["."], echo=True, logprobs=2, suffix="!", best_of=1, user="u", seed=1))
    # The spec defines no event stream for /completions, so Steady cannot check one.


def test_embeddings(steady):
    check(steady.embedding("hello"))
    check(steady.embedding(["a", "b"], model="text-embedding-3-large", dimensions=256, encoding_format="float", user="u"))


def test_moderations(steady):
    check(steady.moderation("hello"))
    check(steady.moderation(["a", "b"], model="omni-moderation-latest"))


def test_images(steady):
    check(steady.image_generation(prompt="a red square"))
    check(steady.image_generation({"prompt": "a cat", "model": "gpt-image-1", "n": 1, "size": "1024x1024", "quality": "high", "background": "transparent", "output_format": "png", "user": "u"}))


def test_models(steady):
    check(steady.models())
    check(steady.model("gpt-4.1"))


def test_files(steady):
    check(steady.files())
    check(steady.files(purpose="batch", limit=10, order="desc"))
    check(steady.upload_file(b'{"custom_id": "1"}\n', "batch", filename="batch.jsonl"))
    check(steady.upload_file(b"x", "user_data", filename="notes.txt", expires_after={"anchor": "created_at", "seconds": 3600}))
    check(steady.file("file-abc123"))
    check(steady.delete_file("file-abc123"))
    result = steady.file_content("file-abc123")
    _conforms(result.status, result.headers)


RESPONSE_INPUT = [
    {"role": "developer", "content": "Be brief."},
    {"role": "user", "content": "Hi"},  # content-part lists: Steady 0.22 rejects valid ones (E3012)
    {"type": "function_call", "call_id": "call_1", "name": "add", "arguments": '{"a":1,"b":2}'},
    {"type": "function_call_output", "call_id": "call_1", "output": "3"},
]
FULL_RESPONSE = dict(
    model="gpt-4.1",
    instructions="You are terse.",
    temperature=0.5,
    top_p=1,
    max_output_tokens=200,
    tools=[{"type": "function", "name": "add", "description": "Add", "parameters": {"type": "object", "properties": {"a": {"type": "number"}}}, "strict": False}],
    tool_choice="auto",
    parallel_tool_calls=True,
    previous_response_id="resp_123",
    store=True,
    metadata={"k": "v"},
    text={"format": {"type": "json_schema", "name": "out", "schema": {"type": "object", "properties": {}}, "strict": False}},
    truncation="auto",
    user="u",
)


def test_responses(steady):
    check(steady.create_response("Hello"))
    check(steady.create_response(RESPONSE_INPUT, **FULL_RESPONSE))
    check(steady.response("resp_123"))
    check(steady.delete_response("resp_123"))
    check(steady.cancel_response("resp_123"))


def test_responses_stream(steady):
    check_stream(steady.create_response("Hello", stream=True))
    check_stream(steady.create_response(RESPONSE_INPUT, stream=True, **FULL_RESPONSE))


def test_batches(steady, tmp_path):
    check(steady.create_batch("file-abc123", "/v1/chat/completions"))
    check(steady.create_batch("file-abc123", "/v1/embeddings", completion_window="24h", metadata={"run": "nightly"}))
    check(steady.batch("batch_abc123"))
    check(steady.batches())
    check(steady.batches(limit=5, after="batch_abc123"))
    check(steady.cancel_batch("batch_abc123"))
    result = steady.file_content("file-abc123", tmp_path / "out.jsonl")  # streamed to disk
    _conforms(result.status, result.headers)
    # submit_batch's upload and create: Steady answers a request that breaks the spec with a 4xx, which raises
    job = steady.submit_batch([(f"r{i}", {"messages": [{"role": "user", "content": "Hi"}]}) for i in range(3)],
                              metadata={"run": "conformance"})
    assert job.id


def typed(call: Any) -> None:
    """A typed call's request conforms, whatever the mock's random reply: it
    either parses, or fails as a StructuredOutputError that keeps the headers."""
    try:
        result = call()
    except llmplug.StructuredOutputError as exc:
        _conforms(200, exc.headers)
    else:
        _conforms(result.status, result.headers)


def test_typed_outputs_and_tools(steady):
    from tests.structured.test_typed_tools import book
    from tests.structured_types import FAMILIES, Kind

    person = FAMILIES["attrs"].Person
    typed(lambda: steady.create_chat_completion(MESSAGES, response_format=person, tools=[book], model="gpt-4.1"))
    typed(lambda: steady.create_chat_completion([{"role": "user", "content": "Hi"}], response_format=list[Kind]))
    typed(lambda: steady.create_response("Hi", text_format=person, tools=[llmplug.function_tool(book)]))


def test_generic_request(steady):
    check(steady.request("GET", "/batches", query={"limit": 5}))
