"""ChatSession against the fake API over real sockets, through every transport:
Lua's behaviour, its faults fixed, and the tool loop and save/resume."""

from __future__ import annotations

import json

import pytest

import llmplug
from tests.async_bridge import session_classes, unwrap
from llmplug.core.convert import structure
from llmplug.core.models import ChatMessage, TextChunk, ToolCallDelta
from llmplug.sessions import ChatSession, InvalidMessageError, ResponsesChatSession, tool_declaration
from llmplug.testing.openai_api import REFUSAL
from tests.conftest import TEST_KEY
from tests.sessions.support import Recorder

SYSTEM = {"role": "system", "content": "You are an artist who likes colors"}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ADD_FUNCTION = {
    "name": "add",
    "description": "Add two numbers",
    "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}},
}
DONE = "data: [DONE]\n\n"
CHAT = ("POST", "/v1/chat/completions")


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def assistant(text: str | None) -> dict:
    return {"role": "assistant", "content": text}


def chunk(delta: dict | None = None, finish: str | None = None, index: int = 0, *, obj: bool = True, **extra) -> dict:
    """One scripted chat.completion.chunk (``obj=False`` drops the "object" field, as Ollama does)."""
    data = {"id": "chatcmpl-1", "created": 1, "model": "gpt-4.1"}
    if obj:
        data["object"] = "chat.completion.chunk"
    data["choices"] = [{"index": index, "delta": delta or {}, "finish_reason": finish}]
    data.update(extra)
    return data


def completion(message: dict, finish: str = "stop") -> dict:
    """One scripted non-streamed chat completion."""
    return {
        "id": "chatcmpl-2",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4.1",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }


def tool_call_message(*calls: tuple[str, str, str]) -> dict:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}} for cid, name, args in calls
        ],
    }


# ---------------------------------------------------------------- construction


def test_sessions_are_registered_and_built_both_ways(client):
    assert llmplug.Client.session_classes["chat"] is ChatSession is llmplug.ChatSession
    assert llmplug.Client.session_classes["responses"] is ResponsesChatSession is llmplug.ResponsesChatSession
    chat, _ = session_classes(client)  # the async sessions, for an async client
    cls = getattr(chat, "cls", chat)
    made = client.new_chat_session(model="gpt-4o", messages=[SYSTEM])
    direct = chat(client, model="gpt-4o", messages=[SYSTEM])
    assert type(unwrap(made)) is cls and unwrap(made).client is getattr(client, "client", client)
    assert made.messages == direct.messages == [SYSTEM]
    assert made.model == direct.model == "gpt-4o"
    assert repr(made) == f"<{cls.__name__} model='gpt-4o' messages=1>"
    with pytest.raises(TypeError, match="needs (a sync|an async) client"):
        (ChatSession if cls is not ChatSession else llmplug.AsyncChatSession)(getattr(client, "client", client))
    with pytest.raises(TypeError, match="needs an llmplug client"):
        ChatSession(object())


def test_initial_messages_are_copied_and_checked(client):
    initial = [SYSTEM]
    session = client.new_chat_session(messages=initial)
    session.append_message(user("hi"))
    assert initial == [SYSTEM]  # the caller's list is not the history
    with pytest.raises(InvalidMessageError, match=r"messages\[1\] has role 'bot'"):
        client.new_chat_session(messages=[SYSTEM, {"role": "bot", "content": "x"}])
    with pytest.raises(InvalidMessageError, match="messages must be a list"):
        client.new_chat_session(messages="hello")


# ---------------------------------------------------------------- Lua behaviour: send and history


