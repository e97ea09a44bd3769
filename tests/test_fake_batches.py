"""The fake API's Batch APIs (``llmplug.testing``), over real HTTP.

OpenAI's ``/v1/batches`` (checked against OpenAI's OpenAPI spec) and Gemini's
batch mode (``:batchGenerateContent``, ``batches/*``, checked against the
shapes Google sends) with Gemini's Files API (resumable uploads). Jobs live by
``api.batch_clock``, which only moves when a test advances it, so every state
and every count can be asserted at a known time.
"""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import http.client
import json
import pathlib
import socket
import time
import tracemalloc
from typing import Any
from urllib.parse import urlsplit

import pytest

from llmplug.testing import FakeAPI, Reply
from llmplug.testing.batches import BatchClock, BatchSettings
from llmplug.testing.gemini_api import gemini_service
from llmplug.testing.gemini_api.batches import BATCH_TYPE, OUTPUT_TYPE
from llmplug.testing.openai_api.files import file_content
from llmplug.testing.openai_api.service import openai_service

CHAT = "/v1/chat/completions"
GEMINI_BATCH = "/v1beta/models/gemini-2.5-flash:batchGenerateContent"
GEMINI_GEN = "/v1beta/models/gemini-2.5-flash:generateContent"
SPEC = pathlib.Path(__file__).resolve().parents[2] / "shared" / "reference" / "openai-openapi.yaml"

#: The Batch object's fields, as OpenAI's spec lists them.
BATCH_FIELDS = {
    "id", "object", "endpoint", "model", "errors", "input_file_id", "completion_window", "status", "output_file_id",
    "error_file_id", "created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at",
    "expired_at", "cancelling_at", "cancelled_at", "request_counts", "usage", "metadata",
}


# --------------------------------------------------------------------------
# HTTP helpers
# --------------------------------------------------------------------------


class Answer:
    def __init__(self, status: int, headers: Any, data: bytes) -> None:
        self.status, self.headers, self.data = status, headers, data

    @property
    def json(self) -> Any:
        return json.loads(self.data)

    def lines(self) -> list[Any]:
        return [json.loads(line) for line in self.data.splitlines() if line.strip()]


def call(api: FakeAPI, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
         headers: dict[str, str] | None = None) -> Answer:
    """One request; ``path`` may be an absolute URL on the fake (an upload URL)."""
    if path.startswith("http"):
        split = urlsplit(path)
        path = split.path + ("?" + split.query if split.query else "")
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=60)
    try:
        conn.request(method, path, body=data, headers=hdrs)
        response = conn.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        conn.close()


