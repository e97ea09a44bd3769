"""Gemini parts beyond text and function calls (thoughts, thought signatures on
text, code execution, server-side tools) survive a multi-turn conversation:
kept on the message, sent back exactly, streamed or not, through a
ChatSession (also saved and resumed) or a history kept by hand, over every
transport, against the fake API over real sockets."""

from __future__ import annotations

import json
from typing import Any

import pytest

import llmplug
from tests.async_bridge import session_classes
from llmplug.core import models as m
from llmplug.testing.gemini_api import gemini_service
from tests.conftest import TEST_KEY
from tests.providers.gemini_protos import gemini_protos  # noqa: F401 - fixture
from tests.providers.gemini_replies import CODE_REPLY, SERVER_TOOL_REPLY, THINKING_REPLY

pytestmark = pytest.mark.usefixtures("gemini_protos")

MODEL = "gemini-3-pro-preview"
#: (what the user says, the parts Gemini answers with, the answer's text, its code executions)
TURNS = [
    ("Think first, then greet me", THINKING_REPLY, "Hello to you, and a good day as well.", None),
    ("What is six times seven?", CODE_REPLY, "I will compute it with Python.The answer is 42, as the code printed.",
     [{"language": "PYTHON", "code": "print(6 * 7)", "outcome": "OUTCOME_OK", "output": "42\n"}]),
    ("Search the web for llmplug", SERVER_TOOL_REPLY, "llmplug is a Python client.", None),
]
LAST = "Thanks"


@pytest.fixture
def gemini(api, transport):
    with llmplug.new("gemini", api_key=TEST_KEY, base_url=api.url + "/v1beta", transport=transport, max_retries=0) as c:
        yield c


def expected_contents(turns: int) -> list[dict[str, Any]]:
    """The ``contents`` a request made after ``turns`` answered turns must carry."""
    contents: list[dict[str, Any]] = []
    for said, parts, _, _ in TURNS[:turns]:
        contents += [{"role": "user", "parts": [{"text": said}]}, {"role": "model", "parts": parts}]
    said = TURNS[turns][0] if turns < len(TURNS) else LAST
    return contents + [{"role": "user", "parts": [{"text": said}]}]


def check_reply(message: dict[str, Any], reasoning: str | None, turn: int) -> None:
    """The normalised message of ``TURNS[turn]``'s answer (its JSON) and its reasoning."""
    _, parts, text, runs = TURNS[turn]
    assert message["content"] == text  # the joined text parts: no thoughts, no code, no tool parts
    google = message["extra_content"]["google"]
    assert google["parts"] == parts
    assert google.get("code_executions") == runs
    assert reasoning == ("**Planning**\n\nThe user greets me." if parts is THINKING_REPLY else None)


def ask(client: llmplug.Client, history: list[Any], stream: str | None, form: str) -> m.ChatMessage:
    """One request with ``history`` (streamed by callback or iterator, or not); the
    reply is appended to it as a dict or as the message model."""
    if stream == "iterator":
        with client.create_chat_completion(history, stream=True, model=MODEL) as events:
            chunks = list(events)
            message = events.final.choices[0].message
        assert chunks[-1].choices[0].delta.raw.get("extra_content") == message.raw.get("extra_content")
    else:
        callback = (lambda chunk: None) if stream else None
        message = client.create_chat_completion(history, chunk_callback=callback, model=MODEL).body.choices[0].message
    history.append(message.raw if form == "dict" else message)
    return message


@pytest.mark.parametrize("form", ["dict", "model"])
@pytest.mark.parametrize("stream", [None, "callback", "iterator"], ids=["plain", "callback", "iterator"])
def test_three_turns_by_hand(gemini, api, stream, form):
    service = gemini_service(api)
    history: list[Any] = []
    for turn, (said, parts, _, _) in enumerate(TURNS):
        service.script_reply(parts)
        history.append({"role": "user", "content": said})
        message = ask(gemini, history, stream, form)
        assert api.last_request.json["contents"] == expected_contents(turn)
        check_reply(message.raw, message.reasoning, turn)
    assert message.extra_content["google"]["parts"] == SERVER_TOOL_REPLY  # read without .raw
    history.append({"role": "user", "content": LAST})
    ask(gemini, history, stream, form)
    assert api.last_request.json["contents"] == expected_contents(len(TURNS))


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "callback"])
def test_three_turns_in_a_session_saved_and_resumed(gemini, api, stream):
    service = gemini_service(api)
    session = gemini.new_chat_session(model=MODEL)
    callback = (lambda chunk, raw: None) if stream else None
    for turn, (said, parts, text, _) in enumerate(TURNS):
        service.script_reply(parts)
        assert session.send(said, callback) == text
        assert api.last_request.json["contents"] == expected_contents(turn)
        check_reply(session.last_message(), session.last_completion.choices[0].message.reasoning, turn)
        session = session_classes(gemini)[0].from_dict(gemini, json.loads(json.dumps(session.to_dict())))
    session.send(LAST, callback)
    assert api.last_request.json["contents"] == expected_contents(len(TURNS))