def test_send_returns_text_and_keeps_history(client, api):
    session = client.new_chat_session(messages=[SYSTEM])
    assert session.send("List your top 5 favorite colors") == "You said: List your top 5 favorite colors"
    assert api.last_request.json == {"model": "gpt-4.1", "messages": [SYSTEM, user("List your top 5 favorite colors")]}
    assert session.messages == [
        SYSTEM,
        user("List your top 5 favorite colors"),
        assistant("You said: List your top 5 favorite colors"),
    ]
    assert session.last_finish_reason == "stop"
    assert session.last_usage.total_tokens == session.last_completion.usage.total_tokens > 0

    assert session.send("Now your favorite") == "You said: Now your favorite"
    assert api.last_request.json["messages"] == [
        SYSTEM,
        user("List your top 5 favorite colors"),
        assistant("You said: List your top 5 favorite colors"),
        user("Now your favorite"),
    ]
    assert session.last_message() == assistant("You said: Now your favorite")
    assert len(session.messages) == 5
    assert len(api.requests) == 2


def test_every_session_option_and_any_other_parameter_is_sent(client, api):
    session = client.new_chat_session(
        model="gpt-4.1-mini",
        temperature=0.25,
        response_format={"type": "text"},
        tools=[WEATHER],
        tool_choice="none",
        parallel_tool_calls=False,
        functions=[ADD_FUNCTION],
        function_call="none",
        seed=7,
        max_completion_tokens=50,
        user="u-1",
    )
    assert session.send("Hello") == "You said: Hello"
    assert api.last_request.json == {
        "model": "gpt-4.1-mini",
        "temperature": 0.25,
        "response_format": {"type": "text"},
        "tools": [WEATHER],
        "tool_choice": "none",
        "parallel_tool_calls": False,
        "functions": [ADD_FUNCTION],
        "function_call": "none",
        "seed": 7,
        "max_completion_tokens": 50,
        "user": "u-1",
        "messages": [user("Hello")],
    }
    assert session.params == {"seed": 7, "max_completion_tokens": 50, "user": "u-1"}


def test_per_request_overrides_win_and_none_unsets(client, api):
    session = client.new_chat_session(model="gpt-4.1-mini", temperature=0.5, seed=1)
    session.send("one", model="gpt-4o", temperature=0, seed=2, top_p=0.9)
    assert api.last_request.json == {
        "model": "gpt-4o", "temperature": 0, "seed": 2, "top_p": 0.9, "messages": [user("one")],
    }
    session.send("two")  # overrides were for one request only
    assert {k: v for k, v in api.last_request.json.items() if k != "messages"} == {
        "model": "gpt-4.1-mini", "temperature": 0.5, "seed": 1,
    }
    session.send("three", temperature=None)
    assert "temperature" not in api.last_request.json
    # Lua style: a dict in the options slot is options.
    session.send("four", {"temperature": 0.9, "seed": 3}, seed=4)
    assert api.last_request.json["temperature"] == 0.9 and api.last_request.json["seed"] == 4
    session.append_message(user("five"))
    assert session.generate_response(True, {"max_tokens": 2}) == "You said:"
    assert api.last_request.json["max_tokens"] == 2
    assert session.last_finish_reason == "length"


def test_options_are_attributes_changed_between_calls(client, api):
    session = client.new_chat_session()
    session.functions = [ADD_FUNCTION]
    session.temperature = 1
    session.params["seed"] = 5
    session.send("hi")
    assert api.last_request.json == {
        "model": "gpt-4.1", "temperature": 1, "functions": [ADD_FUNCTION], "seed": 5, "messages": [user("hi")],
    }


def test_generate_response_append_false(client, api):
    session = client.new_chat_session(messages=[SYSTEM, user("Hello")])
    assert session.generate_response(False) == "You said: Hello"
    assert session.messages == [SYSTEM, user("Hello")]
    assert session.generate_response() == "You said: Hello"
    assert session.messages == [SYSTEM, user("Hello"), assistant("You said: Hello")]
    assert [r.json["messages"] for r in api.requests] == [[SYSTEM, user("Hello")]] * 2


def test_generate_response_on_empty_history_says_what_to_do(client, api):
    with pytest.raises(llmplug.ConfigurationError, match="no messages: send"):
        client.new_chat_session().generate_response()
    assert api.requests == []


