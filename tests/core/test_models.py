"""Models keep what the server sent; odd shapes never crash."""

from __future__ import annotations

import logging
from typing import Any

import attrs
import pytest

from llmplug.core.convert import get_converter, structure
from llmplug.core.encoding import encode_json, encode_multipart
from llmplug.core import models as m


def test_unknown_fields_are_kept():
    data = {"id": "x", "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "audio": {"id": "a"}}}], "brand_new": 1}
    body = structure(data, m.ChatCompletion)
    assert body.brand_new == 1 and body["brand_new"] == 1
    assert body.choices[0].message.audio == {"id": "a"}
    assert body.raw is data
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        body.missing


def test_unexpected_shape_keeps_raw(caplog):
    caplog.set_level(logging.DEBUG, logger="llmplug")
    data = {"id": "x", "choices": "not-a-list", "created": "yesterday"}
    body = structure(data, m.ChatCompletion)
    assert body.raw is data and body.choices == []
    assert "kept ChatCompletion raw" in caplog.text
    assert structure(["a"], m.ModelList).raw == ["a"]


def test_usage_details_flattened():
    usage = structure(
        {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12,
         "completion_tokens_details": {"reasoning_tokens": 4}, "prompt_tokens_details": {"cached_tokens": 2}},
        m.Usage,
    )
    assert (usage.reasoning_tokens, usage.cached_tokens) == (4, 2)


def test_response_helpers_keep_unknown_items():
    data = {
        "id": "resp_1",
        "output": [
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello "}, {"type": "refusal", "refusal": "no"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "world"}]},
            {"type": "image_generation_call", "id": "ig_1", "result": "aGk="},
            {"type": "function_call", "call_id": "call_1", "name": "add", "arguments": "{}"},
            {"type": "from_the_future", "x": 1},
        ],
    }
    resp = structure(data, m.Response)
    assert resp.get_output_text() == "Hello world" == str(resp) == resp.output_text
    assert resp.refusal == "no"
    assert structure({"output": data["output"][3:]}, m.Response).refusal is None
    assert resp.get_images() == [{"b64_json": "aGk="}]
    assert [(c.name, c.call_id) for c in resp.function_calls] == [("add", "call_1")]
    assert resp.output[-1].type == "from_the_future" and resp.output[-1].x == 1


def test_chunk_str_and_text_chunk():
    chunk = structure({"choices": [{"index": 1, "delta": {"content": "b"}}, {"index": 0, "delta": {"content": "a"}}]}, m.ChatCompletionChunk)
    assert str(chunk) == "a"
    assert str(structure({"choices": []}, m.ChatCompletionChunk)) == ""
    assert str(m.TextChunk("x", 0)) == "x" and str(m.TextChunk()) == ""


def test_encode_json_models_and_bytes():
    msg = structure({"role": "assistant", "content": "hi", "extra": 1}, m.ChatMessage)
    assert encode_json({"m": msg, "b": b"\x00\x01", "t": (1, 2)}) == b'{"m":{"role":"assistant","content":"hi","extra":1},"b":"AAE=","t":[1,2]}'
    with pytest.raises(TypeError, match="cannot send a object as JSON"):
        encode_json({"x": object()})


def test_multipart_body():
    body, ctype = encode_multipart({"purpose": "batch", "expires_after": {"anchor": "created_at", "seconds": 60}}, {"file": ("a.jsonl", b"{}\n")})
    boundary = ctype.split("boundary=")[1]
    assert body.startswith(f"--{boundary}\r\n".encode()) and body.endswith(f"--{boundary}--\r\n".encode())
    assert b'name="purpose"\r\n\r\nbatch\r\n' in body
    assert b'name="expires_after"\r\nContent-Type: application/json\r\n\r\n{"anchor":"created_at","seconds":60}\r\n' in body
    assert b'name="file"; filename="a.jsonl"\r\n' in body and b"\r\n\r\n{}\n\r\n" in body


def test_model_is_a_read_only_mapping_over_raw():
    data = {"id": "x", "usage": {"total_tokens": 3}, "choices": []}
    body = structure(data, m.ChatCompletion)
    assert "usage" in body and "missing" not in body
    assert list(body) == ["id", "usage", "choices"] == list(body.keys())
    assert dict(body) == data and dict(body) is not data
    assert list(body.values()) == list(data.values())
    assert dict(body.items()) == data
    assert body.get("id") == "x" and body.get("missing", 1) == 1
    assert not hasattr(body, "__len__")
    empty = structure({}, m.ChatCompletion)
    assert bool(empty) is True and list(empty) == [] and dict(empty) == {}


def test_model_over_a_list_or_odd_raw():
    listing = structure(["a", "b"], m.ModelList)
    assert "a" in listing and "z" not in listing
    assert list(listing) == ["a", "b"]
    assert list(listing.keys()) == [] and listing.get("a") is None
    assert bool(listing) is True
    odd = structure("text", m.ModelList)
    assert "t" not in odd and list(odd) == [] and bool(odd) is True


# ---------------------------------------------------------------- the chunk fast path

CHUNK_SHAPES = [
    {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "system_fingerprint": "fp",
     "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None, "logprobs": None}]},
    {"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi", "refusal": None}}]},
    {"id": "c", "choices": [{"index": 1, "delta": {"refusal": "No"}, "logprobs": {"refusal": [{"token": "No"}]}}]},
    {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}, "extra": 1},
        {"index": 1, "function": {"arguments": "{}"}}, {"id": ""}]}}]},
    {"choices": [{"index": 0, "delta": {"function_call": {"name": "f", "arguments": "{"}}, "finish_reason": "stop"}]},
    {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "extra_field": "kept"}], "provider": "x"},
    {"choices": [{"delta": {"reasoning": "hm", "content": None}}]},
    {"choices": [{"index": 0}]},  # no delta: the default one
    {"choices": []},
    {},
    {"object": None, "index": None, "choices": [{"index": None, "delta": {"role": None}}]},
    # Shapes the fast path leaves to the converter: usage, wrong types, odd bodies.
    {"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}},
    {"choices": None},
    {"choices": [{"delta": None}]},
    {"choices": [{"delta": {"tool_calls": "x"}}]},
    {"choices": [{"delta": {"tool_calls": [{"function": "f"}]}}]},
    {"choices": ["not a choice"]},
    [1, 2],
    "text",
]


