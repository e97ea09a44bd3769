"""``/v1/files``: upload, list, get, delete and download files, kept in memory.

Files live on the :class:`~llmplug.testing.openai_api.OpenAIService` of one
server (``svc.files`` for metadata, ``svc.file_data`` for the bytes); batch
jobs add their output and error files there (purpose ``batch_output``).
Downloads stream (``Reply.body_chunks``), so large files are not copied.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ..messages import byte_chunks
from ..server import RecordedRequest, Reply
from .common import ROUTES, _list_page
from .validation import _invalid_value, _missing, _not_found

if TYPE_CHECKING:
    from .service import OpenAIService


FILE_PURPOSES = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"]


@ROUTES.route("POST", r"/v1/files")
def upload_file(svc: OpenAIService, req: RecordedRequest) -> Reply:
    if "file" not in req.files:
        raise _missing("file")
    purpose = req.form.get("purpose")
    if not purpose:
        raise _missing("purpose")
    if purpose not in FILE_PURPOSES:
        raise _invalid_value("purpose", purpose, FILE_PURPOSES)
    upload = req.files["file"]
    created = int(time.time())
    expires_at = None
    seconds = req.form.get("expires_after[seconds]")
    if seconds and seconds.isdigit():
        expires_at = created + int(seconds)
    meta = svc.add_file(upload.data, purpose, upload.filename or "upload", created_at=created, expires_at=expires_at)
    return Reply(json=meta)


@ROUTES.route("GET", r"/v1/files")
def list_files(svc: OpenAIService, req: RecordedRequest) -> Reply:
    q = {k: v[-1] for k, v in req.query.items()}
    files = [dict(m) for m in list(svc.files.values())]  # list(): atomic snapshot
    if q.get("order", "desc") != "asc":
        files.reverse()
    if q.get("purpose"):
        files = [f for f in files if f["purpose"] == q["purpose"]]
    if q.get("after"):
        ids = [f["id"] for f in files]
        files = files[ids.index(q["after"]) + 1 :] if q["after"] in ids else []
    limit = int(q["limit"]) if q.get("limit", "").isdigit() else 10000
    page = files[:limit]
    return _list_page(page, len(files) > len(page))


def _file(svc: OpenAIService, file_id: str) -> dict[str, Any]:
    meta = svc.files.get(file_id)
    if meta is None:
        raise _not_found(f"No such File object: {file_id}", param="id")
    return meta


@ROUTES.route("GET", r"/v1/files/(?P<file_id>[^/]+)")
def get_file(svc: OpenAIService, req: RecordedRequest, file_id: str) -> Reply:
    return Reply(json=dict(_file(svc, file_id)))


@ROUTES.route("DELETE", r"/v1/files/(?P<file_id>[^/]+)")
def delete_file(svc: OpenAIService, req: RecordedRequest, file_id: str) -> Reply:
    _file(svc, file_id)
    svc.files.pop(file_id, None)
    svc.file_data.pop(file_id, None)
    return Reply(json={"object": "file", "deleted": True, "id": file_id})


@ROUTES.route("GET", r"/v1/files/(?P<file_id>[^/]+)/content")
def file_content(svc: OpenAIService, req: RecordedRequest, file_id: str) -> Reply:
    """The file's bytes, streamed in 64 KiB views of the stored bytes (chunked
    transfer encoding): a 50 MB batch output goes out without a copy."""
    _file(svc, file_id)
    return Reply(body_chunks=byte_chunks(svc.file_data[file_id]), content_type="application/octet-stream")
