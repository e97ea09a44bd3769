"""The ``llmplug-anthropic`` example (``examples/plugins/llmplug-anthropic``):
installed with pip into the test environment (``tests/plugins/packages.py``),
used by name through every transport over a real socket, against a fake of
Anthropic's Messages API that checks requests as Anthropic does
(``tests/plugins/anthropic_fake.py``)."""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Iterator
from typing import Any

import pytest

import llmplug
from llmplug import PluginManager
from llmplug.testing import FakeAPI
from tests.conftest import TEST_KEY
from tests.plugins.anthropic_fake import AnthropicService, signature
from tests.plugins.packages import EXAMPLES, installed_packages

PACKAGE = EXAMPLES / "llmplug-anthropic"
PACKAGES = {"llmplug-anthropic": (PACKAGE, "llmplug_anthropic")}
USER = [{"role": "user", "content": "Say hello."}]
THINKING = {"thinking": {"type": "enabled", "budget_tokens": 1024}, "max_tokens": 2048}


@pytest.fixture(scope="module", autouse=True)
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with installed_packages(PACKAGES, tmp_path_factory.mktemp("anthropic-package")):
        yield


@pytest.fixture(scope="module")
def _anthropic_api() -> Iterator[FakeAPI]:
    with FakeAPI(api_key=TEST_KEY, services=[AnthropicService()]) as api:
        yield api


@pytest.fixture
def api(_anthropic_api: FakeAPI) -> Iterator[FakeAPI]:
    """The fake Anthropic API (it wants ``x-api-key: TEST_KEY``), emptied for each test."""
    _anthropic_api.reset()
    yield _anthropic_api
    _anthropic_api.reset()


def anthropic(api: FakeAPI, transport: str = "urllib", **options: Any) -> llmplug.Client:
    """An ``anthropic`` client on the fake API, through a fresh manager (it reads the entry points)."""
    options = {"plugins": PluginManager(), "max_retries": 0, **options}
    return llmplug.new("anthropic", api_key=TEST_KEY, base_url=api.base_url, transport=transport, **options)


def text_block(text: str) -> dict[str, str]:
    return {"type": "text", "text": text}


def get_weather(city: str) -> dict[str, Any]:
    """The weather in a city."""
    return {"city": city, "sky": "clear", "celsius": 21}


def get_time(city: str) -> str:
    """The local time in a city."""
    return f"12:00 in {city}"


# ------------------------------------------------------------ chat


def test_chat_by_name_over_a_socket(api, transport, fresh_default):
    client = llmplug.new("anthropic", api_key=TEST_KEY, base_url=api.base_url, transport=transport)  # the default manager
    status, body, headers = client.create_chat_completion(USER, temperature=0)

    req = api.last_request
    assert (req.method, req.path) == ("POST", "/v1/messages")
    assert req.headers["x-api-key"] == TEST_KEY and req.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in req.headers
    assert req.json == {
        "model": "claude-sonnet-4-5", "max_tokens": 1024, "temperature": 0,
        "messages": [{"role": "user", "content": [text_block("Say hello.")]}],
    }
    assert status == 200 and headers["request-id"] == "req_fake0001"
    assert isinstance(body, llmplug.core.models.ChatCompletion)
    assert body.content == "You said: Say hello." and body.choices[0].message.role == "assistant"
    assert body.choices[0].finish_reason == "stop" and body.choices[0].message.tool_calls is None
    assert body.id.startswith("msg_") and body.model == "claude-sonnet-4-5"
    assert (body.usage.prompt_tokens, body.usage.completion_tokens, body.usage.total_tokens) == (2, 4, 6)
    assert body.raw["type"] == "message" and body.raw["stop_reason"] == "end_turn"  # Anthropic's JSON, kept
    assert TEST_KEY not in repr(client) and TEST_KEY not in repr(client.provider)


def test_system_prompt_and_params_are_mapped(api, transport):
    client = anthropic(api, transport)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": [text_block("Answer in English.")]},
        {"role": "user", "content": "Say hello to everyone here."},
    ]
    _, body, _ = client.create_chat_completion(messages, stop="everyone", max_completion_tokens=50)
    assert api.last_request.json == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 50,  # max_completion_tokens wins over the provider's default
        "system": [text_block("Be brief."), text_block("Answer in English.")],
        "messages": [{"role": "user", "content": [text_block("Say hello to everyone here.")]}],
        "stop_sequences": ["everyone"],
    }
    assert body.content == "You said: Say hello to " and body.choices[0].finish_reason == "stop"
    assert body.raw["stop_reason"] == "stop_sequence"

    _, body, _ = client.create_chat_completion(USER, max_tokens=2, model="claude-haiku-4-5")
    assert body.content == "You said:" and body.choices[0].finish_reason == "length"
    assert api.last_request.json["model"] == "claude-haiku-4-5"