@pytest.mark.parametrize("parts", [THINKING_REPLY, CODE_REPLY, SERVER_TOOL_REPLY], ids=["thinking", "code", "tools"])
def test_streamed_message_equals_the_unstreamed_one(gemini, api, parts):
    gemini_service(api).script_reply(parts, times=3)
    user = [{"role": "user", "content": "Hi"}]
    plain = gemini.create_chat_completion(user).body.choices[0]
    chunks: list[m.ChatCompletionChunk] = []
    streamed = gemini.create_chat_completion(user, chunk_callback=chunks.append).body.choices[0]
    with gemini.create_chat_completion(user, stream=True) as events:
        iterated = events.until_done().choices[0]
    assert len(chunks) > 2 and plain.message.raw["extra_content"]["google"]["parts"] == parts
    assert streamed.message.raw == plain.message.raw == iterated.message.raw
    assert streamed.finish_reason == plain.finish_reason == "stop"


def test_plain_replies_keep_no_parts(gemini, api):
    _, body, _ = gemini.create_chat_completion([{"role": "user", "content": "Hi"}])
    assert "extra_content" not in body.choices[0].message.raw
    gemini_service(api).script_reply([{"text": "Done"}, {"functionCall": {"name": "f", "args": {}},
                                                         "thoughtSignature": "c2ln"}])
    _, body, _ = gemini.create_chat_completion([{"role": "user", "content": "Hi"}])
    message = body.choices[0].message.raw
    assert "extra_content" not in message  # the call's signature is on the tool call, as before
    assert message["tool_calls"][0]["extra_content"] == {"google": {"thought_signature": "c2ln"}}


def test_code_execution_without_text_and_a_result_without_code(gemini, api):
    parts = [{"executableCode": {"language": "PYTHON", "code": "1/0"}},
             {"codeExecutionResult": {"outcome": "OUTCOME_FAILED", "output": "ZeroDivisionError"}},
             {"codeExecutionResult": {"outcome": "OUTCOME_OK"}},
             {"executableCode": {"language": "PYTHON", "code": "pass"}}]
    gemini_service(api).script_reply(parts)
    message = gemini.create_chat_completion([{"role": "user", "content": "Hi"}]).body.choices[0].message
    assert message.content is None
    assert message.extra_content["google"]["code_executions"] == [
        {"language": "PYTHON", "code": "1/0", "outcome": "OUTCOME_FAILED", "output": "ZeroDivisionError"},
        {"language": None, "code": None, "outcome": "OUTCOME_OK", "output": None},
        {"language": "PYTHON", "code": "pass", "outcome": None, "output": None},
    ]


def test_an_edited_message_is_refused_with_a_way_out(gemini, api):
    gemini_service(api).script_reply(CODE_REPLY)
    history: list[Any] = [{"role": "user", "content": "Compute"}]
    reply = gemini.create_chat_completion(history).body.choices[0].message.raw
    edited = {**reply, "content": "Something else"}
    with pytest.raises(llmplug.ConfigurationError, match=r"messages\[1\].*no longer match.*remove 'extra_content'"):
        gemini.create_chat_completion(history + [edited, {"role": "user", "content": "Go on"}])
    stripped = {k: v for k, v in edited.items() if k != "extra_content"}
    gemini.create_chat_completion(history + [stripped, {"role": "user", "content": "Go on"}])
    assert api.last_request.json["contents"][1] == {"role": "model", "parts": [{"text": "Something else"}]}
    broken = {**reply, "extra_content": {"google": {"parts": "not a list"}}}
    with pytest.raises(llmplug.ConfigurationError, match="list of part dicts"):
        gemini.create_chat_completion(history + [broken, {"role": "user", "content": "Go on"}])