def upload_openai(api: FakeAPI, data: bytes, purpose: str = "batch", filename: str = "input.jsonl") -> str:
    """Upload through ``POST /v1/files`` (multipart) and return the file id."""
    boundary = "----llmplugbatchtest"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\n{purpose}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/jsonl\r\n\r\n"
    ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    answer = call(api, "POST", "/v1/files", raw=body,
                  headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert answer.status == 200, answer.data
    return answer.json["id"]


def jsonl(items: list[Any]) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


def chat_line(custom_id: str, text: str, **params: Any) -> dict[str, Any]:
    body = {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": text}], **params}
    return {"custom_id": custom_id, "method": "POST", "url": CHAT, "body": body}


def create_openai_batch(api: FakeAPI, lines: list[Any] | bytes, endpoint: str = CHAT, **extra: Any) -> dict[str, Any]:
    data = lines if isinstance(lines, bytes) else jsonl(lines)
    file_id = upload_openai(api, data)
    answer = call(api, "POST", "/v1/batches",
                  {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h", **extra})
    assert answer.status == 200, answer.data
    return answer.json


def get_batch(api: FakeAPI, batch_id: str) -> dict[str, Any]:
    answer = call(api, "GET", f"/v1/batches/{batch_id}")
    assert answer.status == 200, answer.data
    return answer.json


def content(api: FakeAPI, file_id: str) -> Answer:
    answer = call(api, "GET", f"/v1/files/{file_id}/content")
    assert answer.status == 200, answer.data
    return answer


def without_ids(body: dict[str, Any]) -> dict[str, Any]:
    """A completion body without what differs between two calls (ids, times)."""
    out = copy.deepcopy(body)
    for key in ("id", "created", "responseId"):
        out.pop(key, None)
    for choice in out.get("choices") or []:
        for call_ in (choice.get("message") or {}).get("tool_calls") or []:
            call_.pop("id", None)
    return out


@functools.lru_cache(maxsize=1)
def spec_schemas() -> dict[str, Any] | None:
    if not SPEC.is_file():
        return None
    import yaml

    with SPEC.open() as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))["components"]["schemas"]


def drop_nulls(value: Any) -> Any:
    """The spec types nullable Batch fields as plain strings/integers: check the others."""
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


def spec_errors(name: str, value: Any) -> list[str]:
    """Where ``value`` breaks OpenAI's spec schema ``name`` (nulls aside)."""
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    schemas = spec_schemas()
    assert schemas is not None
    resource = Resource(contents={"components": {"schemas": schemas}}, specification=DRAFT202012)
    registry = Registry().with_resource("urn:spec", resource)
    validator = jsonschema.Draft202012Validator({"$ref": f"urn:spec#/components/schemas/{name}"}, registry=registry)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(drop_nulls(value))]


def check_batch(batch: dict[str, Any]) -> None:
    assert set(batch) == BATCH_FIELDS
    assert batch["object"] == "batch" and batch["id"].startswith("batch_")
    if spec_schemas() is not None:
        assert spec_errors("Batch", batch) == []


# --------------------------------------------------------------------------
# the clock and the settings
# --------------------------------------------------------------------------


def test_clock_moves_only_when_advanced_and_reset_restores(api):
    start = api.batch_clock.now()
    assert abs(start - time.time()) < 120  # the real time when the server (re)started
    assert api.batch_clock.now() == start  # frozen
    assert api.batch_clock.advance(90.5) == start + 90.5
    with pytest.raises(ValueError):
        api.batch_clock.advance(-1)
    api.batch_settings.run_seconds = 5
    api.reset()
    assert api.batch_settings == BatchSettings()
    assert api.batch_clock.now() < start + 90  # back to the real time
    clock = BatchClock(start=100.0)
    clock.advance(5)
    assert clock.now() == 105.0


def test_every_service_shares_the_apis_clock_and_settings(api):
    assert all(service.batch_clock is api.batch_clock for service in api.services)
    assert all(service.batch_settings is api.batch_settings for service in api.services)


# --------------------------------------------------------------------------
# OpenAI: states, counts, output
# --------------------------------------------------------------------------


def test_openai_batch_walks_every_state_on_the_clock(api):
    lines = [chat_line(f"req-{i}", f"hello number {i}") for i in range(10)]
    batch = create_openai_batch(api, lines, metadata={"job": "nightly"})
    check_batch(batch)
    created = batch["created_at"]
    assert batch["status"] == "validating"
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert batch["expires_at"] == created + 24 * 3600
    assert batch["metadata"] == {"job": "nightly"} and batch["errors"] is None
    assert batch["in_progress_at"] is None and batch["output_file_id"] is None

    api.batch_clock.advance(9.5)
    assert get_batch(api, batch["id"])["status"] == "validating"
    api.batch_clock.advance(0.5)  # validate_seconds = 10
    batch = get_batch(api, batch["id"])
    check_batch(batch)
    assert batch["status"] == "in_progress" and batch["in_progress_at"] == created + 10
    assert batch["request_counts"] == {"total": 10, "completed": 0, "failed": 0}
    assert batch["model"] == "gpt-4.1-mini"

    seen = []
    for _ in range(6):  # run_seconds = 60: a line every 6 s
        api.batch_clock.advance(6)
        batch = get_batch(api, batch["id"])
        seen.append(batch["request_counts"]["completed"])
        assert batch["status"] == "in_progress"
    assert seen == [1, 2, 3, 4, 5, 6]
    assert batch["usage"]["input_tokens"] > 0 and batch["usage"]["total_tokens"] > batch["usage"]["input_tokens"]

    api.batch_clock.advance(24)
    batch = get_batch(api, batch["id"])
    assert batch["status"] == "finalizing" and batch["finalizing_at"] == created + 70
    assert batch["request_counts"]["completed"] == 10 and batch["output_file_id"] is None
    api.batch_clock.advance(10)  # finalize_seconds = 10
    batch = get_batch(api, batch["id"])
    check_batch(batch)
    assert batch["status"] == "completed" and batch["completed_at"] == created + 80
    assert batch["request_counts"] == {"total": 10, "completed": 10, "failed": 0}
    assert batch["error_file_id"] is None  # nothing failed: no error file
    meta = call(api, "GET", f"/v1/files/{batch['output_file_id']}").json
    assert meta["purpose"] == "batch_output" and meta["filename"] == f"{batch['id']}_output.jsonl"
    out = content(api, batch["output_file_id"]).lines()
    assert [line["custom_id"] for line in out] == [f"req-{i}" for i in range(10)]
    first = out[0]
    assert set(first) == {"id", "custom_id", "response", "error"} and first["error"] is None
    assert first["id"].startswith("batch_req_")
    assert first["response"]["status_code"] == 200 and first["response"]["request_id"].startswith("req_")
    assert first["response"]["body"]["choices"][0]["message"]["content"] == "You said: hello number 0"

    api.batch_clock.advance(3600)  # a finished job stays as it is
    assert get_batch(api, batch["id"])["completed_at"] == created + 80


def test_settings_are_copied_per_job_and_a_jobs_own_can_change(api):
    api.batch_settings.validate_seconds = 0
    api.batch_settings.run_seconds = 10
    fast = create_openai_batch(api, [chat_line("a", "one"), chat_line("b", "two")])
    assert fast["status"] == "in_progress"  # no validation time: validated on creation
    api.batch_settings.run_seconds = 1000
    slow = create_openai_batch(api, [chat_line("a", "one"), chat_line("b", "two")])
    openai_service(api).batches[slow["id"]].settings.finalize_seconds = 0
    api.batch_clock.advance(25)
    assert get_batch(api, fast["id"])["status"] == "completed"
    assert get_batch(api, slow["id"])["request_counts"]["completed"] == 0
    api.batch_clock.advance(1000)
    assert get_batch(api, slow["id"])["completed_at"] == slow["created_at"] + 1000  # its own finalize_seconds: 0


def test_1000_line_chat_batch_answers_as_synchronous_calls_do(api):
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}}}
    schema = {"type": "json_schema", "json_schema": {"name": "Person", "strict": True, "schema": {
        "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"], "additionalProperties": False}}}
    lines = []
    for i in range(1000):
        kind = i % 4
        if kind == 0:
            lines.append(chat_line(f"line-{i}", f"tell me about item {i}", max_tokens=3 + i % 5))
        elif kind == 1:
            lines.append(chat_line(f"line-{i}", f'call get_weather {{"city": "Paris {i}"}}', tools=[tool]))
        elif kind == 2:
            lines.append(chat_line(f"line-{i}", f"describe person {i}", response_format=schema))
        else:
            lines.append(chat_line(f"line-{i}", f"how do I kill process {i}", n=2))
    batch = create_openai_batch(api, lines)
    api.batch_clock.advance(10 + 30)
    half = get_batch(api, batch["id"])
    assert half["request_counts"] == {"total": 1000, "completed": 500, "failed": 0}
    api.batch_clock.advance(40)
    batch = get_batch(api, batch["id"])
    assert batch["status"] == "completed" and batch["request_counts"]["completed"] == 1000
    out = {line["custom_id"]: line for line in content(api, batch["output_file_id"]).lines()}
    assert len(out) == 1000
    kinds = set()
    for line in lines:
        sync = call(api, "POST", CHAT, line["body"])
        assert sync.status == 200
        got = out[line["custom_id"]]["response"]
        assert got["status_code"] == 200
        assert without_ids(got["body"]) == without_ids(sync.json), line["custom_id"]
        message = got["body"]["choices"][0]["message"]
        kinds.add("tool" if message.get("tool_calls") else "refusal" if message["refusal"] else
                  "json" if message["content"].startswith("{") else "text")
    assert kinds == {"tool", "refusal", "json", "text"}  # each kind of answer came through
    assert sum(1 for line in out.values() if line["response"]["body"]["choices"][0]["finish_reason"] == "length") > 0


