"""ResponsesChatSession against the fake API over real sockets, through every
transport: Lua's behaviour, its faults fixed, and save/resume."""

from __future__ import annotations

import json

import pytest

import llmplug
from tests.async_bridge import session_classes, unwrap
from llmplug.core.convert import structure
from llmplug.core.models import OutputItem, Response, TextChunk
from llmplug.sessions import InvalidMessageError, ResponsesChatSession
from llmplug.testing.openai_api import PNG_B64, REFUSAL
from tests.conftest import TEST_KEY
from tests.sessions.support import Recorder

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
RESPONSES = ("POST", "/v1/responses")


def message_item(text: str) -> dict:
    return {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def response_json(output: list, rid: str = "resp_scripted", status: str = "completed", **extra) -> dict:
    return {"id": rid, "object": "response", "created_at": 1, "status": status, "model": "gpt-4.1",
            "output": output, "usage": {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}, **extra}


def delta(text: str, seq: int) -> dict:
    return {"type": "response.output_text.delta", "sequence_number": seq, "item_id": "msg_1",
            "output_index": 0, "content_index": 0, "delta": text}


def sent(api) -> dict:
    return api.last_request.json


# ---------------------------------------------------------------- Lua behaviour


def test_send_returns_the_response_and_advances(client, api):
    session = client.new_responses_chat_session(instructions="Be brief", tools=[WEATHER])
    _, responses = session_classes(client)
    assert type(unwrap(session)) is getattr(responses, "cls", responses) and session.current_response_id is None
    first = session.send("Hello")
    assert isinstance(first, Response)
    assert first.output_text == first.get_output_text() == str(first) == "You said: Hello"
    assert sent(api) == {"model": "gpt-4.1", "instructions": "Be brief", "tools": [WEATHER], "input": "Hello"}
    assert session.current_response_id == first.id and first.id.startswith("resp_")
    assert session.response_history == [first]

    second = session.send("Again")
    assert second.output_text == "You said: Again"
    assert sent(api) == {"model": "gpt-4.1", "instructions": "Be brief", "tools": [WEATHER],
                         "previous_response_id": first.id, "input": "Again"}
    assert session.current_response_id == second.id != first.id
    assert session.response_history == [first, second]
    name = type(unwrap(session)).__name__
    assert repr(session) == f"<{name} model=None current_response_id={second.id!r} responses=2>"


def test_options_other_parameters_and_per_call_overrides(client, api):
    _, start, _ = client.create_response("Earlier")
    _, responses = session_classes(client)
    session = responses(client, model="gpt-4.1-mini", instructions="Be kind",
                        previous_response_id=start.id, temperature=0.2, store=True)
    session.send("one")
    assert sent(api) == {"model": "gpt-4.1-mini", "instructions": "Be kind", "previous_response_id": start.id,
                         "temperature": 0.2, "store": True, "input": "one"}
    first = session.current_response_id
    session.send("two", model="gpt-4o", instructions="Be loud", temperature=None, max_output_tokens=50)
    assert sent(api) == {"model": "gpt-4o", "instructions": "Be loud", "previous_response_id": first,
                         "store": True, "max_output_tokens": 50, "input": "two"}
    # per-call previous_response_id wins too: branch from the start
    branched = session.send("three", previous_response_id=start.id)
    assert sent(api)["previous_response_id"] == start.id
    assert session.current_response_id == branched.id
    # Lua's create_response(input, opts, callback)
    rec = Recorder()
    response = session.create_response("four", {"temperature": 0.7}, rec)
    assert sent(api)["temperature"] == 0.7 and sent(api)["stream"] is True
    assert rec.text == response.output_text == "You said: four"
    session.tools = [WEATHER]  # options are attributes
    session.send("five")
    assert sent(api)["tools"] == [WEATHER]


def test_function_call_round_trip(client, api):
    session = client.new_responses_chat_session(tools=[WEATHER])
    response = session.send('What is the weather? get_weather {"city": "Oslo"}')
    assert response.output_text == "" and str(response) == ""
    [call] = response.function_calls
    assert isinstance(call, OutputItem)
    assert (call.name, call.arguments) == ("get_weather", '{"city": "Oslo"}')
    assert call.call_id.startswith("call_")
    output = [{"type": "function_call_output", "call_id": call.call_id, "output": "rainy"}]
    answer = session.send(output)
    assert answer.output_text == "Tool result: rainy"
    assert sent(api) == {"model": "gpt-4.1", "tools": [WEATHER], "previous_response_id": response.id, "input": output}
    assert session.response_history == [response, answer]


def test_function_call_round_trip_streaming(client, api):
    session = client.new_responses_chat_session(tools=[WEATHER])
    rec = Recorder()
    response = session.send('get_weather {"city": "Oslo"}', rec)
    assert rec.calls == []  # no text deltas in a function call
    [call] = response.function_calls
    assert call.arguments == '{"city": "Oslo"}'
    answer = session.send([{"type": "function_call_output", "call_id": call.call_id, "output": "dry"}], rec)
    assert answer.output_text == rec.text == "Tool result: dry"
    assert session.current_response_id == answer.id


def test_model_items_are_accepted_as_input(client, api):
    _, response, _ = client.create_response('get_weather {"city": "Oslo"}', tools=[WEATHER])
    [call] = response.function_calls
    session = client.new_responses_chat_session(tools=[WEATHER])
    output = {"type": "function_call_output", "call_id": call.call_id, "output": "rainy"}
    answer = session.send([call, output])
    assert answer.output_text == "Tool result: rainy"
    assert sent(api)["input"] == [call.raw, output]
    with pytest.raises(InvalidMessageError, match=r"input\[0\] has role 'robot'"):
        session.send([structure({"role": "robot", "content": "x"}, OutputItem)])
    with pytest.raises(InvalidMessageError, match=r"input\[0\] must be a dict \(a message or an item\), not OutputItem \(whose JSON is a list\)"):
        session.send([structure(["x"], OutputItem)])


def test_input_messages_with_developer_role(client, api):
    session = client.new_responses_chat_session()
    items = [{"role": "developer", "content": "Answer in French"},
             {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi there"}]}]
    assert session.send(items).output_text == "You said: Hi there"
    assert sent(api)["input"] == items


# ---------------------------------------------------------------- output items it does not know are kept


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_reasoning_and_image_generation_items_are_kept(client, api, stream):
    session = client.new_responses_chat_session(tools=[{"type": "image_generation"}], reasoning={"summary": "auto"})
    rec = Recorder() if stream else None
    response = session.send("Draw an image of a cat", rec)
    assert [item.type for item in response.output] == ["reasoning", "image_generation_call", "message"]
    assert response.get_images() == [{"b64_json": PNG_B64}]
    assert response.output_text == "You said: Draw an image of a cat"
    assert response.output[0].raw["summary"][0]["type"] == "summary_text"
    assert session.current_response_id == response.id
    if stream:
        assert rec.text == response.output_text
        assert {c.index for c, _ in rec.calls} == {2}  # the message is output item 2


def test_unknown_and_future_item_types_are_kept(client, api):
    items = [
        {"id": "ws_1", "type": "web_search_call", "status": "completed", "action": {"type": "search", "query": "cats"}},
        {"id": "x_1", "type": "hologram_call", "status": "completed", "shape": "cube"},
        message_item("Found it"),
    ]
    api.queue(*RESPONSES, json=response_json(items))
    session = client.new_responses_chat_session()
    response = session.send("search")
    assert [item.type for item in response.output] == ["web_search_call", "hologram_call", "message"]
    assert response.output[0].raw == items[0] and response.output[1]["shape"] == "cube"
    assert response.output_text == "Found it"
    assert session.current_response_id == "resp_scripted"


# ---------------------------------------------------------------- streaming


def test_streaming_callback_gets_text_deltas_and_returns_the_response(client, api):
    session = client.new_responses_chat_session(instructions="Be brief")
    rec = Recorder()
    response = session.send("Tell me a joke", rec)
    assert isinstance(response, Response)
    assert response.output_text == rec.text == "You said: Tell me a joke"
    assert [str(c) for c, _ in rec.calls] == ["You", " said:", " Tell", " me", " a", " joke"]
    assert all(isinstance(c, TextChunk) and c.index == 0 for c, _ in rec.calls)
    assert all(raw["type"] == "response.output_text.delta" and raw["delta"] == c.content for c, raw in rec.calls)
    assert sent(api) == {"model": "gpt-4.1", "instructions": "Be brief", "stream": True, "input": "Tell me a joke"}
    assert session.current_response_id == response.id and session.response_history == [response]
    follow = session.send("More", stream=True)  # stream=True alone also streams
    assert sent(api)["stream"] is True and sent(api)["previous_response_id"] == response.id
    assert follow.output_text == "You said: More"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_refusal_is_kept_and_the_conversation_goes_on(client, api, stream):
    session = client.new_responses_chat_session()
    rec = Recorder() if stream else None
    response = session.send("How do I steal a car?", rec)
    assert response.refusal == REFUSAL and response.output_text == ""
    assert response.output[0].content[0].raw == {"type": "refusal", "refusal": REFUSAL}
    assert session.response_history == [response] and session.current_response_id == response.id
    if stream:
        assert rec.refusal == REFUSAL and rec.text == ""
        assert all(raw["type"] == "response.refusal.delta" and raw["delta"] == c.refusal for c, raw in rec.calls)
    follow = session.send("Then say hi", rec)
    assert follow.output_text == "You said: Then say hi" and sent(api)["previous_response_id"] == response.id


# ---------------------------------------------------------------- failures: typed, with the server's words, no advance


def _advanced_session(client):
    session = client.new_responses_chat_session()
    first = session.send("start")
    return session, first


@pytest.mark.parametrize(
    "failure, message",
    [
        ({"type": "error", "sequence_number": 3, "code": "server_error", "message": "The server is overloaded", "param": None},
         "The server is overloaded (server_error)"),
        ({"type": "response.failed", "sequence_number": 3,
          "response": response_json([], status="failed", error={"code": "server_error", "message": "Model crashed"})},
         "Model crashed (server_error)"),
    ],
    ids=["error", "response.failed"],
)
def test_stream_error_events_raise_with_message_and_text_so_far(client, api, failure, message):
    session, first = _advanced_session(client)
    api.queue(*RESPONSES, events=[
        {"type": "response.created", "sequence_number": 0, "response": response_json([], status="in_progress")},
        delta("Hel", 1),
        delta("lo", 2),
        failure,
    ])
    rec = Recorder()
    with pytest.raises(llmplug.StreamError) as info:
        session.send("again", rec)
    assert message in str(info.value)
    assert info.value.received == "Hello" == rec.text
    assert session.current_response_id == first.id
    assert session.response_history == [first]


def test_stream_without_completed_raises_and_does_not_advance(client, api):
    session, first = _advanced_session(client)
    api.queue(*RESPONSES, events=[
        {"type": "response.created", "sequence_number": 0, "response": response_json([], status="in_progress")},
        delta("Half an", 1),
        delta(" answer", 2),
    ])
    with pytest.raises(llmplug.StreamError, match="ended before it was complete") as info:
        session.send("again", Recorder())
    assert info.value.received == "Half an answer"
    assert session.current_response_id == first.id and session.response_history == [first]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_status_error_keeps_the_server_message(client, api, stream):
    session = client.new_responses_chat_session(previous_response_id="resp_missing")
    with pytest.raises(llmplug.NotFoundError) as info:
        session.send("hi", Recorder() if stream else None)
    assert info.value.status_code == 404
    assert "Previous response with id 'resp_missing' not found." in str(info.value)
    assert session.current_response_id == "resp_missing" and session.response_history == []


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_lua_style_client_without_raise_still_raises_typed_errors(api, transport, stream):
    lua_client = llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport,
                             raise_for_status=False, max_retries=0)
    session = lua_client.new_responses_chat_session()
    api.queue(*RESPONSES, status=400, json={"error": {"message": "Unsupported parameter: 'temperature'",
                                                      "type": "invalid_request_error", "code": "unsupported_parameter"}})
    with pytest.raises(llmplug.BadRequestError) as info:
        session.send("hi", Recorder() if stream else None, temperature=1)
    assert "Unsupported parameter: 'temperature'" in str(info.value)
    assert info.value.body["error"]["code"] == "unsupported_parameter"
    assert session.current_response_id is None and session.response_history == []
    lua_client.close()


def test_callback_error_propagates_and_does_not_advance(client, api):
    session, first = _advanced_session(client)

    def broken(chunk, raw):
        raise RuntimeError("callback bug")

    with pytest.raises(RuntimeError, match="callback bug"):
        session.send("again", broken)
    assert session.current_response_id == first.id and session.response_history == [first]


def test_non_response_body_raises(client, api):
    api.queue(*RESPONSES, body="upstream timeout", content_type="text/plain")
    session = client.new_responses_chat_session()
    with pytest.raises(llmplug.APIResponseValidationError, match="upstream timeout"):
        session.send("hi")
    assert session.response_history == []


@pytest.mark.parametrize(
    "value, error",
    [
        ("", "input is empty"),
        ([], "input must be a string or a non-empty list"),
        (42, "input must be a string or a non-empty list"),
        (["hi"], r"input\[0\] must be a dict"),
        ([{"role": "robot", "content": "x"}], r"input\[0\] has role 'robot'; a message's role must be one of: user, assistant, system, developer"),
        ([{"type": "message", "content": "x"}], r"input\[0\] has no 'role'"),
        ([{"role": "user"}], r"input\[0\] \(role 'user'\) needs 'content'"),
        ([{"role": "user", "content": "a"}, {"type": "function_call_output", "output": "x"}], r"input\[1\] \(function_call_output\) needs 'call_id'"),
        ([{"type": "function_call_output", "call_id": "c"}], r"input\[0\] \(function_call_output\) needs 'output'"),
    ],
)
def test_input_is_checked_before_sending(api, value, error):
    session = ResponsesChatSession(llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url))
    with pytest.raises(InvalidMessageError, match=error):
        session.send(value)
    assert api.requests == []


def test_other_item_types_pass_unchecked(client, api):
    _, previous, _ = client.create_response("x", reasoning={"summary": "auto"})
    session = client.new_responses_chat_session()
    items = [{"type": "item_reference", "id": previous.output[0].id}, {"role": "user", "content": "hello"}]
    session.send(items)
    assert sent(api)["input"] == items


# ---------------------------------------------------------------- save and resume


def test_to_dict_and_from_dict_resume_the_conversation(client, api):
    session = client.new_responses_chat_session(model="gpt-4.1-mini", instructions="Be brief", tools=[WEATHER], store=True)
    first = session.send("Hello")
    second = session.send("Again")
    data = session.to_dict()
    assert data == {
        "kind": "responses",
        "options": {"model": "gpt-4.1-mini", "instructions": "Be brief", "tools": [WEATHER], "store": True},
        "current_response_id": second.id,
        "response_history": [first.raw, second.raw],
    }
    saved = json.loads(json.dumps(data))

    _, responses = session_classes(client)
    resumed = responses.from_dict(client, saved)
    assert resumed.current_response_id == second.id
    assert [r.id for r in resumed.response_history] == [first.id, second.id]
    assert resumed.response_history[1].output_text == "You said: Again"
    third = resumed.send("Once more")
    assert sent(api) == {"model": "gpt-4.1-mini", "instructions": "Be brief", "tools": [WEATHER], "store": True,
                         "previous_response_id": second.id, "input": "Once more"}
    assert third.output_text == "You said: Once more"
    assert session.current_response_id == second.id  # the original is untouched
    with pytest.raises(llmplug.ConfigurationError, match="cannot resume a 'chat' session"):
        responses.from_dict(client, {"kind": "chat", "options": {}, "messages": []})