def test_developer_role_and_content_parts_are_accepted(client, api):
    developer = {"role": "developer", "content": "Answer briefly"}
    session = client.new_chat_session(messages=[developer])
    parts = {"role": "user", "content": [{"type": "text", "text": "Look at this"}]}
    assert session.send(parts) == "You said: Look at this"
    assert api.last_request.json["messages"] == [developer, parts]


# ---------------------------------------------------------------- message validation


@pytest.mark.parametrize(
    "message, error",
    [
        ("hello", "the message must be a dict such as {'role': 'user', 'content': 'Hi'}, not str"),
        ({"content": "x"}, "the message has no 'role'; the role must be one of: system, developer, user, assistant, tool, function"),
        ({"role": "robot", "content": "x"}, "the message has role 'robot'; the role must be one of"),
        ({"role": "user", "content": 5}, "'content' must be a string, None or a list of content parts, not int"),
        ({"role": "user"}, "the message (role 'user') needs 'content': a string or a list of content parts"),
        ({"role": "system", "content": None}, "the message (role 'system') needs 'content'"),
        ({"role": "user", "content": ["hi"]}, "content part 0 must be a dict with a 'type'"),
        ({"role": "tool", "content": "42"}, "the message (role 'tool') needs 'tool_call_id': the id of the tool call it answers"),
        ({"role": "function", "content": "42"}, "the message (role 'function') needs 'name'"),
        ({"role": "user", "content": "x", "name": 3}, "'name' must be a string, not int"),
        ({"role": "assistant", "content": None, "tool_calls": "x"}, "'tool_calls' must be a list of tool call dicts"),
    ],
)
def test_append_message_says_what_is_wrong(api, message, error):
    session = ChatSession(llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url), messages=[SYSTEM])
    with pytest.raises(InvalidMessageError) as info:
        session.append_message(message)
    assert error in str(info.value)
    assert isinstance(info.value, llmplug.ConfigurationError) and isinstance(info.value, ValueError)
    if not isinstance(message, str):  # a string is a valid user message for send()
        with pytest.raises(InvalidMessageError, match="role|content|name|tool"):
            session.send(message)
    assert session.messages == [SYSTEM]
    assert api.requests == []


