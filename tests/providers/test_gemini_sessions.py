"""ChatSession on ``gemini`` (native) and ``gemini-openai``: multi-turn,
streaming, tools and the ``run()`` tool loop, over every transport."""

from __future__ import annotations

import pytest

import llmplug
from tests.async_bridge import session_classes
from tests.conftest import TEST_KEY
from tests.providers.gemini_protos import gemini_protos  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("gemini_protos")

BASES = {"gemini": "/v1beta", "gemini-openai": "/v1beta/openai"}


@pytest.fixture(params=sorted(BASES))
def client(request, api, transport):
    name = request.param
    with llmplug.new(name, api_key=TEST_KEY, base_url=api.url + BASES[name], transport=transport, max_retries=0) as c:
        yield c


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_multi_turn(client, api):
    session = client.new_chat_session(messages=[{"role": "system", "content": "Be brief."}], temperature=0.1)
    assert session.send("Hello there") == "You said: Hello there"
    assert session.send("And again") == "You said: And again"
    assert [msg["role"] for msg in session.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert session.last_finish_reason == "stop" and session.last_usage.total_tokens > 0
    if client.provider.name == "gemini":
        contents = api.last_request.json["contents"]
        assert [turn["role"] for turn in contents] == ["user", "model", "user"]
        assert api.last_request.json["systemInstruction"] == {"parts": [{"text": "Be brief."}]}


def test_streaming(client, api):
    pieces = []
    reply = client.new_chat_session().send("Stream this to me please", lambda chunk, raw: pieces.append(str(chunk)))
    assert reply == "You said: Stream this to me please" == "".join(pieces) and len(pieces) > 1


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_tool_calls_by_hand(client, api, stream):
    session = client.new_chat_session(tools=[llmplug.sessions.chat.tool_declaration("add", add)])
    callback = (lambda chunk, raw: None) if stream else None
    reply = session.send('please add {"a": 2, "b": 3}', callback)
    assert isinstance(reply, dict) and session.last_finish_reason == "tool_calls"
    (call,) = reply["tool_calls"]
    assert call["function"]["name"] == "add" and call["extra_content"]["google"]["thought_signature"]
    session.append_message({"role": "tool", "tool_call_id": call["id"], "content": "5"})
    assert session.generate_response(stream_callback=callback) == "Tool result: 5"


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-3-pro-preview"])
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_run_tool_loop(client, api, model, stream):
    session = client.new_chat_session(model=model)
    callback = (lambda chunk, raw: None) if stream else None
    reply = session.run('please add {"a": 20, "b": 22}', [add], stream_callback=callback)
    assert reply == "Tool result: 42"
    roles = [msg["role"] for msg in session.messages]
    assert roles == ["user", "assistant", "tool", "assistant"]
    # Gemini 3 rejects a replayed call without its thought signature: the loop sent it back.
    assert session.messages[1]["tool_calls"][0]["extra_content"]["google"]["thought_signature"]


def test_session_survives_save_and_resume(client, api):
    session = client.new_chat_session(model="gemini-3-pro-preview")
    session.send('please add {"a": 1, "b": 1}', tools=[llmplug.sessions.chat.tool_declaration("add", add)])
    call = session.last_message()["tool_calls"][0]
    session.append_message({"role": "tool", "tool_call_id": call["id"], "content": "2"})
    chat, _ = session_classes(client)
    resumed = chat.from_dict(client, session.to_dict())
    assert resumed.generate_response() == "Tool result: 2"
