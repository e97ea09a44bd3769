"""Stream assembly: chunks into the completion a non-streamed call returns."""

from __future__ import annotations

import json

import pytest

import llmplug
from llmplug.core.convert import structure
from llmplug.core.http import BytesStream, Headers, Request, Response
from llmplug.core.models import ChatCompletionChunk, ResponseStreamEvent, TextChunk
from llmplug.core.sse import SSEEvent
from llmplug.core.streaming import DONE, ChatAccumulator, ResponseAccumulator, Stream, iter_events, text_chunk_relay


def assemble(*chunks: dict):
    acc = ChatAccumulator()
    for data in chunks:
        acc.add(structure(data, ChatCompletionChunk))
    return acc


def test_tool_calls_merge_by_index_across_choices():
    acc = assemble(
        {"id": "c1", "model": "m", "created": 1, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "add", "arguments": ""}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "call_b", "function": {"name": "mul", "arguments": "{\"x\""}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":1}"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "function": {"arguments": ":2}"}}]}}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
    )
    result = acc.result()
    assert result.id == "c1" and result.model == "m"
    msg = result.choices[0].message
    assert msg.content is None
    assert [(c.id, c.function.name, c.function.arguments) for c in msg.tool_calls] == [
        ("call_a", "add", '{"a":1}'),
        ("call_b", "mul", '{"x":2}'),
    ]
    assert result.choices[0].finish_reason == "tool_calls"
    assert acc.complete(saw_done=False)


