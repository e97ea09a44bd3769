"""The ``gemini`` provider's Files API: the resumable upload in one call,
retrieve, list, download (to memory or to disk) and delete, on every
transport, sync and async."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import llmplug
from llmplug.testing import FakeAPI
from tests.conftest import TEST_KEY


@pytest.fixture
def gemini(api: FakeAPI, transport: str):
    with llmplug.new("gemini", api_key=TEST_KEY, base_url=api.url + "/v1beta", transport=transport, max_retries=0) as c:
        yield c


LINES = b"".join(json.dumps({"key": f"k{i}", "request": {"contents": [{"parts": [{"text": f"hi {i}"}]}]}}).encode() + b"\n"
                 for i in range(50))


def test_an_upload_is_two_requests_in_one_call(gemini, api, tmp_path: Path) -> None:
    path = tmp_path / "requests.jsonl"
    path.write_bytes(LINES)
    uploaded = gemini.upload_file(path, "batch").body
    start, finish = api.requests
    assert start.path == "/upload/v1beta/files" and start.headers["x-goog-upload-protocol"] == "resumable"
    assert start.headers["x-goog-upload-command"] == "start"
    assert start.headers["x-goog-upload-header-content-length"] == str(len(LINES))
    assert start.headers["x-goog-upload-header-content-type"] == "application/jsonl"
    assert start.json == {"file": {"displayName": "requests.jsonl"}}
    assert finish.headers["x-goog-upload-command"] == "upload, finalize" and finish.body == LINES
    assert finish.headers["x-goog-api-key"] == TEST_KEY  # the session URL gets the key too
    assert uploaded.id.startswith("files/") and uploaded.bytes == len(LINES) and uploaded.filename == "requests.jsonl"
    assert uploaded.status == "active" and uploaded.purpose == "batch" and uploaded.created_at > 1_700_000_000
    assert uploaded.raw["mimeType"] == "application/jsonl"


def test_retrieve_list_download_and_delete(gemini, api, tmp_path: Path) -> None:
    first = gemini.upload_file(LINES, "batch", filename="a.jsonl").body
    second = gemini.upload_file(b"{}\n", "batch", filename="b.jsonl").body
    assert gemini.file(first.id).body.bytes == len(LINES)
    assert gemini.file(first.id.removeprefix("files/")).body.id == first.id  # a bare id works too
    listed = gemini.files().body
    assert {f.id for f in listed.data} >= {first.id, second.id} and listed.has_more is False
    assert gemini.file_content(first.id).body == LINES
    saved = gemini.file_content(first.id, tmp_path / "copy.jsonl").body
    assert saved == tmp_path / "copy.jsonl" and saved.read_bytes() == LINES
    assert api.last_request.path == f"/download/v1beta/{first.id}:download"
    deleted = gemini.delete_file(first.id).body
    assert deleted.deleted is True and deleted.id == first.id
    with pytest.raises(llmplug.PermissionDeniedError, match="may not exist"):  # Google answers 403, not 404
        gemini.file(first.id)


def test_a_start_reply_without_a_session_url_is_a_clear_error(gemini, api) -> None:
    api.queue("POST", "/upload/v1beta/files", status=200, body=b"", content_type="text/plain")
    with pytest.raises(llmplug.APIResponseValidationError, match="X-Goog-Upload-URL"):
        gemini.upload_file(b"x", "batch", filename="x.jsonl")
    assert len(api.requests) == 1


def test_files_page_with_after(gemini, api) -> None:
    ids = {gemini.upload_file(b"{}\n", "batch", filename=f"f{i}.jsonl").body.id for i in range(3)}
    first = gemini.files(limit=2).body
    assert len(first.data) == 2 and first.has_more and first.last_id
    rest = gemini.files(limit=2, after=first.last_id).body
    assert {f.id for f in first.data} | {f.id for f in rest.data} == ids and not rest.has_more
