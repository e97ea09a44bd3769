"""Gemini's Files API: resumable uploads, get, list, delete and download.

Uploads follow Google's resumable protocol, as python-genai drives it:

1. ``POST /upload/v1beta/files`` with ``X-Goog-Upload-Protocol: resumable``,
   ``X-Goog-Upload-Command: start``, ``X-Goog-Upload-Header-Content-Length``
   and ``-Content-Type``, and a JSON body ``{"file": {"displayName": ...}}``
   (snake_case accepted) answers 200, an empty body and
   ``X-Goog-Upload-URL: <server>/upload/v1beta/files?upload_id=...&upload_protocol=resumable``
   (``X-Goog-Upload-Status: active``, ``X-Goog-Upload-Chunk-Granularity``).
2. ``POST <upload url>`` with ``X-Goog-Upload-Command: upload`` and
   ``X-Goog-Upload-Offset`` (the bytes received so far) appends a chunk
   (a multiple of the granularity, 8 MiB, unless it is the last) and answers
   ``X-Goog-Upload-Status: active``; ``upload, finalize`` appends the last
   one (its size must make the declared length) and answers
   ``{"file": File}`` with ``X-Goog-Upload-Status: final``. ``query`` tells
   ``X-Goog-Upload-Size-Received``; ``cancel`` drops the session. The upload
   URL is the credential: its requests need no API key, as at Google.

A ``File`` is ``{name: "files/<id>", displayName, mimeType, sizeBytes (a
string), createTime, updateTime, expirationTime (48 h later on the batch
clock; an expired file is gone), sha256Hash (base64 of the hex digest), uri,
state: "ACTIVE", source: "UPLOADED"}``; the responses file of a batch job is
``source: "GENERATED"`` with a ``downloadUri``. ``GET /v1beta/files/{id}``,
``GET /v1beta/files`` (``pageSize`` 10 by default, at most 100, newest first,
``pageToken``/``nextPageToken``), ``DELETE /v1beta/files/{id}`` (``{}``) and
``GET /download/v1beta/files/{id}:download?alt=media`` (also under
``/v1beta/files/{id}:download``, where python-genai asks; the bytes, streamed)
serve them; an unknown file is Google's 403 ``PERMISSION_DENIED``. Google only
lets generated files be downloaded; the fake serves uploaded ones too.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..messages import byte_chunks
from ..server import RecordedRequest, Reply
from .checks import parse_body
from .common import (
    ROUTES, JSON_TYPE, GeminiError, _invalid, _json, _lower_id, _show, _timestamp, page_token, page_window,
)

if TYPE_CHECKING:
    from .service import GeminiService


UPLOAD_PATH = "/upload/v1beta/files"
#: How long a file lives (48 h), on the batch clock.
FILE_TTL = 48 * 3600.0
#: Google's chunk granularity for resumable uploads (8 MiB).
CHUNK_GRANULARITY = 8 * 1024 * 1024

_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?")


@dataclass
class Upload:
    """A resumable upload session."""

    meta: dict[str, Any]
    declared: int | None
    data: bytearray = field(default_factory=bytearray)


def _upload_headers(status: str, **more: str) -> list[tuple[str, str]]:
    return [("X-Goog-Upload-Status", status), *((k.replace("_", "-"), v) for k, v in more.items())]


def _forbidden(file_id: str) -> GeminiError:
    return GeminiError(
        403, f"You do not have permission to access the File {file_id} or it may not exist.",
        status_name="PERMISSION_DENIED",
    )


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).hexdigest().encode("ascii")).decode("ascii")


def new_file(
    svc: GeminiService, data: bytes, mime_type: str, *, display_name: str | None = None, file_id: str | None = None,
    generated: bool = False,
) -> dict[str, Any]:
    """Store ``data`` as a File resource (kept as given, not copied) and return it."""
    now = svc.batch_clock.now()
    file_id = file_id or _lower_id(12)
    meta: dict[str, Any] = {"name": f"files/{file_id}"}
    if display_name:
        meta["displayName"] = display_name
    meta.update({
        "mimeType": mime_type,
        "sizeBytes": str(len(data)),
        "createTime": _timestamp(now),
        "updateTime": _timestamp(now),
        "expirationTime": _timestamp(now + FILE_TTL),
        "sha256Hash": _sha256(data),
        "uri": f"{svc.server_url}/v1beta/files/{file_id}",
    })
    if generated:
        meta["downloadUri"] = f"{svc.server_url}/download/v1beta/files/{file_id}:download?alt=media"
    meta.update({"state": "ACTIVE", "source": "GENERATED" if generated else "UPLOADED"})
    with svc.batch_lock:
        svc.files[file_id] = meta
        svc.file_data[file_id] = data
        svc.file_expiry[file_id] = now + FILE_TTL
    return dict(meta)


def live_file(svc: GeminiService, file_id: str) -> dict[str, Any]:
    """The File ``file_id`` (``"files/"`` prefix optional) unless missing or expired: else the 403."""
    file_id = file_id[len("files/"):] if file_id.startswith("files/") else file_id
    with svc.batch_lock:
        meta = svc.files.get(file_id)
        if meta is not None and svc.batch_clock.now() >= svc.file_expiry.get(file_id, float("inf")):
            svc.files.pop(file_id, None)
            svc.file_data.pop(file_id, None)
            svc.file_expiry.pop(file_id, None)
            meta = None
    if meta is None:
        raise _forbidden(file_id)
    return meta


# -- uploads ------------------------------------------------------------------------
def _commands(req: RecordedRequest) -> set[str]:
    return {c.strip().lower() for c in req.headers.get("x-goog-upload-command", "").split(",") if c.strip()}


@ROUTES.route("POST", UPLOAD_PATH)
def upload(svc: GeminiService, req: RecordedRequest) -> Reply:
    upload_id = (req.query.get("upload_id") or [""])[-1]
    if upload_id:
        return _upload_chunk(svc, req, upload_id)
    protocol = req.headers.get("x-goog-upload-protocol", "").lower()
    if protocol != "resumable":
        raise _invalid(
            f"Upload protocol {_show(protocol or None)} is not served by the fake: use X-Goog-Upload-Protocol: resumable."
        )
    if "start" not in _commands(req):
        raise _invalid("A resumable upload must begin with X-Goog-Upload-Command: start.")
    body = parse_body(req, "CreateFileRequest")
    file = body.get("file") or {}
    declared_text = req.headers.get("x-goog-upload-header-content-length")
    declared = None
    if declared_text is not None:
        if not declared_text.strip().isdigit():
            raise _invalid(f"Invalid X-Goog-Upload-Header-Content-Length: {_show(declared_text)}")
        declared = int(declared_text)
    mime = req.headers.get("x-goog-upload-header-content-type") or file.get("mimeType") or "application/octet-stream"
    name = file.get("name")
    file_id = None
    if name:
        file_id = name[len("files/"):] if name.startswith("files/") else name
        if not _NAME.fullmatch(file_id):
            raise _invalid(
                f"* CreateFileRequest.file.name: Invalid file name {_show(name)}: it must be 'files/' and up to 40 "
                "lowercase letters, digits or dashes, not starting or ending with a dash.\n",
                "file.name",
            )
        with svc.batch_lock:
            if file_id in svc.files:
                raise GeminiError(409, f"File files/{file_id} already exists.", status_name="ALREADY_EXISTS")
    session = _lower_id(20) + _lower_id(20).upper()
    meta = {"mimeType": mime, "displayName": file.get("displayName"), "fileId": file_id}
    with svc.batch_lock:
        svc.uploads[session] = Upload(meta, declared)
    url = f"{svc.server_url}{UPLOAD_PATH}?upload_id={session}&upload_protocol=resumable"
    headers = _upload_headers(
        "active", X_Goog_Upload_URL=url, X_Goog_Upload_Control_URL=url,
        X_Goog_Upload_Chunk_Granularity=str(svc.upload_granularity), X_GUploader_UploadID=session,
    )
    return Reply(200, body=b"", headers=headers, content_type="text/plain; charset=utf-8")


def _upload_chunk(svc: GeminiService, req: RecordedRequest, session: str) -> Reply:
    with svc.batch_lock:
        up = svc.uploads.get(session)
    if up is None:
        raise GeminiError(404, "Failed to find the upload session: it was finalized, cancelled or never started.")
    commands = _commands(req)
    if "cancel" in commands:
        with svc.batch_lock:
            svc.uploads.pop(session, None)
        return Reply(200, body=b"", headers=_upload_headers("cancelled"), content_type="text/plain; charset=utf-8")
    if "query" in commands:
        return Reply(200, body=b"", headers=_upload_headers("active", X_Goog_Upload_Size_Received=str(len(up.data))),
                     content_type="text/plain; charset=utf-8")
    if not commands & {"upload", "finalize"}:
        raise _invalid(f"Invalid X-Goog-Upload-Command: {_show(req.headers.get('x-goog-upload-command'))}")
    finalize = "finalize" in commands
    if "upload" in commands:
        offset_text = req.headers.get("x-goog-upload-offset", "")
        if not offset_text.strip().isdigit():
            raise _invalid("An upload command needs X-Goog-Upload-Offset: the number of bytes sent before.")
        if int(offset_text) != len(up.data):
            raise _invalid(f"X-Goog-Upload-Offset is {int(offset_text)} but {len(up.data)} bytes were received.")
        if not finalize and len(req.body) % svc.upload_granularity:
            raise _invalid(
                f"An upload chunk that does not finalize must be a multiple of {svc.upload_granularity} bytes; "
                f"this one is {len(req.body)}."
            )
        up.data += req.body
    if up.declared is not None and len(up.data) > up.declared:
        raise _invalid(f"Received {len(up.data)} bytes, more than the {up.declared} declared at the start.")
    if not finalize:
        return Reply(200, body=b"", headers=_upload_headers("active", X_Goog_Upload_Size_Received=str(len(up.data))),
                     content_type="text/plain; charset=utf-8")
    if up.declared is not None and len(up.data) != up.declared:
        raise _invalid(f"Received {len(up.data)} bytes, but {up.declared} were declared at the start.")
    with svc.batch_lock:
        svc.uploads.pop(session, None)
    meta = new_file(svc, bytes(up.data), up.meta["mimeType"], display_name=up.meta["displayName"],
                    file_id=up.meta["fileId"])
    return Reply(200, json={"file": meta}, headers=_upload_headers("final"), content_type=JSON_TYPE)


# -- the files ------------------------------------------------------------------------
@ROUTES.route("GET", r"/v1beta/files")
def list_files(svc: GeminiService, req: RecordedRequest) -> Reply:
    start, size = page_window(req, 10, 100)
    with svc.batch_lock:
        names = list(reversed(svc.files))
    files = []
    for file_id in names:
        try:
            files.append(dict(live_file(svc, file_id)))
        except GeminiError:
            continue
    page = files[start:start + size]
    body: dict[str, Any] = {"files": page} if page else {}
    if start + size < len(files):
        body["nextPageToken"] = page_token(start + size)
    return _json(body)


@ROUTES.route("GET", r"/v1beta/files/(?P<file_id>[^/:]+)")
def get_file(svc: GeminiService, req: RecordedRequest, file_id: str) -> Reply:
    return _json(dict(live_file(svc, file_id)))


@ROUTES.route("DELETE", r"/v1beta/files/(?P<file_id>[^/:]+)")
def delete_file(svc: GeminiService, req: RecordedRequest, file_id: str) -> Reply:
    live_file(svc, file_id)
    with svc.batch_lock:
        svc.files.pop(file_id, None)
        svc.file_data.pop(file_id, None)
        svc.file_expiry.pop(file_id, None)
    return _json({})


@ROUTES.route("GET", r"/v1beta/files/(?P<file_id>[^/:]+):download")
@ROUTES.route("GET", r"/download/v1beta/files/(?P<file_id>[^/:]+):download")
def download_file(svc: GeminiService, req: RecordedRequest, file_id: str) -> Reply:
    meta = live_file(svc, file_id)
    if (req.query.get("alt") or [""])[-1] != "media":
        return _json(dict(meta))
    with svc.batch_lock:
        data = svc.file_data[file_id]
    return Reply(body_chunks=byte_chunks(data), content_type=meta["mimeType"])


def read_lines(data: bytes) -> list[tuple[int, Any]]:
    """(line number, parsed JSON or the raw line when not JSON) per non-blank JSONL line."""
    out = []
    for number, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            out.append((number, json.loads(raw)))
        except ValueError:
            out.append((number, raw))
    return out
