"""Record and replay (``llmplug.testing.Cassette``): record against the fake API
on 127.0.0.1 through every transport, sync and async, then replay with the
server stopped and get the same results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import llmplug
from llmplug.testing import Cassette, CassetteError, FakeAPI
from llmplug.testing.gemini_api import gemini_service
from tests import async_bridge
from tests.conftest import TEST_KEY

USER = [{"role": "user", "content": "Hello there"}]
DEAD_URL = "http://127.0.0.1:9/v1"  # nothing listens: a replay that sent anything would fail


def client(transport: str, cassette: Cassette, base_url: str, provider: str = "openai", **options: Any) -> Any:
    """A client of ``transport``'s kind on ``cassette`` (an async one behind the test bridge)."""
    options = {"api_key": TEST_KEY, "base_url": base_url, "transport": cassette, "max_retries": 0, **options}
    if transport.startswith("async-"):
        bridge = async_bridge.AsyncBridge(provider, **options)
        async_bridge.opened.append(bridge)
        return bridge
    return llmplug.new(provider, **options)


def cassette_for(tmp_path: Path, transport: str, mode: str = "once", name: str = "c.yaml", **options: Any) -> Cassette:
    return Cassette(tmp_path / name, mode, inner=transport.removeprefix("async-"), **options)


def conversation(c: Any) -> dict[str, Any]:
    """Plain calls, a stream with a callback, a session's tool loop, and a retried 429."""
    out: dict[str, Any] = {}
    out["chat"] = c.create_chat_completion(USER, temperature=0.5).body.raw
    out["embedding"] = c.embedding("some text").body.vectors
    events: list[Any] = []
    out["streamed"] = c.create_chat_completion([{"role": "user", "content": "stream this please"}], events.append).body.raw
    out["events"] = [event.raw for event in events]

    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    session = c.new_chat_session()
    out["tool_reply"] = session.run('Please add {"a": 2, "b": 3}', [add])
    out["history"] = [{k: v for k, v in m.items() if k != "tool_calls"} for m in session.messages]
    out["retried"] = c.create_chat_completion([{"role": "user", "content": "try again"}], max_retries=2).body.raw
    return out


def test_record_then_replay_with_the_server_stopped(transport, tmp_path) -> None:
    with FakeAPI() as api:
        api.queue("POST", "/v1/chat/completions", status=429, headers={"retry-after": "0"})  # the first call waits...
        with client(transport, cassette_for(tmp_path, transport), api.base_url) as c:
            c.create_chat_completion(USER, max_retries=1)  # ...and is retried
            recorded = conversation(c)
    data = (tmp_path / "c.yaml").read_text()
    assert "version: 1" in data
    with client(transport, cassette_for(tmp_path, transport, "replay"), DEAD_URL) as c:
        c.create_chat_completion(USER, max_retries=1)  # the 429 replays, and the retry replays the 200
        replayed = conversation(c)
    assert replayed == recorded
    assert len(recorded["events"]) > 3 and recorded["tool_reply"] == "Tool result: 5"


def test_a_stream_replays_in_the_same_pieces(transport, tmp_path) -> None:
    cassette = cassette_for(tmp_path, transport)
    with FakeAPI() as api:
        events = [{"choices": [{"index": 0, "delta": {"content": w}, "finish_reason": f}]}
                  for w, f in (("a", None), ("b", None), ("c", "stop"))]
        api.queue("POST", "/v1/chat/completions", events=[*events, "data: [DONE]\n\n"], chunk_size=7, interval=0.01)
        with client(transport, cassette, api.base_url) as c:
            with c.create_chat_completion(USER, stream=True) as stream:
                recorded = [chunk.raw for chunk in stream]
    chunks = cassette.interactions[0]["response"]["chunks"]
    assert len(chunks) > 1 and "".join(chunks).endswith("data: [DONE]\n\n")  # the pieces, not one blob
    replaying = cassette_for(tmp_path, transport, "replay")
    from llmplug.core.http import Request

    direct = Cassette(tmp_path / "c.yaml", "replay").transport_for(False, lambda name: None)
    sent = Request("POST", DEAD_URL + "/chat/completions", {"Content-Type": "application/json"},
                   json.dumps({"messages": USER, "model": "gpt-4.1", "stream": True}).encode())
    assert [piece.decode() for piece in direct.send(sent).stream] == chunks  # the same pieces, in order
    with client(transport, replaying, DEAD_URL) as c:
        with c.create_chat_completion(USER, stream=True) as stream:
            assert [chunk.raw for chunk in stream] == recorded


