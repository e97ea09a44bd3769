"""Stream assembly: chunks into the completion a non-streamed call returns."""

from __future__ import annotations

from llmplug.core.convert import structure
from llmplug.core.models import ChatCompletionChunk
from llmplug.core.streaming import ChatAccumulator


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
    assert acc.complete(saw_done=True)
    assert acc.received() == "par"