def _same(a: Any, b: Any) -> bool:
    """Field for field, ``.raw`` and ``.shaped`` included (model equality leaves them out)."""
    if isinstance(a, m.Model) or isinstance(b, m.Model):
        return (type(a) is type(b) and a.raw == b.raw and a.shaped == b.shaped
                and all(_same(getattr(a, f.name), getattr(b, f.name)) for f in attrs.fields(type(a))))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b and type(a) is type(b)


def _converted(data: Any) -> Any:
    """What the converter alone makes of ``data`` (with structure()'s fallback)."""
    try:
        return get_converter().structure(data, m.ChatCompletionChunk)
    except Exception:
        return m.ChatCompletionChunk(raw=data)


@pytest.mark.parametrize("data", CHUNK_SHAPES, ids=range(len(CHUNK_SHAPES)))
def test_the_chunk_fast_path_builds_what_the_converter_builds(data: Any) -> None:
    fast = structure(data, m.ChatCompletionChunk)
    assert fast == _converted(data) and isinstance(fast, m.ChatCompletionChunk)
    assert str(fast) == str(_converted(data))
    fast.choices  # noqa: B018  # a lazy chunk builds its choices now, and becomes a plain chunk
    assert _same(fast, _converted(data))
    if fast.choices and isinstance(fast.choices[0].raw.get("delta"), dict):
        assert fast.choices[0].delta.raw is fast.choices[0].raw["delta"]  # the decoded dict itself, not a copy


def test_models_compare_and_print_by_their_fields_not_raw():
    one = structure({"id": "a", "choices": [{"message": {"content": "hi"}}], "extra": 1}, m.ChatCompletion)
    two = structure({"id": "a", "choices": [{"message": {"content": "hi"}}]}, m.ChatCompletion)
    assert one == two and not one != two  # .raw differs, the fields do not
    assert one != structure({"id": "b"}, m.ChatCompletion)
    assert m.Usage(prompt_tokens=1) != m.ResponseUsage()  # another class is never equal
    assert m.ChatMessage(content="x") != "x"
    with pytest.raises(TypeError):
        hash(one)  # mutable models are unhashable
    text = repr(one)
    assert text.startswith("ChatCompletion(id='a', ") and "content='hi'" in text
    assert "extra" not in text and "raw=" not in text


