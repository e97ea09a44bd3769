"""Gemini's batch mode for the ``gemini`` provider: ``batches.*`` operations on
``models/{model}:batchGenerateContent`` and ``batches/{id}``, and Google's
batch resources (long-running operations) normalised to the core
:class:`~llmplug.core.models.Batch`.

``create_batch`` takes the input inline (``requests=[{"request":
GenerateContentRequest, "metadata": {"key": ...}}]``) or as a JSONL file
uploaded with ``upload_file`` (``input_file_id="files/..."``, lines
``{"key": ..., "request": {...}}``). States map onto OpenAI's names
(:data:`STATES`); Google's own is kept in ``.raw``. The results stay where
Google puts them: ``.raw["response"]["inlinedResponses"]`` or the file named
by ``output_file_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from llmplug.plugin import ConfigurationError, ProviderSpec, Request, encode_json, query_string, structure
from llmplug.plugin import models

from .files import timestamp
from .request import model_resource

__all__ = ["STATES", "batch_from_gemini", "batches_request", "parse_batches_response"]

Batch, BatchList, Deleted = models.Batch, models.BatchList, models.Deleted

#: Google's batch states (``BATCH_STATE_*`` on the Gemini API, ``JOB_STATE_*``
#: on Vertex AI and in google-genai) and the normalised status of each.
STATES: dict[str, str] = {
    "BATCH_STATE_PENDING": "validating", "JOB_STATE_QUEUED": "validating", "JOB_STATE_PENDING": "validating",
    "BATCH_STATE_RUNNING": "in_progress", "JOB_STATE_RUNNING": "in_progress", "JOB_STATE_PAUSED": "in_progress",
    "JOB_STATE_UPDATING": "in_progress",
    "BATCH_STATE_SUCCEEDED": "completed", "JOB_STATE_SUCCEEDED": "completed", "JOB_STATE_PARTIALLY_SUCCEEDED": "completed",
    "BATCH_STATE_FAILED": "failed", "JOB_STATE_FAILED": "failed",
    "BATCH_STATE_CANCELLING": "cancelling", "JOB_STATE_CANCELLING": "cancelling",
    "BATCH_STATE_CANCELLED": "cancelled", "JOB_STATE_CANCELLED": "cancelled",
    "BATCH_STATE_EXPIRED": "expired", "JOB_STATE_EXPIRED": "expired",
}
#: The normalised status -> the ``*_at`` field Google's ``endTime`` fills.
_ENDS = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at", "expired": "expired_at"}
#: The OpenAI endpoint a Gemini batch stands for (its requests are generateContent's).
ENDPOINT = "/v1/chat/completions"


def batch_resource(batch_id: str) -> str:
    """``batches/<id>`` for ``<id>`` or ``batches/<id>``."""
    batch_id = str(batch_id).strip().strip("/")
    if not batch_id:
        raise ConfigurationError("the batch id is empty: pass a Gemini batch name such as 'batches/abc123'")
    return batch_id if batch_id.startswith("batches/") else "batches/" + batch_id


def batches_request(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request:
    """The request of a ``batches.*`` operation."""
    headers = {"Accept": "application/json"}
    base = provider.base_url
    if operation == "batches.create":
        model = params.pop("model", None) or provider.default_model
        if not model:
            raise ConfigurationError(f"provider {provider.name!r} has no default model: pass model=...")
        endpoint = params.pop("endpoint", None)
        if endpoint not in (None, ENDPOINT, "chat.create"):
            raise ConfigurationError(
                f"a Gemini batch runs generateContent requests (endpoint {ENDPOINT!r}), not {endpoint!r}"
            )
        body = {"batch": {"displayName": params.pop("display_name", None) or "llmplug batch",
                          "inputConfig": _input_config(params)}}
        params.pop("completion_window", None)  # Gemini's window is its own (48 hours)
        metadata = params.pop("metadata", None)
        if metadata:
            body["batch"]["displayName"] = str(metadata.get("display_name") or body["batch"]["displayName"])
        url = f"{base}/{quote(model_resource(model), safe='/')}:batchGenerateContent"
        return Request("POST", url, {**headers, "Content-Type": "application/json"}, encode_json(body))
    if operation == "batches.list":
        query = {"pageSize": params.get("limit") or 100}
        if params.get("after"):
            query["pageToken"] = params["after"]
        return Request("GET", f"{base}/batches{query_string(query)}", headers)
    resource = quote(batch_resource(params.pop("batch_id")), safe="/")
    if operation == "batches.retrieve":
        return Request("GET", f"{base}/{resource}", headers)
    if operation == "batches.cancel":
        return Request("POST", f"{base}/{resource}:cancel", {**headers, "Content-Type": "application/json"}, b"{}")
    return Request("DELETE", f"{base}/{resource}", headers)  # batches.delete


def _input_config(params: dict[str, Any]) -> dict[str, Any]:
    requests = params.pop("requests", None)
    file_id = params.pop("input_file_id", None)
    if (requests is None) == (file_id is None):
        raise ConfigurationError(
            "a Gemini batch takes its requests inline (requests=[{'request': {...}, 'metadata': {'key': ...}}]) "
            "or in an uploaded JSONL file (input_file_id='files/...'): give one of them"
        )
    if file_id is not None:
        from .files import file_resource

        return {"fileName": file_resource(file_id)}
    if not isinstance(requests, (list, tuple)) or not requests:
        raise ConfigurationError("requests= must be a non-empty list of {'request': {...}, 'metadata': {'key': ...}}")
    return {"requests": {"requests": list(requests)}}


def parse_batches_response(operation: str, data: Any, url: str) -> Any:
    """Normalise a ``batches.*`` body to the core models (``url``: the request's,
    which names the batch a cancel or delete was about; both reply ``{}``)."""
    if operation == "batches.list":
        if not isinstance(data, Mapping):
            return structure(data, BatchList)
        found = data.get("operations") or data.get("batches") or []
        batches = [batch_from_gemini(entry) for entry in found]
        token = data.get("nextPageToken")
        shaped = {"object": "list", "data": [b.shaped for b in batches], "has_more": bool(token),
                  "first_id": batches[0].id if batches else None, "last_id": token or None}
        return BatchList(data=batches, has_more=bool(token), first_id=shaped["first_id"], last_id=shaped["last_id"],
                         raw=data, shaped=shaped)
    if operation in ("batches.cancel", "batches.delete"):
        batch_id = "batches/" + url.split("?", 1)[0].rsplit("/batches/", 1)[-1].split(":", 1)[0]
        if operation == "batches.delete":
            shaped = {"id": batch_id, "object": "batch", "deleted": True}
            return Deleted(id=batch_id, object="batch", deleted=True, raw=data, shaped=shaped)
        if not (isinstance(data, Mapping) and data.get("name")):  # Google answers a cancel with {}
            shaped = {"id": batch_id, "object": "batch", "endpoint": ENDPOINT, "status": "cancelling"}
            return Batch(id=batch_id, endpoint=ENDPOINT, status="cancelling", raw=data, shaped=shaped)
    return batch_from_gemini(data)


def batch_from_gemini(data: Any) -> Any:
    """A Gemini batch (the operation, or the ``GenerateContentBatch`` itself) as a :class:`Batch`."""
    if not isinstance(data, Mapping):
        return structure(data, Batch)
    meta = data.get("metadata") if isinstance(data.get("metadata"), Mapping) else data
    state = str(meta.get("state") or "")
    status = STATES.get(state)
    stats = meta.get("batchStats") if isinstance(meta.get("batchStats"), Mapping) else {}
    output = data.get("response") if isinstance(data.get("response"), Mapping) else meta.get("output") or {}
    shaped: dict[str, Any] = {
        "id": data.get("name") or meta.get("name") or "",
        "object": "batch",
        "endpoint": ENDPOINT,
        "status": status,
        "input_file_id": (meta.get("inputConfig") or {}).get("fileName"),
        "output_file_id": output.get("responsesFile") if isinstance(output, Mapping) else None,
        "error_file_id": None,
        "completion_window": "48h",
        "request_counts": {
            "total": _count(stats.get("requestCount")),
            "completed": _count(stats.get("successfulRequestCount")),
            "failed": _count(stats.get("failedRequestCount")),
        },
        "errors": data.get("error"),
        "metadata": {"display_name": meta.get("displayName")} if meta.get("displayName") else None,
        "model": str(meta.get("model") or "").removeprefix("models/") or None,
        "created_at": timestamp(meta.get("createTime")),
    }
    if status in _ENDS:
        shaped[_ENDS[status]] = timestamp(meta.get("endTime") or meta.get("updateTime"))
    if status == "in_progress":
        shaped["in_progress_at"] = timestamp(meta.get("updateTime"))
    result = structure(shaped, Batch)
    result.raw, result.shaped = data, shaped
    return result


def _count(value: Any) -> int:
    """A count Google sends as a string (int64 in JSON)."""
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


# ---------------------------------------------------------------- batch jobs (submit_batch)

#: Google's documented limit on a batch request carrying its requests inline.
INLINE_BYTES = 20 * 1024 * 1024
#: Room left for the body around the requests (``{"batch": {"displayName", "inputConfig"...}}``).
_WRAPPER_BYTES = 4096
#: gRPC status codes (a per-request ``error``) -> the HTTP status of the same failure.
_HTTP_STATUS = {1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400,
                12: 501, 13: 500, 14: 503, 15: 500, 16: 401}


def batch_format() -> Any:
    """The ``gemini`` family's :class:`~llmplug.core.batch_jobs.BatchFormat` (made on first use)."""
    from llmplug.plugin import BatchEntry, BatchFormat, BatchPlan, one_model

    class GeminiBatchFormat(BatchFormat):
        """Gemini's batch mode: generateContent requests of one model, inline up to
        20 MB (``metadata.key`` = the custom id), else a JSONL file of ``{"key",
        "request"}`` lines; results inline or in the responses file."""

        def plan(self, provider: Any, operation: str, requests: list[tuple[str, dict[str, Any]]]) -> Any:
            from .request import chat_body

            if operation != "chat.create":
                raise ConfigurationError(
                    f"a Gemini batch runs chat completions (generateContent), not {operation!r}; "
                    "run embeddings with client.map() or `llmplug bulk`"
                )
            model = one_model(requests, "a Gemini batch")
            items = []
            for number, (custom_id, params) in enumerate(requests, 1):
                params = dict(params)
                params.pop("model")
                params.pop("stream", None)  # False at most: core refused stream=True
                try:
                    body = chat_body(params)
                except ConfigurationError as exc:
                    raise ConfigurationError(f"line {number} ({custom_id!r}): {exc}") from None
                items.append((custom_id, body))
            inline = [{"request": body, "metadata": {"key": custom_id}} for custom_id, body in items]
            # the whole request body counts: the requests and their wrapper (display name...)
            if len(encode_json(inline)) + _WRAPPER_BYTES <= INLINE_BYTES:
                return BatchPlan(create={"model": model, "requests": inline})
            data = b"".join(encode_json({"key": custom_id, "request": body}) + b"\n" for custom_id, body in items)
            return BatchPlan(create={"model": model}, upload=("llmplug-batch-input.jsonl", data))

        def operation(self, batch: Any) -> str:
            return "chat.create"

        def input_id(self, line: dict[str, Any]) -> str | None:
            return line.get("key")

        def outputs(self, batch: Any) -> tuple[list[str], list[Any]]:
            raw = batch.raw if isinstance(batch.raw, Mapping) else {}
            meta = raw.get("metadata") if isinstance(raw.get("metadata"), Mapping) else {}
            output = raw.get("response") if isinstance(raw.get("response"), Mapping) else meta.get("output") or {}
            inline = (output.get("inlinedResponses") or {}).get("inlinedResponses") or []
            found = output.get("responsesFile")
            return ([found] if found else []), list(inline)

        def entry(self, item: dict[str, Any]) -> Any:
            key = item.get("key") or (item.get("metadata") or {}).get("key") or ""
            if isinstance(item.get("response"), Mapping):
                return BatchEntry(key, 200, item["response"])
            error = item.get("error") if isinstance(item.get("error"), Mapping) else {}
            status = _HTTP_STATUS.get(error.get("code"), 500)
            return BatchEntry(key, status, {"error": {"code": status, "message": error.get("message") or "",
                                                      "status": error.get("status"), "details": error.get("details")}})

    return GeminiBatchFormat()
