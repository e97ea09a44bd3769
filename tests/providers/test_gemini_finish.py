"""Why a Gemini answer ended: each row of the tables in docs/gemini.md, checked
against the ``gemini`` provider over real sockets, streamed and not. The
expected values are read from the doc, not from the provider's code."""

from __future__ import annotations

import json
import pathlib
import re

import pytest
from google.ai.generativelanguage_v1beta import types as gl

import llmplug
from tests.conftest import TEST_KEY
from tests.providers.gemini_protos import gemini_protos  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("gemini_protos")

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "gemini.md"
GEN = "/v1beta/models/gemini-2.5-flash:generateContent"
STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
USER = [{"role": "user", "content": "Say hello"}]
_ROW = re.compile(r"^\| `([A-Z_]+)` \| `([a-z_]+|None)` \|")


def doc_table(header: str) -> dict[str, str | None]:
    """The rows (Gemini reason -> ``finish_reason``) of the doc's table whose header starts with ``header``."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows: dict[str, str | None] = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        found = _ROW.match(line)
        assert found, f"a row of {header!r} in {DOC.name} is not '| `REASON` | `finish_reason` |': {line}"
        rows[found.group(1)] = None if found.group(2) == "None" else found.group(2)
    return rows


FINISH = doc_table("| Gemini reason |")
BLOCK = doc_table("| Gemini `blockReason` |")


def test_the_doc_lists_every_reason_of_the_installed_protos():
    assert {r.name for r in gl.Candidate.FinishReason} <= set(FINISH)
    blocks = {r.name for r in gl.GenerateContentResponse.PromptFeedback.BlockReason} - {"BLOCK_REASON_UNSPECIFIED"}
    assert blocks <= set(BLOCK)
    assert {"MODEL_ARMOR", "JAILBREAK"} <= set(BLOCK) and "MODEL_ARMOR" in FINISH


@pytest.fixture
def gemini(api, transport):
    with llmplug.new("gemini", api_key=TEST_KEY, base_url=api.url + "/v1beta", transport=transport, max_retries=0) as c:
        yield c


def _sse(*events: dict) -> list[str]:
    return ["data: " + json.dumps(e) + "\r\n\r\n" for e in events]


def _assert_choice(choice, reason: str, expected: str | None, message: str) -> None:
    assert (choice.finish_reason, choice.native_finish_reason, choice.finish_message) == (expected, reason, message)


@pytest.mark.parametrize(("reason", "expected"), sorted(FINISH.items()))
def test_candidate_finish_reason(gemini, api, reason, expected):
    message = f"The response stopped: {reason}."
    api.queue("POST", GEN, json={"candidates": [{"finishReason": reason, "finishMessage": message, "index": 0}],
                                 "modelVersion": "gemini-2.5-flash", "responseId": "r1"})
    _, body, _ = gemini.create_chat_completion(USER)
    _assert_choice(body.choices[0], reason, expected, message)
    assert body.choices[0].message.content is None
    if expected is None:
        return  # a stream whose only reason is "unspecified" never finishes
    head = {"modelVersion": "gemini-2.5-flash", "responseId": "r2"}
    api.queue("POST", STREAM, events=_sse(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "Once"}]}, "index": 0}], **head},
        {"candidates": [{"finishReason": reason, "finishMessage": message, "index": 0}], **head},
    ))
    chunks = []
    _, streamed, _ = gemini.create_chat_completion(USER, chunk_callback=chunks.append)
    _assert_choice(streamed.choices[0], reason, expected, message)
    _assert_choice(chunks[-1].choices[0], reason, expected, message)
    assert streamed.content == "Once"


@pytest.mark.parametrize(("reason", "expected"), sorted(BLOCK.items()))
def test_prompt_block_reason(gemini, api, reason, expected):
    message = f"The prompt was blocked: {reason}."
    blocked = {"promptFeedback": {"blockReason": reason, "blockReasonMessage": message},
               "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}, "modelVersion": "gemini-2.5-flash"}
    api.queue("POST", GEN, json=blocked)
    api.queue("POST", STREAM, events=_sse(blocked))
    _, body, _ = gemini.create_chat_completion(USER)
    _, streamed, _ = gemini.create_chat_completion(USER, chunk_callback=lambda chunk: None)
    for choice in (body.choices[0], streamed.choices[0]):
        _assert_choice(choice, reason, expected, message)
        assert choice.message.content is None and reason in choice.message.refusal and message in choice.message.refusal


def test_tool_call_with_stop_is_tool_calls(gemini, api):
    api.queue("POST", GEN, json={"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "add", "args": {}}}]}, "finishReason": "STOP", "index": 0}]})
    _, body, _ = gemini.create_chat_completion(USER)
    assert (body.choices[0].finish_reason, body.choices[0].native_finish_reason) == ("tool_calls", "STOP")