def test_gemini_native_records_and_replays(transport, tmp_path) -> None:
    with FakeAPI() as api:
        gemini_service(api).script_reply([{"text": "Thinking...", "thought": True}, {"text": "Forty-two."}])
        with client(transport, cassette_for(tmp_path, transport), api.url + "/v1beta", "gemini") as c:
            recorded = [c.create_chat_completion(USER).body.raw, c.models().body.ids]
    text = (tmp_path / "c.yaml").read_text()
    assert "x-goog-api-key" not in text.lower() and TEST_KEY not in text
    with client(transport, cassette_for(tmp_path, transport, "replay"), "http://127.0.0.1:9/v1beta", "gemini") as c:
        assert [c.create_chat_completion(USER).body.raw, c.models().body.ids] == recorded


def test_no_secret_reaches_the_cassette(transport, tmp_path) -> None:
    with FakeAPI() as api:
        with client(transport, cassette_for(tmp_path, transport, name="c.json"), api.base_url) as c:
            c.create_chat_completion([{"role": "user", "content": f"my key is {TEST_KEY}, keep it"}])
            c.models()
    raw = (tmp_path / "c.json").read_bytes()
    assert TEST_KEY.encode() not in raw and b"authorization" not in raw.lower()
    assert b"[REDACTED]" in raw  # the key in the body was replaced, not dropped
    with client(transport, cassette_for(tmp_path, transport, "replay", name="c.json"), DEAD_URL) as c:
        assert "[REDACTED]" in c.create_chat_completion([{"role": "user", "content": f"my key is {TEST_KEY}, keep it"}]).body.content


def test_a_redact_hook_and_the_json_format(tmp_path) -> None:
    def hide_user(interaction: dict[str, Any]) -> dict[str, Any]:
        body = interaction["request"].get("body") or {}
        if "json" in body and "user" in body["json"]:
            body["json"]["user"] = "someone"
        return interaction

    cassette = Cassette(tmp_path / "c.json", redact=hide_user)
    with FakeAPI() as api:
        with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=cassette) as c:
            c.create_chat_completion(USER, user="ann@example.com")
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["version"] == 1 and list(data["interactions"][0]) == ["request", "response"]
    assert data["interactions"][0]["request"]["body"]["json"]["user"] == "someone"
    assert "ann@example.com" not in (tmp_path / "c.json").read_text()
    with llmplug.new("openai", api_key=TEST_KEY, base_url=DEAD_URL,
                     transport=Cassette(tmp_path / "c.json", "replay", redact=hide_user)) as c:
        assert c.create_chat_completion(USER, user="ann@example.com").body.content == "You said: Hello there"


def test_an_unmatched_request_names_the_nearest_with_a_diff(tmp_path) -> None:
    with FakeAPI() as api:
        with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=Cassette(tmp_path / "c.yaml")) as c:
            c.create_chat_completion(USER, temperature=0.2)
    with llmplug.new("openai", api_key=TEST_KEY, base_url=DEAD_URL, transport=Cassette(tmp_path / "c.yaml", "replay")) as c:
        with pytest.raises(CassetteError) as caught:
            c.create_chat_completion(USER, temperature=0.9)
    message = str(caught.value)
    assert "nearest recording is #0" in message and "POST" in message
    assert '-  "temperature": 0.2' in message and '+  "temperature": 0.9' in message