def test_a_lazy_chunk_builds_its_choices_once_from_the_json_it_came_from():
    from llmplug.core.fastpath import LazyChunk

    data = {"id": "c", "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": None}]}
    chunk = structure(data, m.ChatCompletionChunk)
    assert type(chunk) is LazyChunk and chunk.id == "c" and str(chunk) == "hi"
    choices = chunk.choices
    assert type(chunk) is m.ChatCompletionChunk and chunk.choices is choices  # built once
    assert choices[0].delta.raw is data["choices"][0]["delta"]
    moved = structure(data, m.ChatCompletionChunk)
    moved.raw = {"provider": "shape"}  # a provider keeping its own JSON: the choices come from the first
    assert moved.choices[0].delta.content == "hi" and moved.raw == {"provider": "shape"}
    replaced = structure(data, m.ChatCompletionChunk)
    replaced.choices = []
    assert type(replaced) is m.ChatCompletionChunk and replaced.choices == []


@pytest.mark.parametrize("data", [d for d in CHUNK_SHAPES if isinstance(d, dict)], ids=lambda d: str(d)[:40])
def test_the_accumulator_reads_a_lazy_chunk_as_it_reads_the_model(data: Any) -> None:
    from llmplug.core.accumulators import ChatAccumulator

    lazy, built = ChatAccumulator(), ChatAccumulator()
    for _ in range(2):  # twice: the second chunk merges into the first's state
        lazy.add(structure(data, m.ChatCompletionChunk))
        built.add(_converted(data))
    assert lazy.result() == built.result() and lazy.result().raw == built.result().raw
    assert lazy.received() == built.received()


COMPLETION_SHAPES: list[Any] = [
    {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "system_fingerprint": "fp",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi", "refusal": None},
                  "finish_reason": "stop", "logprobs": None}],
     "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
               "completion_tokens_details": {"reasoning_tokens": 1}, "prompt_tokens_details": {"cached_tokens": 2}}},
    {"choices": [{"message": {"content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}, "extra": 1},
        {"id": "call_2"}, {"function": {"name": "g", "arguments": None}}]}, "finish_reason": "tool_calls"}]},
    {"choices": [{"message": {"function_call": {"name": "f"}, "reasoning": "hm"}}, {"index": 1}]},
    {"choices": [{"message": {"role": None, "content": [{"type": "text", "text": "parts"}]}}], "usage": None},
    {"choices": [], "usage": {"prompt_tokens": 1, "reasoning_tokens": 9, "completion_tokens_details": {"reasoning_tokens": 1}}},
    {},
    # Left to the converter: wrong types, odd bodies.
    {"choices": None},
    {"choices": [{"message": None}]},
    {"choices": [{"message": {"tool_calls": "x"}}]},
    {"choices": [{"message": {"tool_calls": [{"function": None}]}}]},
    {"choices": [{"message": {"tool_calls": ["x"]}}]},
    {"choices": [{"message": {"function_call": "f"}}]},
    {"choices": [], "usage": "lots"},
    {"choices": ["not a choice"]},
    [1, 2],
    None,
]


@pytest.mark.parametrize("data", COMPLETION_SHAPES, ids=range(len(COMPLETION_SHAPES)))
def test_the_completion_fast_path_builds_what_the_converter_builds(data: Any) -> None:
    try:
        converted = get_converter().structure(data, m.ChatCompletion)
    except Exception:
        converted = m.ChatCompletion(raw=data)
    assert _same(structure(data, m.ChatCompletion), converted)


def test_a_plain_chat_completion_needs_no_converter():
    import subprocess
    import sys

    code = (
        "import sys; from llmplug.core.convert import structure; from llmplug.core.models import ChatCompletion\n"
        "r = structure({'choices': [{'message': {'content': 'hi'}}], 'usage': {'total_tokens': 1}}, ChatCompletion)\n"
        "assert r.content == 'hi' and r.usage.total_tokens == 1; print('cattrs' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