def test_tool_round_trip_with_a_session_run(api, transport):
    client = anthropic(api, transport)
    session = client.new_chat_session(messages=[{"role": "system", "content": "Use the tools."}])
    question = 'get_weather and get_time, please: {"city": "Paris"}'
    assert session.run(question, [get_weather, get_time]) == (
        'Tool result: {"city": "Paris", "sky": "clear", "celsius": 21} 12:00 in Paris'
    )

    first, second = (r.json for r in api.requests)
    assert first["tools"] == [
        {"name": "get_weather", "description": "The weather in a city.",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        {"name": "get_time", "description": "The local time in a city.",
         "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    ]
    calls = session.messages[2]["tool_calls"]
    assert [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in calls] == [
        ("get_weather", {"city": "Paris"}), ("get_time", {"city": "Paris"}),
    ]
    assert session.messages[2]["content"] is None  # a reply of tool calls only, as OpenAI's
    assert second["system"] == [text_block("Use the tools.")]
    assert second["messages"][1:] == [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": calls[0]["id"], "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": calls[1]["id"], "name": "get_time", "input": {"city": "Paris"}},
        ]},
        {"role": "user", "content": [  # both results in one user turn: Anthropic's roles alternate
            {"type": "tool_result", "tool_use_id": calls[0]["id"],
             "content": '{"city": "Paris", "sky": "clear", "celsius": 21}'},
            {"type": "tool_result", "tool_use_id": calls[1]["id"], "content": "12:00 in Paris"},
        ]},
    ]
    assert session.last_finish_reason == "stop"


def test_tool_choice_and_finish_reason(api):
    client = anthropic(api)
    tools = [{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}]
    _, body, _ = client.create_chat_completion(USER, tools=tools, tool_choice="required")
    assert api.last_request.json["tool_choice"] == {"type": "any"}
    assert api.last_request.json["tools"] == [{"name": "get_time", "input_schema": {"type": "object", "properties": {}}}]
    call = body.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments, body.choices[0].finish_reason) == ("get_time", "{}", "tool_calls")

    client.create_chat_completion(USER, tools=tools, tool_choice={"type": "function", "function": {"name": "get_time"}})
    assert api.last_request.json["tool_choice"] == {"type": "tool", "name": "get_time"}
    _, body, _ = client.create_chat_completion([{"role": "user", "content": "get_time"}], tools=tools, tool_choice="none")
    assert api.last_request.json["tool_choice"] == {"type": "none"} and body.content == "You said: get_time"


def test_params_anthropic_does_not_know_are_refused_by_name(api):
    client = anthropic(api)
    with pytest.raises(llmplug.BadRequestError) as info:
        client.create_chat_completion(USER, n=2)
    assert str(info.value).startswith("anthropic: 400 n: Extra inputs are not permitted (invalid_request_error)")


# ------------------------------------------------------------ streams


def test_stream_text_by_callback_and_by_iterator(api, transport):
    client = anthropic(api, transport)
    pieces: list[str] = []
    raws: list[Any] = []

    def on_chunk(chunk, raw=None):
        pieces.append(str(chunk))
        raws.append(chunk.raw.get("type"))

    _, body, _ = client.create_chat_completion(USER, chunk_callback=on_chunk)
    assert api.last_request.json["stream"] is True and api.last_request.headers["accept"] == "text/event-stream"
    assert "".join(pieces) == "You said: Say hello." and pieces.count("") >= 2  # the role, and the stop reason
    assert raws[0] == "message_start" and raws[-1] == "message_delta" and "ping" not in raws
    assert body.content == "You said: Say hello." and body.choices[0].finish_reason == "stop"
    assert (body.usage.prompt_tokens, body.usage.completion_tokens) == (2, 4)

    with client.create_chat_completion(USER, stream=True) as stream:
        chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "You said: Say hello."
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].usage.total_tokens == 6
    assert stream.final.content == "You said: Say hello."


def test_stream_tool_call_input_arrives_in_pieces(api, transport):
    client = anthropic(api, transport)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    with client.create_chat_completion([{"role": "user", "content": 'get_weather {"city": "Oslo"}'}], stream=True,
                                       tools=tools) as stream:
        chunks = list(stream)
    deltas = [c.choices[0].delta.tool_calls[0] for c in chunks if c.choices[0].delta.tool_calls]
    assert deltas[0].index == 0 and deltas[0].id.startswith("toolu_") and deltas[0].function.name == "get_weather"
    assert [d.function.arguments for d in deltas[1:]] == ['{"city":', ' "Oslo"}']  # input_json_delta
    message = stream.final.choices[0].message
    assert message.tool_calls[0].function.arguments == '{"city": "Oslo"}' and message.content is None
    assert stream.final.choices[0].finish_reason == "tool_calls"