def test_repeated_requests_replay_in_order_and_modes(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    with FakeAPI() as api:
        for answer in ("first", "second"):
            api.queue("POST", "/v1/chat/completions", json={
                "id": answer, "object": "chat.completion", "created": 0, "model": "m",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}]})
        with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=Cassette(path)) as c:
            assert [c.create_chat_completion(USER).body.content for _ in range(2)] == ["first", "second"]
        # "once" with a file replays it: the server is not asked again
        before = len(api.requests)
        with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=Cassette(path, "once")) as c:
            assert [c.create_chat_completion(USER).body.content for _ in range(2)] == ["first", "second"]
            with pytest.raises(CassetteError, match=r"2 of 2 already played"):
                c.create_chat_completion(USER)
        assert len(api.requests) == before
        # "record" sends again and writes the file anew
        with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=Cassette(path, "record")) as c:
            assert c.create_chat_completion(USER).body.content == "You said: Hello there"
        assert len(Cassette(path, "replay").interactions) == 1
    with pytest.raises(CassetteError, match="no cassette"):
        Cassette(tmp_path / "missing.yaml", "none")
    with pytest.raises(llmplug.ConfigurationError, match="mode"):
        Cassette(path, "sometimes")


def test_a_transport_error_replays(transport, tmp_path) -> None:
    with client(transport, cassette_for(tmp_path, transport), DEAD_URL) as c:
        with pytest.raises(llmplug.APIConnectionError) as recorded:
            c.models()
    with client(transport, cassette_for(tmp_path, transport, "replay"), DEAD_URL) as c:
        with pytest.raises(llmplug.APIConnectionError) as replayed:
            c.models()
    assert type(replayed.value) is type(recorded.value)


def test_client_map_and_a_password_in_the_url(tmp_path) -> None:
    calls = [llmplug.call("chat.create", messages=[{"role": "user", "content": f"Q{i}"}]) for i in range(5)]
    with FakeAPI() as api:
        url = api.base_url.replace("http://", "http://user:hunter2-pass@")
        with llmplug.new("openai", api_key=TEST_KEY, base_url=url, transport=Cassette(tmp_path / "m.yaml", inner="urllib")) as c:
            recorded = [r.body.content for r in c.map(calls, concurrency=2)]  # the async twin records into the same file
    assert "hunter2" not in (tmp_path / "m.yaml").read_text()
    with llmplug.new("openai", api_key=TEST_KEY, base_url=DEAD_URL, transport=Cassette(tmp_path / "m.yaml", "replay")) as c:
        assert [r.body.content for r in c.map(calls, concurrency=2)] == recorded == [f"You said: Q{i}" for i in range(5)]


def test_the_pytest_plugin(tmp_path) -> None:
    import subprocess
    import sys

    (tmp_path / "conftest.py").write_text('pytest_plugins = ["llmplug.testing.pytest_plugin"]\n')
    (tmp_path / "test_user.py").write_text(
        "import llmplug, pytest\n"
        "from llmplug.testing import FakeAPI\n\n"
        "def test_chat(llmplug_cassette, fake_api):\n"
        "    url = fake_api.base_url if llmplug_cassette.recording else 'http://127.0.0.1:9/v1'\n"
        "    with llmplug.new('openai', api_key='sk-test-key-123456', base_url=url, transport=llmplug_cassette) as c:\n"
        "        assert c.chat([{'role': 'user', 'content': 'hi'}]).body.content == 'You said: hi'\n\n"
        "@pytest.mark.llmplug_cassette(mode='once', name='shared')\n"
        "def test_marked(llmplug_cassette):\n"
        "    assert llmplug_cassette.path.name.startswith('shared.')\n\n"
        "class TestGroup:\n"
        "    def test_chat(self, llmplug_cassette):\n"
        "        assert llmplug_cassette.path.stem == 'TestGroup__test_chat'\n"
    )
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)]
    first = subprocess.run([*run, "--llmplug-record=once"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert first.returncode == 0, first.stdout + first.stderr
    recorded = list((tmp_path / "cassettes" / "test_user").glob("test_chat.*"))
    assert len(recorded) == 1 and "sk-test-key-123456" not in recorded[0].read_text()
    assert (tmp_path / "cassettes" / "test_user" / "shared.yaml").exists()  # sent nothing: an empty cassette, replayable
    again = subprocess.run(run, capture_output=True, text=True, cwd=tmp_path, timeout=120)  # default: replay only
    assert again.returncode == 0, again.stdout + again.stderr
    recorded[0].unlink()
    missing = subprocess.run([*run, "-k", "test_chat"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert missing.returncode != 0 and "no cassette" in missing.stdout