def test_append_message_is_all_or_nothing(client):
    session = client.new_chat_session()
    with pytest.raises(InvalidMessageError, match=r"message 2 of 3 \(role 'tool'\) needs 'tool_call_id'"):
        session.append_message(user("a"), {"role": "tool", "content": "x"}, user("c"))
    assert session.messages == []
    assert session.last_message() is None
    valid = [
        {"role": "developer", "content": "d"},
        user("u"),
        tool_call_message(("call_1", "f", "{}")),
        {"role": "tool", "tool_call_id": "call_1", "content": "r"},
        {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        {"role": "function", "name": "f", "content": None},
    ]
    session.append_message(*valid)
    assert session.messages == valid
    assert session.last_message() == valid[-1]


def test_models_are_accepted_as_messages(client, api):
    api.queue(*CHAT, json=completion(tool_call_message(("call_1", "add", '{"a": 1}'))))
    _, body, _ = client.create_chat_completion([user("add")])
    reply = body.choices[0].message
    session = client.new_chat_session(messages=[user("add"), reply])
    session.append_message(body.choices[0].message, {"role": "tool", "tool_call_id": "call_1", "content": "2"})
    expected = body.raw["choices"][0]["message"]
    assert session.messages[1] == session.messages[2] == expected
    assert type(session.messages[1]) is dict and session.messages[1] is not expected
    session.messages[1]["tool_calls"][0]["id"] = "changed"
    assert reply.raw["tool_calls"][0]["id"] == "call_1"  # a copy, not the model's JSON
    with pytest.raises(InvalidMessageError, match="the message has role 'bot'"):
        session.append_message(structure({"role": "bot", "content": "x"}, ChatMessage))
    with pytest.raises(InvalidMessageError, match=r"the message must be a dict .*, not ChatMessage \(whose JSON is a list\)"):
        session.append_message(structure(["x"], ChatMessage))
    with pytest.raises(InvalidMessageError, match="messages must be a list"):
        client.new_chat_session(messages=body)
    assert session.send(structure(user("Hi"), ChatMessage)) == "You said: Hi"
    assert api.last_request.json["messages"][-1] == user("Hi")


# ---------------------------------------------------------------- refusals


def test_a_refusal_is_appended_as_sent_streamed_or_not_and_the_next_request_is_accepted(client, api):
    histories = []
    for rec in (None, Recorder()):
        session = client.new_chat_session()
        assert session.send("How do I build a bomb?", rec) is None
        refused = {"role": "assistant", "content": None, "refusal": REFUSAL}
        assert session.messages == [user("How do I build a bomb?"), refused]
        assert session.last_finish_reason == "stop"
        if rec is not None:
            assert rec.refusal == REFUSAL and rec.text == ""
            assert all(c.refusal and c.content == "" and c.index == 0 for c, _ in rec.calls)
        assert session.send("Then say hi", rec) == "You said: Then say hi"  # the fake checks the refusal it gets back
        assert api.last_request.json["messages"][1] == refused
        histories.append(session.messages)
    assert histories[0] == histories[1]


# ---------------------------------------------------------------- tool and function round trips


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_tool_round_trip(client, api, stream):
    session = client.new_chat_session(tools=[WEATHER])
    rec = Recorder() if stream else None
    reply = session.send('Use get_weather {"city": "Paris"}', rec)
    call_id = reply["tool_calls"][0]["id"]
    assert call_id.startswith("call_")
    assert reply == tool_call_message((call_id, "get_weather", '{"city": "Paris"}'))
    assert reply["content"] is None  # a null content stays null
    assert session.messages == [user('Use get_weather {"city": "Paris"}'), reply]
    assert session.last_finish_reason == "tool_calls"
    if stream:
        tool_chunks = [c for c, _ in rec.calls if c.tool_calls]
        assert tool_chunks and all(str(c) == "" and c.content == "" for c in tool_chunks)
        assert all(isinstance(d, ToolCallDelta) for c in tool_chunks for d in c.tool_calls)
        assert "".join(c.tool_calls[0].function.arguments or "" for c in tool_chunks) == '{"city": "Paris"}'
        assert api.last_request.json["stream"] is True

    result = {"role": "tool", "tool_call_id": call_id, "content": "18C and sunny"}
    assert session.send(result, rec) == "Tool result: 18C and sunny"
    expected = [user('Use get_weather {"city": "Paris"}'), reply, result]
    assert api.last_request.json["messages"] == expected
    assert api.last_request.json["tools"] == [WEATHER]
    assert session.messages == [*expected, assistant("Tool result: 18C and sunny")]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_legacy_function_round_trip(client, api, stream):
    session = client.new_chat_session(functions=[ADD_FUNCTION])
    rec = Recorder() if stream else None
    reply = session.send('Using add, compute {"a": 2923, "b": 20839}', rec)
    assert reply == {
        "role": "assistant",
        "content": None,
        "function_call": {"name": "add", "arguments": '{"a": 2923, "b": 20839}'},
    }
    assert session.last_finish_reason == "function_call"
    args = json.loads(reply["function_call"]["arguments"])
    answer = {"role": "function", "name": "add", "content": json.dumps(args["a"] + args["b"])}
    assert session.send(answer, rec) == "Tool result: 23762"
    assert api.last_request.json["messages"] == [user('Using add, compute {"a": 2923, "b": 20839}'), reply, answer]
    assert api.last_request.json["functions"] == [ADD_FUNCTION]
    assert session.last_message() == assistant("Tool result: 23762")


# ---------------------------------------------------------------- streaming


def test_streaming_callback_gets_chunks_and_raw_events(client, api):
    session = client.new_chat_session(messages=[SYSTEM])
    rec = Recorder()
    assert session.send("Tell me a story", rec) == "You said: Tell me a story"
    assert rec.text == "You said: Tell me a story"
    assert [str(c) for c, _ in rec.calls] == ["You", " said:", " Tell", " me", " a", " story"]
    for chunk, raw in rec.calls:
        assert isinstance(chunk, TextChunk) and chunk.index == 0 and chunk.tool_calls is None
        assert raw["object"] == "chat.completion.chunk"
        assert raw["choices"][0]["delta"]["content"] == chunk.content == str(chunk)
    assert api.last_request.json == {
        "model": "gpt-4.1", "stream": True, "messages": [SYSTEM, user("Tell me a story")],
        "stream_options": {"include_usage": True},  # a streaming session asks for usage itself
    }
    assert session.messages[-1] == assistant("You said: Tell me a story")
    assert session.last_finish_reason == "stop"
    assert session.last_usage is not None and session.last_usage.total_tokens > 0


def test_the_users_stream_options_win(client, api):
    session = client.new_chat_session(stream_options={"include_usage": False})
    session.send("Hi", Recorder())
    assert api.last_request.json["stream_options"] == {"include_usage": False}
    assert session.last_usage is None  # not asked for
    session.send("Hi again")  # not streamed: no stream_options
    assert "stream_options" not in api.last_request.json


def test_stream_usage_is_kept_and_stream_options_only_sent_when_streaming(client, api):
    session = client.new_chat_session(stream_options={"include_usage": True})
    session.send("Count these four words", Recorder())
    assert api.last_request.json["stream_options"] == {"include_usage": True}
    assert session.last_usage.completion_tokens == 6
    assert session.last_usage.total_tokens == 10
    assert session.send("plain") == "You said: plain"  # the API rejects stream_options without stream
    assert "stream_options" not in api.last_request.json and "stream" not in api.last_request.json


def test_stream_true_without_callback_still_returns_the_reply(client, api):
    session = client.new_chat_session()
    assert session.send("hi", stream=True) == "You said: hi"
    assert api.last_request.json["stream"] is True
    assert session.messages == [user("hi"), assistant("You said: hi")]


def test_lua_function_in_place_of_opts_is_the_callback(client, api):
    session = client.new_chat_session()
    seen = []
    assert session.send("hey", lambda chunk, raw: seen.append(str(chunk))) == "You said: hey"
    assert "".join(seen) == "You said: hey"
    session.append_message(user("again"))
    seen.clear()
    assert session.generate_response(True, lambda chunk, raw: seen.append(str(chunk))) == "You said: again"
    assert "".join(seen) == "You said: again"
    assert api.last_request.json["stream"] is True
    with pytest.raises(TypeError, match="stream callback or a dict"):
        session.send("x", 42)


def test_stream_quirks_of_real_servers_are_assembled(client, api):
    """No "object" field, ``"tool_calls": null``, index-less tool deltas, an empty
    id, provider extras and a usage-only chunk: nothing is dropped or crashes."""
    usage = {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}
    api.queue(*CHAT, events=[
        chunk({"role": "assistant", "content": ""}, obj=False),
        chunk({"content": "Hel", "tool_calls": None}, obj=False),
        chunk({"content": "lo"}),
        chunk({"tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "a", "arguments": '{"x"'}}]}),
        chunk({"tool_calls": [{"id": "", "function": {"arguments": ":1}"}}]}),
        chunk({"tool_calls": [{"id": "call_2", "type": "function", "extra_content": {"google": {"thought_signature": "sig"}},
                               "function": {"name": "b", "arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
        {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4.1", "choices": [], "usage": usage},
        DONE,
    ])
    session = client.new_chat_session()
    rec = Recorder()
    reply = session.send("go", rec)
    assert reply == {
        "role": "assistant",
        "content": "Hello",
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": '{"x":1}'}},
            {"id": "call_2", "type": "function", "extra_content": {"google": {"thought_signature": "sig"}},
             "function": {"name": "b", "arguments": "{}"}},
        ],
    }
    assert session.messages == [user("go"), reply]
    assert rec.text == "Hello"
    assert [c.content for c, _ in rec.calls] == ["Hel", "lo", "", "", ""]
    assert "object" not in rec.calls[0][1]
    assert session.last_usage.total_tokens == 10
    assert session.last_finish_reason == "tool_calls"


def test_stream_empty_id_on_a_continuation_keeps_the_first_id(client, api):
    api.queue(*CHAT, events=[
        chunk({"role": "assistant", "content": None}),
        chunk({"tool_calls": [{"index": 0, "id": "call_9", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "id": "", "type": "", "function": {"arguments": "{}"}}]}),
        chunk({}, "tool_calls"),
        DONE,
    ])
    session = client.new_chat_session()
    assert session.send("go", Recorder()) == tool_call_message(("call_9", "f", "{}"))


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_session_follows_choice_zero(client, api, stream):
    session = client.new_chat_session()
    rec = Recorder() if stream else None
    assert session.send("hi", rec, n=2) == "You said: hi"
    assert session.messages == [user("hi"), assistant("You said: hi")]
    assert len(session.last_completion.choices) == 2
    if stream:
        assert {c.index for c, _ in rec.calls} == {0, 1}
        assert "".join(str(c) for c, _ in rec.calls if c.index == 1) == "You said: hi (choice 1)"


# ---------------------------------------------------------------- failures leave the session as it was


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_status_error_carries_the_server_message_and_changes_nothing(client, api, stream):
    session = client.new_chat_session(messages=[SYSTEM])
    session.send("first")
    before = list(session.messages)
    completion_before = session.last_completion
    api.queue(*CHAT, status=400, json={"error": {"message": "Invalid value for 'temperature'", "type": "invalid_request_error",
                                                 "param": "temperature", "code": None}})
    with pytest.raises(llmplug.BadRequestError) as info:
        session.send("second", Recorder() if stream else None, temperature=9)
    assert info.value.status_code == 400
    assert "Invalid value for 'temperature'" in str(info.value)
    assert session.messages == before
    assert session.last_completion is completion_before


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_lua_style_client_without_raise_still_raises_typed_errors(api, transport, stream):
    lua_client = llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport,
                             raise_for_status=False, max_retries=0)
    session = lua_client.new_chat_session()
    api.queue(*CHAT, status=429, json={"error": {"message": "Slow down", "type": "requests", "code": "rate_limit_exceeded"}})
    with pytest.raises(llmplug.RateLimitError) as info:
        session.send("hi", Recorder() if stream else None)
    assert info.value.status_code == 429
    assert "Slow down" in str(info.value) and "rate_limit_exceeded" in str(info.value)
    assert info.value.request_id.startswith("req_")
    assert session.messages == []
    lua_client.close()


def test_stream_error_event_raises_with_what_was_received(client, api):
    api.queue(*CHAT, events=[
        chunk({"role": "assistant", "content": "Par"}),
        chunk({"content": "tial"}),
        {"error": {"message": "The server is overloaded", "type": "server_error"}},
    ])
    session = client.new_chat_session()
    with pytest.raises(llmplug.StreamError) as info:
        session.send("hi", Recorder())
    assert "The server is overloaded" in str(info.value)
    assert info.value.received == "Partial"
    assert session.messages == [] and session.last_completion is None


def test_truncated_stream_raises_and_changes_nothing(client, api):
    api.queue(*CHAT, events=[chunk({"role": "assistant", "content": "Hi"}), chunk({"content": " there"})])
    session = client.new_chat_session(messages=[SYSTEM])
    rec = Recorder()
    with pytest.raises(llmplug.StreamError, match="ended before it was complete") as info:
        session.send("hi", rec)
    assert info.value.received == "Hi there" == rec.text
    assert session.messages == [SYSTEM]


def test_callback_error_propagates_and_changes_nothing(client, api):
    def broken(chunk, raw):
        raise KeyError("callback bug")

    session = client.new_chat_session()
    with pytest.raises(KeyError, match="callback bug"):
        session.send("hi", broken)
    assert session.messages == []


def test_bodies_that_are_not_completions_raise(client, api):
    session = client.new_chat_session()
    api.queue(*CHAT, body="<html>proxy error</html>", content_type="text/html")
    with pytest.raises(llmplug.APIResponseValidationError, match="proxy error"):
        session.send("hi")
    api.queue(*CHAT, json={"id": "x", "object": "chat.completion", "choices": []})
    with pytest.raises(llmplug.APIResponseValidationError, match="no choices"):
        session.send("hi")
    assert session.messages == []


# ---------------------------------------------------------------- beyond Lua: the tool loop


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_run_executes_tool_calls_until_a_text_reply(client, api, stream):
    session = client.new_chat_session(messages=[SYSTEM])
    rec = Recorder() if stream else None
    assert session.run('Please add {"a": 2, "b": 3}', {"add": add}, stream_callback=rec) == "Tool result: 5"
    call_id = session.messages[2]["tool_calls"][0]["id"]
    assert session.messages == [
        SYSTEM,
        user('Please add {"a": 2, "b": 3}'),
        tool_call_message((call_id, "add", '{"a": 2, "b": 3}')),
        {"role": "tool", "tool_call_id": call_id, "content": "5"},
        assistant("Tool result: 5"),
    ]
    declaration = {  # typed: declared strict for OpenAI
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers.",
            "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                           "required": ["a", "b"], "additionalProperties": False},
            "strict": True,
        },
    }
    assert len(api.requests) == 2
    assert all(r.json["tools"] == [declaration] for r in api.requests)
    assert api.requests[1].json["messages"] == session.messages[:4]
    assert session.tools is None  # declarations were per request
    if stream:
        assert rec.text == "Tool result: 5"


def test_run_reports_tool_errors_and_unknown_tools_to_the_model(client, api):
    def boom(**kwargs):
        raise RuntimeError("kaput")

    declared = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}} for name in ("add", "boom", "search")
    ]
    session = client.new_chat_session(tools=declared)
    reply = session.run('add, boom and search {"a": 1, "b": 2}', [add, boom])
    results = session.messages[2:5]
    assert [(m["role"], m["content"]) for m in results] == [
        ("tool", "3"),
        ("tool", "Error: RuntimeError: kaput"),
        ("tool", "Error: unknown tool 'search'; available tools: add, boom"),
    ]
    assert [m["tool_call_id"] for m in results] == [c["id"] for c in session.messages[1]["tool_calls"]]
    assert reply == "Tool result: Error: unknown tool 'search'; available tools: add, boom"
    assert all(r.json["tools"] == declared for r in api.requests)  # the session's own declarations


def test_run_reports_bad_arguments(client, api):
    api.queue(*CHAT, json=completion(tool_call_message(("c1", "add", "{not json"), ("c2", "add", "[1, 2]"),
                                                       ("c3", "add", '{"a": 1}')), "tool_calls"))
    session = client.new_chat_session()
    assert session.run("go", {"add": add}).startswith("Tool result: Error: invalid arguments for 'add'")
    contents = [m["content"] for m in session.messages if m["role"] == "tool"]
    bad = "Error: invalid arguments for 'add': "
    assert contents[0].startswith(bad + "the arguments are not valid JSON (") and contents[0].endswith("'{not json'")
    assert contents[1] == bad + "the arguments must be a JSON object, not [1, 2]"
    assert contents[2] == bad + "missing required argument @ $.b"


def test_run_stops_at_max_turns(client, api):
    api.queue(*CHAT, json=completion(tool_call_message(("c1", "add", '{"a": 1, "b": 1}')), "tool_calls"), times=2)
    session = client.new_chat_session()
    reply = session.run("go", {"add": add}, max_turns=2)
    assert reply == tool_call_message(("c1", "add", '{"a": 1, "b": 1}'))
    assert len(api.requests) == 2
    assert [m["role"] for m in session.messages] == ["user", "assistant", "tool", "assistant"]
    assert session.last_message() == reply
    with pytest.raises(llmplug.ConfigurationError, match="max_turns must be a whole number >= 1"):
        session.run("go", {"add": add}, max_turns=0)
    with pytest.raises(llmplug.ConfigurationError, match="cannot name"):
        session.run("go", [lambda: 1])
    assert len(api.requests) == 2


def test_run_answers_legacy_function_calls(client, api):
    session = client.new_chat_session(functions=[ADD_FUNCTION])
    assert session.run('add {"a": 4, "b": 5}', {"add": add}) == "Tool result: 9"
    assert session.messages[2] == {"role": "function", "name": "add", "content": "9"}
    assert "tools" not in api.requests[0].json  # functions declared: no tool declarations added


def test_run_failure_leaves_the_session_as_before(client, api):
    calls = []

    def record(a: int, b: int) -> str:
        calls.append((a, b))
        return "ok"

    session = client.new_chat_session(messages=[SYSTEM])
    api.queue(*CHAT, json=completion(tool_call_message(("c1", "record", '{"a": 1, "b": 2}')), "tool_calls"))
    api.queue(*CHAT, status=500)
    with pytest.raises(llmplug.InternalServerError):
        session.run("go", {"record": record})
    assert calls == [(1, 2)]
    assert session.messages == [SYSTEM]
    assert session.last_completion is None


def test_run_with_none_continues_the_history(client, api):
    session = client.new_chat_session(messages=[user('add {"a": 1, "b": 2}')])
    assert session.run(None, {"add": add}) == "Tool result: 3"
    assert len(session.messages) == 4


def test_run_with_none_answers_pending_tool_calls_first(client, api):
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    session = client.new_chat_session(tools=tools)
    pending = session.send('add {"a": 4, "b": 5}')
    assert isinstance(pending, dict) and pending["tool_calls"]
    sent_before = len(api.requests)
    assert session.run(None, {"add": add}) == "Tool result: 9"
    assert [m["role"] for m in session.messages] == ["user", "assistant", "tool", "assistant"]
    assert len(api.requests) == sent_before + 1
    assert api.last_request.json["messages"][-1] == {
        "role": "tool", "tool_call_id": pending["tool_calls"][0]["id"], "content": "9",
    }


def test_tool_declaration_from_signature():
    def forecast(city: str, days: int = 1, *args, detailed: bool = False, hours: list[int] = (), **kw) -> str:
        """Forecast for a city."""

    assert tool_declaration("forecast", forecast) == {
        "type": "function",
        "function": {
            "name": "forecast",
            "description": "Forecast for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                               "detailed": {"type": "boolean"}, "hours": {"type": "array", "items": {"type": "integer"}}},
                "required": ["city"],
            },
        },
    }
    assert tool_declaration("anything", lambda x: x)["function"] == {
        "name": "anything", "parameters": {"type": "object", "properties": {"x": {}}, "required": ["x"]},
    }


# ---------------------------------------------------------------- beyond Lua: save and resume


def test_to_dict_and_from_dict_resume_the_conversation(client, api):
    session = client.new_chat_session(messages=[SYSTEM], model="gpt-4.1-mini", temperature=0.5, tools=[WEATHER], seed=3)
    session.send("Hello")
    reply = session.send('get_weather {"city": "Rome"}')
    session.send({"role": "tool", "tool_call_id": reply["tool_calls"][0]["id"], "content": "sunny"})
    data = session.to_dict()
    assert data == {
        "kind": "chat",
        "options": {"model": "gpt-4.1-mini", "temperature": 0.5, "tools": [WEATHER], "seed": 3},
        "messages": session.messages,
    }
    data["messages"].append(user("not in the session"))  # a copy, not the live history
    assert len(session.messages) == 7
    saved = json.loads(json.dumps(session.to_dict()))

    chat, _ = session_classes(client)
    resumed = chat.from_dict(client, saved)
    assert resumed.messages == session.messages and resumed.params == {"seed": 3}
    assert resumed.send("And tomorrow?") == "You said: And tomorrow?"
    assert api.last_request.json == {
        "model": "gpt-4.1-mini", "temperature": 0.5, "tools": [WEATHER], "seed": 3,
        "messages": [*session.messages, user("And tomorrow?")],
    }
    with pytest.raises(llmplug.ConfigurationError, match="cannot resume a 'responses' session as a (Async)?ChatSession"):
        chat.from_dict(client, {"kind": "responses", "options": {}})