def test_embeddings_batch_gives_the_synchronous_vectors(api):
    lines = [{"custom_id": f"e{i}", "method": "POST", "url": "/v1/embeddings",
              "body": {"model": "text-embedding-3-small", "input": f"text {i}", "dimensions": 4}} for i in range(5)]
    batch = create_openai_batch(api, lines, endpoint="/v1/embeddings")
    api.batch_clock.advance(100)
    batch = get_batch(api, batch["id"])
    assert batch["status"] == "completed"
    for line in content(api, batch["output_file_id"]).lines():
        body = line["response"]["body"]
        sync = call(api, "POST", "/v1/embeddings", lines[int(line["custom_id"][1:])]["body"]).json
        assert body["data"] == sync["data"] and body["object"] == "list"


def test_lines_the_endpoint_refuses_go_to_the_error_file(api):
    lines = [
        chat_line("ok-1", "fine"),
        chat_line("bad-n", "fine", n=0),
        {"custom_id": "bad-role", "method": "POST", "url": CHAT,
         "body": {"model": "gpt-4.1-mini", "messages": [{"role": "robot", "content": "x"}]}},
        chat_line("ok-2", "fine too"),
    ]
    batch = create_openai_batch(api, lines)
    api.batch_clock.advance(100)
    batch = get_batch(api, batch["id"])
    assert batch["status"] == "completed"
    assert batch["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    assert [line["custom_id"] for line in content(api, batch["output_file_id"]).lines()] == ["ok-1", "ok-2"]
    errors = {line["custom_id"]: line for line in content(api, batch["error_file_id"]).lines()}
    assert set(errors) == {"bad-n", "bad-role"}
    for custom_id, index in (("bad-n", 1), ("bad-role", 2)):
        line = errors[custom_id]
        assert line["error"] is None and line["response"]["status_code"] == 400
        sync = call(api, "POST", CHAT, lines[index]["body"])
        assert sync.status == 400 and line["response"]["body"] == sync.json
    assert errors["bad-n"]["response"]["body"]["error"]["code"] == "integer_below_min_value"


def test_a_test_can_fail_chosen_lines_with_a_server_status(api):
    openai_service(api).fail_batch_lines.update({"r1": 500, "r2": 429})
    batch = create_openai_batch(api, [chat_line(f"r{i}", "x") for i in range(4)])
    api.batch_clock.advance(100)
    batch = get_batch(api, batch["id"])
    assert batch["request_counts"] == {"total": 4, "completed": 2, "failed": 2}
    errors = {line["custom_id"]: line["response"] for line in content(api, batch["error_file_id"]).lines()}
    assert {k: v["status_code"] for k, v in errors.items()} == {"r1": 500, "r2": 429}
    assert errors["r2"]["body"]["error"]["code"] == "rate_limit_exceeded"
    api.reset()
    assert openai_service(api).fail_batch_lines == {}


def test_all_lines_failing_leaves_no_output_file(api):
    batch = create_openai_batch(api, [chat_line("x", "hi", n=0)])
    api.batch_clock.advance(100)
    batch = get_batch(api, batch["id"])
    assert batch["status"] == "completed" and batch["output_file_id"] is None and batch["error_file_id"]
    assert batch["request_counts"] == {"total": 1, "completed": 0, "failed": 1}


def test_validation_failures_name_their_lines(api):
    good = chat_line("a", "fine")
    data = b"\n".join([
        json.dumps(good).encode(),                                                      # 1
        b'{"custom_id": "b", "method": "POST", "url": ',                                # 2 not JSON
        json.dumps({"method": "POST", "url": CHAT, "body": good["body"]}).encode(),     # 3 no custom_id
        json.dumps({**chat_line("d", "x"), "url": "/v1/embeddings"}).encode(),          # 4 wrong url
        json.dumps(chat_line("a", "dup")).encode(),                                     # 5 duplicate custom_id
        json.dumps(chat_line("f", "x", stream=True)).encode(),                          # 6 streaming
        json.dumps({**chat_line("g", "x"), "method": "GET"}).encode(),                  # 7 method
        json.dumps({"custom_id": "h", "method": "POST", "url": CHAT,
                    "body": {"messages": [{"role": "user", "content": "x"}]}}).encode(),  # 8 no model
        b"",                                                                            # blank: skipped
        json.dumps({**chat_line("i", "x"), "body": {"model": "gpt-4o", "messages": []}}).encode(),  # 10 model
    ])
    batch = create_openai_batch(api, data)
    assert batch["status"] == "validating"
    api.batch_clock.advance(10)
    batch = get_batch(api, batch["id"])
    check_batch(batch)
    assert batch["status"] == "failed" and batch["failed_at"] == batch["created_at"] + 10
    assert batch["in_progress_at"] is None and batch["output_file_id"] is None
    assert batch["request_counts"] == {"total": 0, "completed": 0, "failed": 0}
    assert batch["errors"]["object"] == "list"
    found = [(e["line"], e["code"], e["param"]) for e in batch["errors"]["data"]]
    assert found == [
        (2, "invalid_json_line", None),
        (3, "missing_required_parameter", "custom_id"),
        (4, "invalid_url", "url"),
        (5, "duplicate_custom_id", "custom_id"),
        (6, "streaming_unsupported", "body.stream"),
        (7, "invalid_value", "method"),
        (8, "invalid_request", "body.model"),
        (10, "mismatched_model", "body.model"),
    ]
    messages = {e["code"]: e["message"] for e in batch["errors"]["data"]}
    assert messages["invalid_json_line"] == "This line is not parseable as valid JSON."
    assert messages["missing_required_parameter"] == "Missing required parameter: 'custom_id'."
    assert messages["streaming_unsupported"] == "Chat Completions: Streaming is not supported in the Batch API."
    api.batch_clock.advance(1000)
    assert get_batch(api, batch["id"])["status"] == "failed"


def test_input_file_limits(api):
    api.batch_settings.max_requests = 3
    batch = create_openai_batch(api, [chat_line(f"r{i}", "x") for i in range(4)])
    api.batch_clock.advance(10)
    errors = get_batch(api, batch["id"])["errors"]["data"]
    assert [e["code"] for e in errors] == ["too_many_tasks"] and "at most 3" in errors[0]["message"]
    api.batch_settings.max_requests = 50_000
    api.batch_settings.max_file_bytes = 100
    batch = create_openai_batch(api, [chat_line(f"r{i}", "x") for i in range(4)])
    api.batch_clock.advance(10)
    assert [e["code"] for e in get_batch(api, batch["id"])["errors"]["data"]] == ["file_too_large"]
    batch = create_openai_batch(api, b"\n\n")
    api.batch_clock.advance(10)
    assert [e["code"] for e in get_batch(api, batch["id"])["errors"]["data"]] == ["empty_file"]


def test_creation_checks(api):
    file_id = upload_openai(api, jsonl([chat_line("a", "x")]))
    base = {"input_file_id": file_id, "endpoint": CHAT, "completion_window": "24h"}

    def error(body: dict[str, Any]) -> dict[str, Any]:
        answer = call(api, "POST", "/v1/batches", body)
        assert answer.status == 400, answer.data
        return answer.json["error"]

    assert error({**base, "endpoint": "/v1/nope"})["code"] == "invalid_value"
    assert "'/v1/chat/completions'" in error({**base, "endpoint": "/v1/nope"})["message"]
    assert error({**base, "completion_window": "1h"})["param"] == "completion_window"
    assert error({k: v for k, v in base.items() if k != "input_file_id"})["code"] == "missing_required_parameter"
    assert error({**base, "metadata": {"tags": ["a"]}}) == {
        "message": "Invalid type for 'metadata.tags': expected a string, but got an array instead.",
        "type": "invalid_request_error", "param": "metadata.tags", "code": "invalid_type"}
    assert error({**base, "metadata": {f"k{i}": "v" for i in range(17)}})["code"] == "object_above_max_properties"
    other = upload_openai(api, jsonl([chat_line("a", "x")]), purpose="user_data")
    assert error({**base, "input_file_id": other})["param"] == "input_file_id"
    assert call(api, "GET", "/v1/batches/batch_nope").json["error"]["message"] == "No batch found with id 'batch_nope'."
    assert call(api, "POST", "/v1/batches/batch_nope/cancel").status == 404
    assert openai_service(api).batches == {}  # no batch was made by a refused request


def test_unknown_input_file_fails_in_validation(api):
    answer = call(api, "POST", "/v1/batches", {"input_file_id": "file-nope", "endpoint": CHAT,
                                               "completion_window": "24h"})
    assert answer.status == 200 and answer.json["status"] == "validating"
    api.batch_clock.advance(10)
    batch = get_batch(api, answer.json["id"])
    assert batch["status"] == "failed"
    assert [(e["code"], e["param"], e["line"]) for e in batch["errors"]["data"]] == [
        ("invalid_request", "file_id", None)]
    assert batch["errors"]["data"][0]["message"].startswith("Cannot find file file-nope")


def test_expiry_keeps_the_answered_lines_and_reports_the_rest(api):
    api.batch_settings.run_seconds = 2 * 86400  # finishes after the 24 h window closes
    lines = [chat_line(f"r{i}", f"line {i}") for i in range(10)]
    batch = create_openai_batch(api, lines)
    api.batch_clock.advance(86399)
    assert get_batch(api, batch["id"])["status"] == "in_progress"
    api.batch_clock.advance(1)
    batch = get_batch(api, batch["id"])
    check_batch(batch)
    assert batch["status"] == "expired" and batch["expired_at"] == batch["expires_at"] == batch["created_at"] + 86400
    assert batch["completed_at"] is None and batch["finalizing_at"] is None
    # at 24 h, (86400 - 10) / 172800 of the run had passed: 4 of 10 lines answered
    assert batch["request_counts"] == {"total": 10, "completed": 4, "failed": 6}
    done = [line["custom_id"] for line in content(api, batch["output_file_id"]).lines()]
    assert done == ["r0", "r1", "r2", "r3"]
    expired = content(api, batch["error_file_id"]).lines()
    assert [line["custom_id"] for line in expired] == [f"r{i}" for i in range(4, 10)]
    assert expired[0]["response"] is None and expired[0]["error"] == {
        "code": "batch_expired", "message": "This request could not be executed before the completion window expired."}
    api.batch_clock.advance(86400)
    assert get_batch(api, batch["id"])["status"] == "expired"


def test_cancel_is_cancelling_then_cancelled_with_the_partial_results(api):
    api.batch_settings.run_seconds = 100
    batch = create_openai_batch(api, [chat_line(f"r{i}", f"line {i}") for i in range(10)])
    api.batch_clock.advance(10 + 35)
    answer = call(api, "POST", f"/v1/batches/{batch['id']}/cancel")
    assert answer.status == 200
    cancelling = answer.json
    check_batch(cancelling)
    assert cancelling["status"] == "cancelling" and cancelling["cancelling_at"] == batch["created_at"] + 45
    assert cancelling["request_counts"] == {"total": 10, "completed": 3, "failed": 0}
    assert get_batch(api, batch["id"])["status"] == "cancelling"  # until the clock moves
    again = call(api, "POST", f"/v1/batches/{batch['id']}/cancel")
    assert again.status == 200 and again.json["status"] == "cancelling"
    api.batch_clock.advance(1)  # cancel_seconds = 1
    cancelled = get_batch(api, batch["id"])
    check_batch(cancelled)
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_at"] == batch["created_at"] + 46
    assert cancelled["request_counts"] == {"total": 10, "completed": 3, "failed": 0}
    assert [line["custom_id"] for line in content(api, cancelled["output_file_id"]).lines()] == ["r0", "r1", "r2"]
    assert cancelled["error_file_id"] is None
    assert call(api, "POST", f"/v1/batches/{batch['id']}/cancel").json["status"] == "cancelled"

    done = create_openai_batch(api, [chat_line("a", "x")])
    api.batch_clock.advance(200)
    assert get_batch(api, done["id"])["status"] == "completed"
    refused = call(api, "POST", f"/v1/batches/{done['id']}/cancel")
    assert refused.status == 409
    assert refused.json["error"]["message"] == "Cannot cancel a batch with status 'completed'."


def test_cancel_while_validating(api):
    batch = create_openai_batch(api, [chat_line("a", "x")])
    assert call(api, "POST", f"/v1/batches/{batch['id']}/cancel").json["status"] == "cancelling"
    api.batch_clock.advance(5)
    batch = get_batch(api, batch["id"])
    assert batch["status"] == "cancelled" and batch["in_progress_at"] is None and batch["output_file_id"] is None


def test_list_pages_newest_first(api):
    ids = [create_openai_batch(api, [chat_line("a", f"x{i}")])["id"] for i in range(5)]
    page = call(api, "GET", "/v1/batches?limit=2").json
    assert page["object"] == "list" and page["has_more"] is True
    assert [b["id"] for b in page["data"]] == [ids[4], ids[3]]
    assert (page["first_id"], page["last_id"]) == (ids[4], ids[3])
    page = call(api, "GET", f"/v1/batches?limit=2&after={page['last_id']}").json
    assert [b["id"] for b in page["data"]] == [ids[2], ids[1]] and page["has_more"] is True
    page = call(api, "GET", f"/v1/batches?limit=2&after={page['last_id']}").json
    assert [b["id"] for b in page["data"]] == [ids[0]] and page["has_more"] is False
    everything = call(api, "GET", "/v1/batches").json
    assert len(everything["data"]) == 5 and everything["has_more"] is False
    for batch in everything["data"]:
        check_batch(batch)
    api.batch_clock.advance(100)  # a listing brings jobs up to the clock too
    assert {b["status"] for b in call(api, "GET", "/v1/batches").json["data"]} == {"completed"}
    assert call(api, "GET", "/v1/batches?limit=0").status == 400
    assert call(api, "GET", "/v1/batches?limit=101").json["error"]["code"] == "integer_above_max_value"
    if spec_schemas() is not None:
        assert spec_errors("ListBatchesResponse", call(api, "GET", "/v1/batches?limit=2").json) == []


def test_batch_objects_conform_to_openais_spec(api):
    if spec_schemas() is None:
        pytest.skip(f"OpenAI's spec is not at {SPEC}")
    batch = create_openai_batch(api, [chat_line("a", "x")])
    assert spec_errors("Batch", batch) == []
    broken = dict(batch, status="running", request_counts={"total": "1"})
    assert len(spec_errors("Batch", broken)) >= 2  # the check can fail
    api.batch_clock.advance(100)
    batch = get_batch(api, batch["id"])
    assert spec_errors("Batch", batch) == []
    meta = call(api, "GET", f"/v1/files/{batch['output_file_id']}").json
    assert spec_errors("OpenAIFile", meta) == []


def test_a_50mb_file_is_streamed_in_chunks_without_a_copy(api):
    svc = openai_service(api)
    data = bytes(range(256)) * (50 * 1024 * 1024 // 256)
    meta = svc.add_file(data, "batch_output", "big.jsonl")
    assert svc.file_data[meta["id"]] is data  # stored as given

    reply = file_content(svc, None, meta["id"])  # the handler's reply: a lazy stream of views
    assert isinstance(reply, Reply) and reply.body is None and reply.json is None
    assert iter(reply.body_chunks) is reply.body_chunks  # an iterator, not a built body
    first = next(reply.body_chunks)
    assert isinstance(first, memoryview) and first.obj is data and len(first) == 64 * 1024

    tracemalloc.start()
    try:
        with socket.create_connection(("127.0.0.1", api.port), timeout=60) as sock:
            sock.sendall(f"GET /v1/files/{meta['id']}/content HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            stream = sock.makefile("rb")
            head = []
            while (line := stream.readline()) not in (b"\r\n", b""):
                head.append(line.decode("latin-1").strip())
            assert head[0].startswith("HTTP/1.1 200")
            assert "Transfer-Encoding: chunked" in head and not any(h.startswith("Content-Length") for h in head)
            digest, total, chunks = hashlib.sha256(), 0, 0
            while True:
                size = int(stream.readline().strip(), 16)
                if size == 0:
                    break
                piece = stream.read(size)
                assert stream.read(2) == b"\r\n"
                digest.update(piece)
                total += size
                chunks += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == len(data) and digest.digest() == hashlib.sha256(data).digest()
    assert chunks >= 800  # 50 MiB in 64 KiB pieces
    assert peak < 10 * 1024 * 1024  # no 50 MB copy was built on the way out


def test_small_files_still_download_whole(api):
    file_id = upload_openai(api, b'{"a": 1}\n')
    answer = call(api, "GET", f"/v1/files/{file_id}/content")
    assert answer.status == 200 and answer.data == b'{"a": 1}\n'
    assert answer.headers["Transfer-Encoding"] == "chunked"


# --------------------------------------------------------------------------
# Gemini batch mode
# --------------------------------------------------------------------------


def gemini_request(text: str, **config: Any) -> dict[str, Any]:
    request: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    if config:
        request["generationConfig"] = config
    return request


def create_gemini_batch(api: FakeAPI, batch: dict[str, Any], path: str = GEMINI_BATCH) -> dict[str, Any]:
    answer = call(api, "POST", path, {"batch": batch})
    assert answer.status == 200, answer.data
    assert answer.headers["Content-Type"] == "application/json; charset=UTF-8"
    return answer.json


def get_operation(api: FakeAPI, name: str) -> dict[str, Any]:
    answer = call(api, "GET", f"/v1beta/{name}")
    assert answer.status == 200, answer.data
    return answer.json


def gemini_error(answer: Answer, status: int, name: str) -> str:
    assert answer.status == status, answer.data
    error = answer.json["error"]
    assert (error["code"], error["status"]) == (status, name)
    return error["message"]


def check_operation(op: dict[str, Any], state: str) -> None:
    """The shape Google sends (keys in its order)."""
    meta = op["metadata"]
    assert op["name"].startswith("batches/") and meta["name"] == op["name"]
    assert meta["@type"] == BATCH_TYPE and meta["model"] == "models/gemini-2.5-flash"
    assert meta["state"] == state
    keys = [k for k in ("@type", "model", "displayName", "inputConfig", "output", "createTime", "endTime",
                        "updateTime", "batchStats", "state", "name") if k in meta]
    assert list(meta) == keys
    done = state in ("BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED", "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED")
    assert op.get("done") is (True if done else None)
    assert ("endTime" in meta) is done
    assert all(isinstance(v, str) and v.isdigit() and v != "0" for v in meta["batchStats"].values())


def test_gemini_inline_batch_walks_every_state(api):
    requests = [{"request": gemini_request(f"question {i}"), "metadata": {"key": f"k{i}"}} for i in range(4)]
    bad = gemini_request("bad", responseMimeType="text/plain", responseSchema={"type": "STRING"})
    requests.append({"request": bad, "metadata": {"key": "bad"}})
    op = create_gemini_batch(api, {"display_name": "nightly", "input_config": {"requests": {"requests": requests}}})
    check_operation(op, "BATCH_STATE_PENDING")
    assert op["metadata"]["displayName"] == "nightly" and "inputConfig" not in op["metadata"]
    assert op["metadata"]["batchStats"] == {"requestCount": "5", "pendingRequestCount": "5"}
    assert op["metadata"]["createTime"] == op["metadata"]["updateTime"]

    api.batch_clock.advance(10)
    running = get_operation(api, op["name"])
    check_operation(running, "BATCH_STATE_RUNNING")
    assert running["metadata"]["updateTime"] > running["metadata"]["createTime"]
    api.batch_clock.advance(36)  # 3 of 5 lines: 2 good, then...
    api.batch_clock.advance(12)  # ... 4 of 5
    running = get_operation(api, op["name"])
    assert running["metadata"]["batchStats"] == {"requestCount": "5", "successfulRequestCount": "4",
                                                 "pendingRequestCount": "1"}
    api.batch_clock.advance(12)  # run over; the last line fails
    running = get_operation(api, op["name"])
    check_operation(running, "BATCH_STATE_RUNNING")  # finalize_seconds: still RUNNING
    assert running["metadata"]["batchStats"] == {"requestCount": "5", "successfulRequestCount": "4",
                                                 "failedRequestCount": "1"}
    api.batch_clock.advance(10)
    done = get_operation(api, op["name"])
    check_operation(done, "BATCH_STATE_SUCCEEDED")
    assert done["response"]["@type"] == OUTPUT_TYPE
    assert {k: v for k, v in done["response"].items() if k != "@type"} == done["metadata"]["output"]
    items = done["response"]["inlinedResponses"]["inlinedResponses"]
    assert [item["metadata"] for item in items] == [r["metadata"] for r in requests]
    for item, request in zip(items[:4], requests):
        sync = call(api, "POST", GEMINI_GEN, request["request"])
        assert sync.status == 200 and without_ids(item["response"]) == without_ids(sync.json)
        assert item["response"]["candidates"][0]["content"]["parts"][-1]["text"].startswith("You said: question")
    assert set(items[4]) == {"error", "metadata"}
    sync_error = call(api, "POST", GEMINI_GEN, bad)
    assert items[4]["error"]["code"] == 3 and items[4]["error"]["message"] == sync_error.json["error"]["message"]


def test_gemini_a_test_can_fail_chosen_requests(api):
    gemini_service(api).fail_batch_lines["k1"] = 503
    op = create_gemini_batch(api, {"inputConfig": {"requests": {"requests": [
        {"request": gemini_request(f"x{i}"), "metadata": {"key": f"k{i}"}} for i in range(3)]}}})
    api.batch_clock.advance(80)
    items = get_operation(api, op["name"])["response"]["inlinedResponses"]["inlinedResponses"]
    assert ["error" in item for item in items] == [False, True, False]
    assert items[1]["error"] == {"code": 14, "message": "The model is overloaded. Please try again later."}


def test_gemini_batch_takes_camel_case_and_refuses_unknown_fields(api):
    ok = create_gemini_batch(api, {"displayName": "camel", "inputConfig": {"requests": {"requests": [
        {"request": {"model": "models/gemini-2.5-flash", **gemini_request("hi")}}]}}, "priority": "3"})
    assert ok["metadata"]["batchStats"] == {"requestCount": "1", "pendingRequestCount": "1"}
    answer = call(api, "POST", GEMINI_BATCH, {"batch": {"inputConfig": {"requests": {"requests": [
        {"request": {"contents": [{"parts": [{"txt": "hi"}]}]}}]}}}})
    message = gemini_error(answer, 400, "INVALID_ARGUMENT")
    assert 'Unknown name "txt"' in message
    assert "batch.input_config.requests.requests[0].request.contents[0].parts[0]" in message
    gemini_error(call(api, "POST", GEMINI_BATCH, {"batch": {"displayName": "x"}}), 400, "INVALID_ARGUMENT")
    gemini_error(call(api, "POST", "/v1beta/models/gemini-embedding-001:batchGenerateContent",
                      {"batch": {"inputConfig": {"requests": {"requests": [{"request": gemini_request("x")}]}}}}),
                 404, "NOT_FOUND")
    assert len(gemini_service(api).batches) == 1


def test_gemini_inline_payload_limit(api):
    body = {"batch": {"inputConfig": {"requests": {"requests": [{"request": gemini_request("x" * 1000)}]}}}}
    size = len(json.dumps(body).encode())
    api.batch_settings.gemini_inline_bytes = size
    assert call(api, "POST", GEMINI_BATCH, body).status == 200
    api.batch_settings.gemini_inline_bytes = size - 1
    message = gemini_error(call(api, "POST", GEMINI_BATCH, body), 400, "INVALID_ARGUMENT")
    assert message == f"Request payload size exceeds the limit: {size - 1} bytes."
    api.batch_settings.reset()
    big = "y" * (20 * 1024 * 1024)  # Google's 20 MB limit for inline requests
    body = {"batch": {"inputConfig": {"requests": {"requests": [{"request": gemini_request(big)}]}}}}
    message = gemini_error(call(api, "POST", GEMINI_BATCH, body), 400, "INVALID_ARGUMENT")
    assert message == "Request payload size exceeds the limit: 20971520 bytes."
    assert len(gemini_service(api).batches) == 1


def test_gemini_1000_request_batch_answers_as_synchronous_calls_do(api):
    requests = []
    for i in range(1000):
        config = {"maxOutputTokens": 2 + i % 3} if i % 3 == 0 else (
            {"responseMimeType": "application/json"} if i % 3 == 1 else {"candidateCount": 2})
        requests.append({"request": gemini_request(f"topic {i}", **config), "metadata": {"key": str(i)}})
    op = create_gemini_batch(api, {"displayName": "big", "inputConfig": {"requests": {"requests": requests}}})
    api.batch_clock.advance(80)
    done = get_operation(api, op["name"])
    check_operation(done, "BATCH_STATE_SUCCEEDED")
    assert done["metadata"]["batchStats"] == {"requestCount": "1000", "successfulRequestCount": "1000"}
    items = done["response"]["inlinedResponses"]["inlinedResponses"]
    assert [item["metadata"]["key"] for item in items] == [str(i) for i in range(1000)]
    for item, request in zip(items, requests):
        sync = call(api, "POST", GEMINI_GEN, request["request"]).json
        assert without_ids(item["response"]) == without_ids(sync)
    assert {c["finishReason"] for item in items for c in item["response"]["candidates"]} == {"STOP", "MAX_TOKENS"}


def upload_gemini(api: FakeAPI, data: bytes, mime: str = "application/jsonl", name: str = "input",
                  chunk: int | None = None) -> dict[str, Any]:
    """A resumable upload as python-genai does it: start, then upload chunks with offsets, finalize."""
    start = call(api, "POST", "/upload/v1beta/files", {"file": {"display_name": name}}, headers={
        "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": str(len(data)), "X-Goog-Upload-Header-Content-Type": mime})
    assert start.status == 200 and start.data == b"", start.data
    assert start.headers["X-Goog-Upload-Status"] == "active"
    url = start.headers["X-Goog-Upload-URL"]
    assert url.startswith(api.url + "/upload/v1beta/files?upload_id=")
    chunk = chunk or len(data) or 1
    offset = 0
    while True:
        piece = data[offset:offset + chunk]
        last = offset + len(piece) >= len(data)
        answer = call(api, "POST", url, raw=piece, headers={
            "X-Goog-Upload-Command": "upload, finalize" if last else "upload", "X-Goog-Upload-Offset": str(offset)})
        assert answer.status == 200, answer.data
        offset += len(piece)
        if last:
            assert answer.headers["X-Goog-Upload-Status"] == "final"
            return answer.json["file"]
        assert answer.headers["X-Goog-Upload-Status"] == "active" and answer.data == b""
        assert answer.headers["X-Goog-Upload-Size-Received"] == str(offset)


def test_gemini_resumable_upload_and_download_round_trip(api):
    import google.ai.generativelanguage_v1beta as gl
    from google.protobuf import json_format

    data = b"line one\nline two\n" * 100
    meta = upload_gemini(api, data, mime="text/plain", name="notes")
    json_format.Parse(json.dumps(meta), gl.File.pb()(), ignore_unknown_fields=False)
    assert meta["name"].startswith("files/") and meta["displayName"] == "notes"
    assert (meta["mimeType"], meta["sizeBytes"], meta["state"], meta["source"]) == (
        "text/plain", str(len(data)), "ACTIVE", "UPLOADED")
    assert base64.b64decode(meta["sha256Hash"]).decode() == hashlib.sha256(data).hexdigest()
    assert meta["uri"] == f"{api.url}/v1beta/{meta['name']}"
    assert call(api, "GET", f"/v1beta/{meta['name']}").json == meta
    for path in (f"/download/v1beta/{meta['name']}:download?alt=media", f"/v1beta/{meta['name']}:download?alt=media"):
        answer = call(api, "GET", path)
        assert answer.status == 200 and answer.data == data and answer.headers["Content-Type"] == "text/plain"
    listed = call(api, "GET", "/v1beta/files").json
    json_format.Parse(json.dumps(listed), gl.ListFilesResponse.pb()(), ignore_unknown_fields=False)
    assert [f["name"] for f in listed["files"]] == [meta["name"]]
    assert call(api, "DELETE", f"/v1beta/{meta['name']}").json == {}
    message = gemini_error(call(api, "GET", f"/v1beta/{meta['name']}"), 403, "PERMISSION_DENIED")
    assert message == f"You do not have permission to access the File {meta['name'][6:]} or it may not exist."


def test_gemini_chunked_upload_checks_offsets_and_granularity(api):
    svc = gemini_service(api)
    svc.upload_granularity = 4
    data = b"0123456789abcdefXYZ"
    meta = upload_gemini(api, data, chunk=8)  # 8, 8, then 3 with finalize
    assert call(api, "GET", f"/v1beta/{meta['name']}:download?alt=media").data == data

    start = call(api, "POST", "/upload/v1beta/files", {}, headers={
        "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
        "X-Goog-Upload-Header-Content-Length": "10"})
    url = start.headers["X-Goog-Upload-URL"]
    wrong_offset = call(api, "POST", url, raw=b"abcd", headers={"X-Goog-Upload-Command": "upload",
                                                               "X-Goog-Upload-Offset": "4"})
    assert "X-Goog-Upload-Offset is 4 but 0 bytes" in gemini_error(wrong_offset, 400, "INVALID_ARGUMENT")
    ragged = call(api, "POST", url, raw=b"abc", headers={"X-Goog-Upload-Command": "upload",
                                                        "X-Goog-Upload-Offset": "0"})
    assert "multiple of 4" in gemini_error(ragged, 400, "INVALID_ARGUMENT")
    ok = call(api, "POST", url, raw=b"abcd", headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "0"})
    assert ok.headers["X-Goog-Upload-Size-Received"] == "4"
    query = call(api, "POST", url, headers={"X-Goog-Upload-Command": "query"})
    assert query.headers["X-Goog-Upload-Size-Received"] == "4"
    short = call(api, "POST", url, raw=b"ef", headers={"X-Goog-Upload-Command": "upload, finalize",
                                                      "X-Goog-Upload-Offset": "4"})
    assert "10 were declared" in gemini_error(short, 400, "INVALID_ARGUMENT")
    raw = call(api, "POST", "/upload/v1beta/files", raw=b"x", headers={"X-Goog-Upload-Protocol": "raw"})
    gemini_error(raw, 400, "INVALID_ARGUMENT")


def test_gemini_upload_url_needs_no_key_but_the_rest_does():
    with FakeAPI(api_key="g-key") as api:
        key = {"x-goog-api-key": "g-key"}
        no_key = call(api, "POST", "/upload/v1beta/files", {}, headers={
            "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start"})
        assert no_key.status == 403
        start = call(api, "POST", "/upload/v1beta/files", {}, headers={
            **key, "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start"})
        assert start.status == 200
        done = call(api, "POST", start.headers["X-Goog-Upload-URL"], raw=b"hi",
                    headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": "0"})
        assert done.status == 200 and done.json["file"]["sizeBytes"] == "2"
        name = done.json["file"]["name"]
        assert call(api, "GET", f"/download/v1beta/{name}:download?alt=media").status == 403
        assert call(api, "GET", f"/download/v1beta/{name}:download?alt=media", headers=key).data == b"hi"


def test_gemini_file_batch_writes_a_responses_file(api):
    lines = [{"key": f"q{i}", "request": gemini_request(f"file question {i}")} for i in range(6)]
    bad = gemini_request("nope", responseMimeType="text/x.enum", responseSchema={"type": "STRING"})
    lines.append({"key": "bad", "request": bad})
    lines.append({"request": {"contents": [{"parts": [{"text": "no key"}]}], "generation_config": {"candidate_count": 2}}})
    file = upload_gemini(api, jsonl(lines))
    op = create_gemini_batch(api, {"display_name": "from-file", "input_config": {"file_name": file["name"]}})
    check_operation(op, "BATCH_STATE_PENDING")
    assert op["metadata"]["inputConfig"] == {"fileName": file["name"]}
    assert op["metadata"]["batchStats"] == {"requestCount": "8", "pendingRequestCount": "8"}
    api.batch_clock.advance(80)
    done = get_operation(api, op["name"])
    check_operation(done, "BATCH_STATE_SUCCEEDED")
    responses_file = done["response"]["responsesFile"]
    assert done["metadata"]["output"] == {"responsesFile": responses_file} == {k: v for k, v in done["response"].items() if k != "@type"}
    assert done["metadata"]["batchStats"] == {"requestCount": "8", "successfulRequestCount": "7",
                                              "failedRequestCount": "1"}
    meta = call(api, "GET", f"/v1beta/{responses_file}").json
    assert meta["source"] == "GENERATED" and meta["mimeType"] == "application/jsonl"
    download = call(api, "GET", urlsplit(meta["downloadUri"]).path + "?alt=media")
    assert download.status == 200
    out = download.lines()
    assert [line.get("key") for line in out] == [f"q{i}" for i in range(6)] + ["bad", None]
    for line, source in zip(out, lines):
        sync = call(api, "POST", GEMINI_GEN, source["request"])
        if "error" in line:
            assert set(line) == {"key", "error"} and sync.status == 400
            assert line["error"]["code"] == 3 and line["error"]["message"] == sync.json["error"]["message"]
        else:
            assert sync.status == 200 and without_ids(line["response"]) == without_ids(sync.json)
    assert len(out[-1]["response"]["candidates"]) == 2  # snake_case config in the file honoured


def test_gemini_file_batch_with_a_broken_line_fails(api):
    file = upload_gemini(api, jsonl([{"key": "a", "request": gemini_request("x")}]) + b"{not json\n")
    op = create_gemini_batch(api, {"inputConfig": {"fileName": file["name"]}})
    api.batch_clock.advance(10)
    failed = get_operation(api, op["name"])
    check_operation(failed, "BATCH_STATE_FAILED")
    assert failed["error"]["code"] == 3 and "Line 2" in failed["error"]["message"]
    assert "response" not in failed and "output" not in failed["metadata"]
    missing = call(api, "POST", GEMINI_BATCH, {"batch": {"inputConfig": {"fileName": "files/nope"}}})
    gemini_error(missing, 403, "PERMISSION_DENIED")


def test_gemini_batch_expires_after_48_hours_without_results(api):
    api.batch_settings.run_seconds = 3 * 86400
    op = create_gemini_batch(api, {"inputConfig": {"requests": {"requests": [
        {"request": gemini_request(f"x{i}")} for i in range(4)]}}})
    api.batch_clock.advance(48 * 3600 - 1)
    assert get_operation(api, op["name"])["metadata"]["state"] == "BATCH_STATE_RUNNING"
    api.batch_clock.advance(1)
    expired = get_operation(api, op["name"])
    check_operation(expired, "BATCH_STATE_EXPIRED")
    assert "response" not in expired and "output" not in expired["metadata"]
    assert expired["metadata"]["endTime"] > expired["metadata"]["createTime"]


def test_gemini_cancel_ends_the_batch_at_once(api):
    op = create_gemini_batch(api, {"inputConfig": {"requests": {"requests": [
        {"request": gemini_request(f"x{i}")} for i in range(4)]}}})
    api.batch_clock.advance(40)
    cancel = call(api, "POST", f"/v1beta/{op['name']}:cancel")
    assert cancel.status == 200 and cancel.json == {}
    cancelled = get_operation(api, op["name"])
    check_operation(cancelled, "BATCH_STATE_CANCELLED")
    assert cancelled["error"]["code"] == 1 and "response" not in cancelled
    api.batch_clock.advance(100)
    assert get_operation(api, op["name"])["metadata"]["state"] == "BATCH_STATE_CANCELLED"
    assert call(api, "POST", f"/v1beta/{op['name']}:cancel").json == {}
    gemini_error(call(api, "POST", "/v1beta/batches/nope:cancel"), 404, "NOT_FOUND")


def test_gemini_list_pages_and_delete(api):
    names = [create_gemini_batch(api, {"displayName": f"b{i}", "inputConfig": {"requests": {"requests": [
        {"request": gemini_request("x")}]}}})["name"] for i in range(3)]
    page = call(api, "GET", "/v1beta/batches?pageSize=2").json
    assert [op["name"] for op in page["operations"]] == [names[2], names[1]]
    page = call(api, "GET", f"/v1beta/batches?pageSize=2&pageToken={page['nextPageToken']}").json
    assert [op["name"] for op in page["operations"]] == [names[0]] and "nextPageToken" not in page
    assert call(api, "DELETE", f"/v1beta/{names[1]}").json == {}
    gemini_error(call(api, "GET", f"/v1beta/{names[1]}"), 404, "NOT_FOUND")
    api.batch_clock.advance(100)
    listed = call(api, "GET", "/v1beta/batches").json["operations"]
    assert [op["name"] for op in listed] == [names[2], names[0]]
    assert {op["metadata"]["state"] for op in listed} == {"BATCH_STATE_SUCCEEDED"}
    assert call(api, "GET", "/v1beta/batches?pageSize=x").status == 400


def test_gemini_files_expire_after_48_hours(api):
    meta = upload_gemini(api, b"short-lived")
    api.batch_clock.advance(48 * 3600 - 1)
    assert call(api, "GET", f"/v1beta/{meta['name']}").status == 200
    api.batch_clock.advance(1)
    gemini_error(call(api, "GET", f"/v1beta/{meta['name']}"), 403, "PERMISSION_DENIED")
    assert call(api, "GET", "/v1beta/files").json == {}


def test_gemini_list_files_pages(api):
    names = [upload_gemini(api, f"file {i}".encode())["name"] for i in range(3)]
    page = call(api, "GET", "/v1beta/files?pageSize=2").json
    assert [f["name"] for f in page["files"]] == [names[2], names[1]]
    page = call(api, "GET", f"/v1beta/files?pageSize=2&pageToken={page['nextPageToken']}").json
    assert [f["name"] for f in page["files"]] == [names[0]] and "nextPageToken" not in page