def test_index_less_tool_deltas_and_empty_ids():
    acc = assemble(
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"id": "", "type": "function", "function": {"name": "a", "arguments": "{}"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"id": "", "type": "function", "function": {"name": "b", "arguments": "{\"q\":"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"function": {"arguments": "1}"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": None, "content": None}, "finish_reason": "stop"}]},
    )
    calls = acc.result().choices[0].message.tool_calls
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [("", "a", "{}"), ("", "b", '{"q":1}')]


def test_provider_extras_on_tool_calls_are_kept():
    acc = assemble(
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c", "function": {"name": "f", "arguments": "{}"}, "extra_content": {"google": {"thought_signature": "sig"}}}]}, "finish_reason": "tool_calls"}]},
    )
    call = acc.result().choices[0].message.tool_calls[0]
    assert call.extra_content == {"google": {"thought_signature": "sig"}}


def test_legacy_function_call_and_n_choices_and_usage():
    acc = assemble(
        {"choices": [{"index": 0, "delta": {"function_call": {"name": "add", "arguments": ""}}}, {"index": 1, "delta": {"content": "B"}}]},
        {"choices": [{"index": 0, "delta": {"function_call": {"arguments": "{}"}}, "finish_reason": "function_call"}, {"index": 1, "delta": {}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
    )
    result = acc.result()
    assert result.choices[0].message.function_call.name == "add"
    assert result.choices[0].message.function_call.arguments == "{}"
    assert result.choices[1].message.content == "B"
    assert result.usage.total_tokens == 3


def test_incomplete_stream_is_reported():
    acc = assemble({"choices": [{"index": 0, "delta": {"content": "par"}}]})
    assert not acc.complete(saw_done=False)
    assert not acc.complete(saw_done=True)  # [DONE] does not finish a choice without a finish_reason
    assert "choice 0 had no finish_reason" in acc.missing()
    assert acc.received() == "par"
    acc.require_finish = False  # new(..., require_finish_reason=False)
    assert acc.complete(saw_done=True)


# ---------------------------------------------------------------- Stream.final


def parse_chat(event: SSEEvent):
    return DONE if event.data == "[DONE]" else structure(json.loads(event.data), ChatCompletionChunk)


def open_stream(*texts: str, done: bool = True) -> Stream:
    """A Stream over an in-memory SSE body: one chunk per text, then a finish chunk and [DONE]."""
    events = [{"id": "c1", "choices": [{"index": 0, "delta": {"content": t}}]} for t in texts]
    if done:
        events.append({"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + ("data: [DONE]\n\n" if done else "")
    request = Request("POST", "https://api.example/v1/chat/completions")
    response = Response(200, Headers({"content-type": "text/event-stream"}), BytesStream(body.encode()), request)
    accumulator = ChatAccumulator()
    return Stream(iter_events(response, parse_chat, accumulator, provider="test"), response, accumulator)


def test_final_after_the_whole_stream():
    stream = open_stream("Hel", "lo")
    assert "".join(str(c) for c in stream) == "Hello"
    assert stream.final.content == "Hello"
    stream.close()  # closing a finished stream keeps its result
    assert stream.final.choices[0].finish_reason == "stop"
    assert open_stream("Hi").until_done().content == "Hi"


def test_final_before_reading_raises():
    stream = open_stream("Hel", "lo")
    with pytest.raises(llmplug.StreamError, match=r"^the stream was not read to its end: nothing was read yet") as info:
        stream.final
    assert info.value.received == ""
    assert stream.until_done().content == "Hello"  # the advice works


def test_final_part_way_raises_with_what_arrived():
    stream = open_stream("Hel", "lo")
    next(stream)
    with pytest.raises(llmplug.StreamError, match="not read to its end: it was read only in part") as info:
        stream.final
    assert info.value.received == "Hel"


def test_final_after_close_mid_stream_raises():
    stream = open_stream("Hel", "lo")
    with stream:
        next(stream)
    with pytest.raises(llmplug.StreamError, match="not read to its end: it was closed before its end") as info:
        stream.final
    assert info.value.received == "Hel"
    with pytest.raises(llmplug.StreamError, match="closed before its end"):
        stream.until_done()


def test_final_after_a_stream_error_raises():
    stream = open_stream("Hel", "lo", done=False)
    with pytest.raises(llmplug.StreamError, match="ended before it was complete"):
        list(stream)
    with pytest.raises(llmplug.StreamError, match="not read to its end: it failed with StreamError: stream ended before") as info:
        stream.final
    assert info.value.received == "Hello"
    assert isinstance(info.value.__cause__, llmplug.StreamError)


def test_final_through_the_client(client, api):
    user = [{"role": "user", "content": "Say hi"}]
    with client.create_chat_completion(user, stream=True) as stream:
        with pytest.raises(llmplug.StreamError, match="nothing was read yet"):
            stream.final
        assert stream.until_done().content == "You said: Say hi"
    seen = []
    result = client.create_chat_completion(user, chunk_callback=seen.append)
    assert result.body.content == "You said: Say hi" == "".join(str(c) for c in seen)


def test_choice_extras_and_logprobs_survive_assembly():
    acc = assemble(
        {"choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": {"content": [{"token": "a", "logprob": -0.1}]}}]},
        {"choices": [{"index": 0, "delta": {"content": "b"}, "logprobs": {"content": [{"token": "b", "logprob": -0.2}]},
                      "finish_reason": "malformed_function_call", "finish_message": "bad call"}]},
    )
    choice = acc.result().choices[0]
    assert choice.finish_message == "bad call"
    assert [t["token"] for t in choice.logprobs["content"]] == ["a", "b"]
    assert acc.result().choices[0].message.content == "ab"


def test_delta_extra_content_is_merged_into_the_message():
    first = {"x": {"parts": [{"a": 1}], "note": "old"}}
    acc = assemble(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi", "extra_content": first}}]},
        {"choices": [{"index": 0, "delta": {"extra_content": {"x": {"parts": [{"b": 2}], "note": "new"}, "y": [1]}}}]},
        {"choices": [{"index": 1, "delta": {"content": "no extras"}, "finish_reason": "stop"}]},
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    )
    result = acc.result()
    assert result.choices[0].message.raw["extra_content"] == {"x": {"parts": [{"a": 1}, {"b": 2}], "note": "new"}, "y": [1]}
    assert result.choices[0].message.content == "Hi" and "extra_content" not in result.choices[1].message.raw
    assert first == {"x": {"parts": [{"a": 1}], "note": "old"}}  # the chunk itself is left as it came


# ---------------------------------------------------------------- refusals: OpenAI's documented stream format

# A refusal as OpenAI streams it with logprobs=true (recorded by openai-python,
# tests/lib/chat/test_completions_streaming.py::test_refusal_logprobs_events), shortened.
REFUSAL_TOKENS = [
    {"token": "I'm", "logprob": -0.0016157961, "bytes": [73, 39, 109], "top_logprobs": []},
    {"token": " sorry", "logprob": -0.78663874, "bytes": [32, 115, 111, 114, 114, 121], "top_logprobs": []},
    {"token": ".", "logprob": -3.4121115e-06, "bytes": [46], "top_logprobs": []},
]
HEAD = {"id": "chatcmpl-9tXjm", "object": "chat.completion.chunk", "created": 1723024754, "model": "gpt-4o-2024-08-06"}


def refusal_chunks(logprobs: bool, index: int = 0) -> list[dict]:
    def choice(delta: dict, tokens: list | None, finish: str | None = None) -> dict:
        lp = {"content": None, "refusal": tokens} if logprobs and tokens is not None else None
        return {**HEAD, "choices": [{"index": index, "delta": delta, "logprobs": lp, "finish_reason": finish}]}

    return [
        choice({"role": "assistant", "content": None, "refusal": ""}, []),
        *(choice({"refusal": t["token"]}, [t]) for t in REFUSAL_TOKENS),
        choice({}, None, "stop"),
    ]


@pytest.mark.parametrize("logprobs", [False, True], ids=["plain", "logprobs"])
def test_a_streamed_refusal_is_the_non_streamed_message(logprobs):
    acc = assemble(*refusal_chunks(logprobs))
    choice = acc.result().choices[0]
    assert choice.message.content is None
    assert choice.message.refusal == "I'm sorry."
    assert choice.message.raw == {"role": "assistant", "content": None, "refusal": "I'm sorry."}
    assert choice.logprobs == ({"content": None, "refusal": REFUSAL_TOKENS} if logprobs else None)
    assert acc.received() == "I'm sorry."


def test_content_streamed_as_empty_deltas_stays_an_empty_string():
    acc = assemble(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": None}}]},
        {"choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}]},
    )
    message = acc.result().choices[0].message
    assert message.content == "" and message.refusal is None and "refusal" not in message.raw


def test_no_content_delta_at_all_gives_none():
    acc = assemble({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": "stop"}]})
    assert acc.result().choices[0].message.content is None


def test_content_and_refusal_logprobs_are_kept_apart_per_choice():
    text = [{"token": "Hi", "logprob": -0.1}, {"token": "!", "logprob": -0.2}]
    acc = assemble(
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": {"content": [], "refusal": None}}]},
        *refusal_chunks(True, index=1)[:2],
        {"choices": [{"index": 0, "delta": {"content": "Hi"}, "logprobs": {"content": text[:1], "refusal": None}}]},
        *refusal_chunks(True, index=1)[2:],
        {"choices": [{"index": 0, "delta": {"content": "!"}, "logprobs": {"content": text[1:], "refusal": None}},
                     {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}]},
    )
    first, second = acc.result().choices
    assert (first.message.content, first.message.refusal) == ("Hi!", None)
    assert first.logprobs == {"content": text, "refusal": None}
    assert (second.message.content, second.message.refusal) == (None, "I'm sorry.")
    assert second.logprobs == {"content": None, "refusal": REFUSAL_TOKENS}


def test_a_list_after_null_logprobs_is_joined():
    acc = assemble(
        {"choices": [{"index": 0, "delta": {"content": "a"}, "logprobs": {"content": None}}]},
        {"choices": [{"index": 0, "delta": {"content": "b"}, "logprobs": {"content": [{"token": "b"}]}}]},
        {"choices": [{"index": 0, "delta": {"content": "c"}, "logprobs": {"content": [{"token": "c"}]}}]},
    )
    assert acc.result().choices[0].logprobs == {"content": [{"token": "b"}, {"token": "c"}]}


def test_text_chunk_relay_marks_refusal_pieces():
    got = []
    relay = text_chunk_relay(lambda chunk, raw: got.append((chunk, raw)))
    for data in [*refusal_chunks(False), {"choices": [{"index": 1, "delta": {"content": "ok"}}]}]:
        relay(structure(data, ChatCompletionChunk))
    assert [c.refusal for c, _ in got] == ["I'm", " sorry", ".", None]
    assert [str(c) for c, _ in got] == ["", "", "", "ok"]  # str() is the content only
    assert got[0][1]["choices"][0]["delta"] == {"refusal": "I'm"}
    assert TextChunk("x", 1, None) == TextChunk(content="x", index=1, tool_calls=None, refusal=None)


def test_response_accumulator_keeps_refusal_text_apart():
    acc = ResponseAccumulator()
    for kind, delta in [("response.refusal.delta", "No"), ("response.refusal.delta", " way")]:
        acc.add(structure({"type": kind, "delta": delta}, ResponseStreamEvent))
    assert acc.text == [] and acc.refusal == ["No", " way"]
    assert acc.received() == "No way"
    acc.add(structure({"type": "response.output_text.delta", "delta": "Yes"}, ResponseStreamEvent))
    assert acc.received() == "Yes"
