"""Gemini's Files API for the ``gemini`` provider: ``upload_file``, ``files``,
``file``, ``delete_file`` and ``file_content`` on Google's own paths, with
its files normalised to the core :class:`~llmplug.core.models.FileObject`.

An upload uses Google's resumable protocol in one call: the ``files.create``
request starts the session (``X-Goog-Upload-Command: start``) and carries a
``follow_up``: its reply's ``X-Goog-Upload-URL`` becomes a :class:`FollowUp`
that sends the bytes (``upload, finalize``). Uploads and downloads live beside the API root
(``/upload/v1beta/files``, ``/download/v1beta/files/{id}:download``), not
under ``base_url``.
"""

from __future__ import annotations

import datetime
import functools
import mimetypes
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from llmplug.plugin import (
    APIResponseValidationError,
    ConfigurationError,
    FollowUp,
    ProviderSpec,
    Request,
    Response,
    encode_json,
    query_string,
    structure,
)
from llmplug.plugin import models

Deleted, FileList, FileObject = models.Deleted, models.FileList, models.FileObject

__all__ = ["file_resource", "files_request", "parse_files_response"]

#: Types Python's table lacks, for files a batch job reads.
_TYPES = {".jsonl": "application/jsonl", ".ndjson": "application/jsonl"}


def file_resource(file_id: str) -> str:
    """``files/<id>`` for ``<id>`` or ``files/<id>``."""
    file_id = str(file_id).strip().strip("/")
    if not file_id:
        raise ConfigurationError("the file id is empty: pass a Gemini file name such as 'files/abc123'")
    return file_id if file_id.startswith("files/") else "files/" + file_id


def _root(provider: ProviderSpec) -> tuple[str, str]:
    """(``https://host``, ``v1beta``) of the provider's ``base_url``."""
    base = (provider.base_url or "").rstrip("/")
    root, _, version = base.rpartition("/")
    return root, version


def files_request(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request:
    """The request of a ``files.*`` operation (and of the upload's second step, ``files.upload``)."""
    json_headers = {"Accept": "application/json"}
    if operation == "files.create":
        name, data = params["file"]
        mime = params.get("mime_type") or _mime_type(name)
        root, version = _root(provider)
        headers = {
            **json_headers, "Content-Type": "application/json",
            "X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": str(len(data)), "X-Goog-Upload-Header-Content-Type": mime,
        }
        body = {"file": {"displayName": params.get("display_name") or name}}
        request = Request("POST", f"{root}/upload/{version}/files", headers, encode_json(body))
        request.extensions["follow_up"] = functools.partial(_upload_step, data, mime, params.get("purpose"))
        return request
    if operation == "files.upload":
        data = params["data"]
        headers = {
            **json_headers, "Content-Type": params["mime_type"], "X-Goog-Upload-Command": "upload, finalize",
            "X-Goog-Upload-Offset": "0",
        }
        return Request("POST", params["upload_url"], headers, data)
    if operation == "files.list":
        rest = {k: v for k, v in params.items() if k not in ("limit", "after")}
        query = {"pageSize": params.get("limit") or 100, **rest}
        if params.get("after"):
            query["pageToken"] = params["after"]  # the page token FileList.last_id holds
        return Request("GET", f"{provider.base_url}/files{query_string(query)}", json_headers)
    resource = quote(file_resource(params.pop("file_id")), safe="/")
    if operation == "files.retrieve":
        return Request("GET", f"{provider.base_url}/{resource}", json_headers)
    if operation == "files.delete":
        return Request("DELETE", f"{provider.base_url}/{resource}", json_headers)
    root, version = _root(provider)  # files.content
    return Request("GET", f"{root}/download/{version}/{resource}:download?alt=media", {"Accept": "*/*"})


def _mime_type(name: str) -> str:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _upload_step(data: bytes, mime: str, purpose: str | None, response: Response) -> FollowUp:
    """The upload's second request, to the session URL the first one's reply gave."""
    url = response.headers.get("x-goog-upload-url")
    if not url:
        raise APIResponseValidationError(
            "Gemini started no upload session: its reply has no X-Goog-Upload-URL header",
            body=None, status_code=response.status_code, request=response.request,
        )
    return FollowUp("files.upload", {"upload_url": url, "data": data, "mime_type": mime, "purpose": purpose})


def parse_files_response(operation: str, data: Any, response: Response, params: dict[str, Any]) -> Any:
    """Normalise a ``files.*`` body to the core models."""
    if operation in ("files.upload", "files.retrieve"):
        entry = data.get("file", data) if isinstance(data, Mapping) else data
        return file_from_gemini(entry, params.get("purpose"))
    if operation == "files.list":
        if not isinstance(data, Mapping):
            return structure(data, FileList)
        files = [file_from_gemini(entry) for entry in data.get("files") or []]
        token = data.get("nextPageToken") or None
        shaped = {"object": "list", "data": [f.shaped for f in files], "has_more": bool(token),
                  "first_id": files[0].id if files else None, "last_id": token}
        return FileList(data=files, has_more=bool(token), first_id=shaped["first_id"], last_id=token, raw=data,
                        shaped=shaped)
    if operation == "files.delete":
        file_id = response.request.url.rsplit("/files/", 1)[-1]
        shaped = {"id": "files/" + file_id, "object": "file", "deleted": True}
        return Deleted(id=shaped["id"], object="file", deleted=True, raw=data, shaped=shaped)
    return data


def file_from_gemini(entry: Any, purpose: str | None = None) -> FileObject:
    """A Gemini ``File`` as a :class:`FileObject`: ``id`` is its name (``files/...``),
    ``status`` its state in lower case; ``.raw`` keeps Google's JSON."""
    if not isinstance(entry, Mapping):
        return structure(entry, FileObject)
    size = entry.get("sizeBytes")
    shaped = {
        "id": entry.get("name") or "",
        "object": "file",
        "bytes": int(size) if isinstance(size, (int, str)) and str(size).isdigit() else None,
        "created_at": timestamp(entry.get("createTime")),
        "filename": entry.get("displayName"),
        "purpose": purpose,
        "status": str(entry["state"]).lower() if entry.get("state") else None,
        "expires_at": timestamp(entry.get("expirationTime")),
    }
    result = structure(shaped, FileObject)
    result.raw, result.shaped = entry, shaped
    return result


def timestamp(value: Any) -> int | None:
    """An RFC 3339 time (``2026-01-02T03:04:05.123456Z``) as Unix seconds, or ``None``."""
    if not isinstance(value, str) or not value:
        return None
    text = value.replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # fromisoformat (3.10) takes at most 6 digits of a fraction
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits):]}"
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return int(moment.timestamp())