def test_stream_thinking_becomes_reasoning_and_goes_back_signed(api, transport):
    client = anthropic(api, transport)
    _, plain, _ = client.create_chat_completion(USER, **THINKING)
    thought = "The user wrote 2 words; I will answer."
    assert plain.choices[0].message.reasoning == thought and plain.content == "You said: Say hello."
    kept = [{"type": "thinking", "thinking": thought, "signature": signature(thought)}]
    assert plain.choices[0].message.extra_content == {"anthropic": {"thinking": kept}}

    reasoning: list[str] = []
    _, body, _ = client.create_chat_completion(
        USER, chunk_callback=lambda chunk, raw=None: reasoning.append(chunk.choices[0].delta.reasoning or ""), **THINKING
    )
    assert "".join(reasoning) == thought and len([r for r in reasoning if r]) > 1  # thinking_delta, piece by piece
    assert body.choices[0].message.reasoning == thought
    assert body.choices[0].message.extra_content == {"anthropic": {"thinking": kept}}  # signature_delta kept
    assert body.content == plain.content

    # With thinking on, Anthropic wants the signed thinking block back before the turn's tool_use blocks.
    session = client.new_chat_session(**THINKING)
    assert session.run('get_weather {"city": "Rome"}', [get_weather], stream_callback=lambda *a: None).startswith(
        'Tool result: {"city": "Rome"'
    )
    assistant = api.last_request.json["messages"][1]
    assert [block["type"] for block in assistant["content"]] == ["thinking", "tool_use"]


def test_an_error_event_mid_stream_raises_with_the_servers_message(api, transport):
    from tests.plugins.anthropic_fake import sse

    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
               "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 2, "output_tokens": 1}}
    api.queue("POST", "/v1/messages", events=[
        sse("message_start", {"message": message}),
        sse("content_block_start", {"index": 0, "content_block": text_block("")}),
        sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
        sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ])
    client = anthropic(api, transport)
    pieces: list[str] = []
    with pytest.raises(llmplug.StreamError) as info:
        client.create_chat_completion(USER, chunk_callback=lambda chunk, raw=None: pieces.append(str(chunk)))
    assert str(info.value).startswith("the server reported an error mid-stream: Overloaded (overloaded_error)")
    assert "".join(pieces) == "Hel" and info.value.received == "Hel"
    assert len(api.requests) == 1  # events were delivered: not retried


def test_a_stream_cut_before_message_stop_is_an_error(api):
    from tests.plugins.anthropic_fake import answer, check_request, stream_events

    body = check_request({"model": "claude-sonnet-4-5", "max_tokens": 10, "messages": USER})
    api.queue("POST", "/v1/messages", events=stream_events(answer(body))[:-1])  # no message_stop
    with pytest.raises(llmplug.StreamError, match="no terminating event"):
        anthropic(api).create_chat_completion(USER, stream=True, chunk_callback=lambda *a: None)


# ------------------------------------------------------------ errors


def test_overloaded_529_is_retried_then_succeeds(api, transport):
    api.queue("POST", "/v1/messages", status=529, times=2)
    sleeps: list[float] = []
    retry = llmplug.RetryPolicy(sleep=sleeps.append, random=lambda: 0.0)
    client = anthropic(api, transport, max_retries=2, retry=retry)
    _, body, headers = client.create_chat_completion(USER)
    assert body.content == "You said: Say hello."
    assert len(api.requests) == 3 and sleeps == [0.5, 1.0]
    assert headers["request-id"] == "req_fake0003"


def test_errors_carry_the_servers_message_and_request_id(api, transport):
    api.queue("POST", "/v1/messages", status=529)
    client = anthropic(api, transport)
    with pytest.raises(llmplug.InternalServerError) as info:
        client.create_chat_completion(USER)
    error = info.value
    assert (error.status_code, error.request_id, error.provider) == (529, "req_fake0001", "anthropic")
    assert str(error).startswith("anthropic: 529 Overloaded (overloaded_error)")
    assert error.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}

    with pytest.raises(llmplug.NotFoundError) as info:
        client.create_chat_completion(USER, model="claude-nonexistent")
    assert str(info.value).startswith("anthropic: 404 model: claude-nonexistent (not_found_error)")
    assert info.value.request_id == "req_fake0002"

    bad = llmplug.new("anthropic", api_key="sk-wrong", base_url=api.base_url, transport=transport,
                      plugins=PluginManager(), max_retries=0)
    with pytest.raises(llmplug.AuthenticationError) as info:
        bad.create_chat_completion(USER)
    assert str(info.value).startswith("anthropic: 401 invalid x-api-key (authentication_error)")


# ------------------------------------------------------------ the rest of the API


def test_other_operations_are_refused_or_go_through_request(api):
    client = anthropic(api)
    with pytest.raises(llmplug.UnsupportedOperationError) as info:
        client.embedding("hello")
    assert str(info.value) == (
        "provider 'anthropic' has no operation 'embeddings.create' in this example: it maps chat only; "
        "for another endpoint use client.request(method, path, ...)"
    )
    assert api.requests == []
    _, body, _ = client.request("GET", "/models")
    assert [m["id"] for m in body["data"]] == ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]
    assert api.last_request.headers["x-api-key"] == TEST_KEY


def test_the_fake_checks_requests_as_anthropic_does(api):
    client = anthropic(api)

    def refused(body: dict[str, Any]) -> str:
        with pytest.raises(llmplug.APIStatusError) as info:
            client.request("POST", "/messages", json=body)
        return str(info.value).split(": ", 1)[1]

    base = {"model": "claude-sonnet-4-5", "max_tokens": 10}
    assert refused({"model": "claude-sonnet-4-5", "messages": USER}).startswith(
        "400 max_tokens: Field required (invalid_request_error)"
    )
    turns = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    assert "roles must alternate" in refused({**base, "messages": turns})
    use = {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]}
    result = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "x"}]}
    assert "unexpected `tool_use_id` found in `tool_result` blocks: toolu_2" in refused({**base, "messages": [*USER, use, result]})
    assert "without `tool_result` blocks immediately after: toolu_1" in refused({**base, "messages": [*USER, use, *USER]})
    assert "stop: Extra inputs are not permitted" in refused({**base, "messages": USER, "stop": ["x"]})

    no_version = llmplug.new("anthropic", api_key=TEST_KEY, base_url=api.base_url, transport="urllib",
                             plugins=PluginManager(), max_retries=0, headers={"anthropic-version": ""})
    with pytest.raises(llmplug.BadRequestError, match="anthropic-version: header is required"):
        no_version.create_chat_completion(USER)


def test_key_from_the_environment(api, monkeypatch):
    with pytest.raises(llmplug.MissingAPIKeyError) as info:
        llmplug.new("anthropic", plugins=PluginManager())
    assert str(info.value) == "provider 'anthropic' needs an API key: pass api_key=... or set ANTHROPIC_API_KEY"
    monkeypatch.setenv("ANTHROPIC_API_KEY", TEST_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", api.base_url)
    _, body, _ = llmplug.new("anthropic", transport="urllib", plugins=PluginManager()).create_chat_completion(USER)
    assert body.content == "You said: Say hello." and api.last_request.headers["x-api-key"] == TEST_KEY


def test_the_plugin_is_listed_and_leaves_other_providers_alone(fresh_default):
    infos = {info.name: info for info in llmplug.plugins()}
    anthropic_info = infos["anthropic"]
    assert (anthropic_info.distribution, anthropic_info.version, anthropic_info.builtin) == ("llmplug-anthropic", "0.1.0", False)
    assert anthropic_info.providers == ("anthropic",)
    assert set(anthropic_info.hooks) == {
        "llmplug_register_providers", "llmplug_build_request", "llmplug_authenticate", "llmplug_parse_response",
        "llmplug_stream_parser", "llmplug_parse_error",
    }
    with FakeAPI() as openai_api:  # the OpenAI fake: the Anthropic plugin answers for no other family
        client = llmplug.new("openai", api_key=TEST_KEY, base_url=openai_api.base_url, transport="urllib")
        _, body, _ = client.create_chat_completion(USER, model="gpt-4o-mini")
        assert body.content == "You said: Say hello."
        assert "x-api-key" not in openai_api.last_request.headers


def code_lines(source: str) -> int:
    """Lines holding code: not blank, not only a comment, not in a docstring."""
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            docstrings.update(range(body[0].lineno, body[0].end_lineno + 1))
    lines = set()
    skip = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER)
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def test_the_example_stays_small():
    assert code_lines((PACKAGE / "llmplug_anthropic.py").read_text()) <= 150


def test_the_walkthrough_quotes_the_real_file():
    """Each excerpt in docs/plugins.md's walkthrough is the file's own lines (``...`` marks a cut)."""
    source = (PACKAGE / "llmplug_anthropic.py").read_text()
    docs = (EXAMPLES.parents[1] / "docs" / "plugins.md").read_text()
    excerpts = re.findall(r'^```python title="llmplug_anthropic.py"\n(.*?)^```', docs, flags=re.S | re.M)
    assert len(excerpts) >= 8
    for excerpt in excerpts:
        for piece in re.split(r"^[ \t]*\.\.\.\n", excerpt, flags=re.M):
            assert piece in source, f"not in llmplug_anthropic.py:\n{piece}"
