"""Gemini batch mode: ``models/{m}:batchGenerateContent`` and ``batches/*``, on the batch clock.

``POST /v1beta/models/{model}:batchGenerateContent`` takes
``{"batch": {"displayName", "inputConfig": {"requests": {"requests": [{"request":
GenerateContentRequest, "metadata": {...}}]}} | {"fileName": "files/..."}, "priority"}}``
(snake_case too, as Google's parser takes it: ``display_name``,
``input_config``, ``file_name``), checked by the same parser as
``generateContent`` (an unknown field anywhere is the usual 400). A body over
20 MB (``gemini_inline_bytes``) is a 400. A file holds JSONL lines ``{"key":
..., "request": GenerateContentRequest}``.

The answer, and every ``GET /v1beta/batches/{id}``, is a long-running
``Operation`` as Google sends it::

    {"name": "batches/<id>",
     "metadata": {"@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
                  "model": "models/<m>", "displayName": ..., "inputConfig": {"fileName": ...} (file input),
                  "output": {...} (when succeeded), "createTime", "endTime" (when done), "updateTime",
                  "batchStats": {"requestCount", "successfulRequestCount", "failedRequestCount",
                                 "pendingRequestCount"} (int64 strings; zeros left out),
                  "state": "BATCH_STATE_PENDING" | ..._RUNNING | ..._SUCCEEDED | ..._FAILED
                           | ..._CANCELLED | ..._EXPIRED,
                  "name": "batches/<id>"},
     "done": true (once done; absent before),
     "response": {"@type": "...v1main.GenerateContentBatchOutput", <output>} (succeeded)
     | "error": {"code", "message"} (failed; cancelled: code 1)}

with ``output`` ``{"inlinedResponses": {"inlinedResponses": [{"response":
GenerateContentResponse, "metadata": {...}} | {"error": Status, "metadata":
{...}}]}}`` in request order, or ``{"responsesFile": "files/batch-<id>"}``
for file input: a generated JSONL file of ``{"key", "response"}`` or ``{"key",
"error"}`` lines. Each request is answered by ``generateContent``'s own code
(scripted candidates included, in request order), so a line gets what a
synchronous call gets; a request it refuses (a bad turn, a schema error...) is
that line's ``error`` (a ``google.rpc.Status``: gRPC code, message, details).

Timeline (:class:`~llmplug.testing.batches.BatchSettings`): ``PENDING`` for
``validate_seconds``, ``RUNNING`` for ``run_seconds`` (``pendingRequestCount``
falls as lines are answered) plus ``finalize_seconds``, then ``SUCCEEDED``. A
file input with a line that is not JSON ends ``FAILED``. A job pending or
running 48 h (``gemini_expire_seconds``) is ``EXPIRED``, without results.
``POST batches/{id}:cancel`` (``{}``) ends it ``CANCELLED`` at once, without
results; ``DELETE batches/{id}`` (``{}``) forgets it; ``GET /v1beta/batches``
lists them newest first (``operations``, ``pageSize``/``pageToken``/``nextPageToken``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..batches import BatchInvalid, BatchJob, BatchSettings, Phase
from ..messages import Headers
from ..server import APIError, RecordedRequest, Reply
from .checks import parse_body
from .common import (
    ROUTES, GeminiError, _invalid, _json, _lower_id, _rpc_status, _show, _timestamp, page_token, page_window,
)
from .files import live_file, new_file, read_lines
from .generate import generate_content

if TYPE_CHECKING:
    from .service import GeminiService


BATCH_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
OUTPUT_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatchOutput"

_STATES = {
    Phase.VALIDATING: "BATCH_STATE_PENDING", Phase.RUNNING: "BATCH_STATE_RUNNING",
    Phase.FINALIZING: "BATCH_STATE_RUNNING", Phase.COMPLETED: "BATCH_STATE_SUCCEEDED",
    Phase.FAILED: "BATCH_STATE_FAILED", Phase.EXPIRED: "BATCH_STATE_EXPIRED",
    Phase.CANCELLING: "BATCH_STATE_RUNNING", Phase.CANCELLED: "BATCH_STATE_CANCELLED",
}


class GeminiBatch(BatchJob):
    """One batch job of the fake Gemini API; ``to_json()`` is its ``Operation``.

    ``lines`` are ``(key or metadata, request)``: the inline request's
    ``metadata`` (or None), or the file line's ``key``.
    """

    cancels_at_once = True

    def __init__(
        self, svc: GeminiService, batch_id: str, created_at: float, settings: BatchSettings, *, model: str,
        display_name: str | None, priority: Any, inline: list[tuple[Any, dict[str, Any]]] | None,
        file_name: str | None, file_lines: list[tuple[int, Any]] | None,
    ) -> None:
        super().__init__(created_at, settings, created_at + settings.gemini_expire_seconds)
        self.svc = svc
        self.id = batch_id
        self.model = model
        self.display_name = display_name
        self.priority = priority
        self.inline = inline
        self.file_name = file_name
        self.file_lines = file_lines
        self.responses_file: str | None = None

    @property
    def name(self) -> str:
        return f"batches/{self.id}"

    @property
    def request_count(self) -> int:
        if self.inline is not None:
            return len(self.inline)
        return len(self.file_lines or ())

    # -- the timeline's hooks --------------------------------------------------------
    def validate(self, at: float) -> list[tuple[Any, dict[str, Any]]]:
        if self.inline is not None:
            return list(self.inline)
        lines = []
        for number, item in self.file_lines or ():
            if not isinstance(item, dict):
                raise BatchInvalid([{
                    "code": 3,
                    "message": f"Line {number} of the input file {self.file_name} is not a JSON object: "
                               f"{_show(item if not isinstance(item, bytes) else item.decode('utf-8', 'replace'))}",
                }])
            request = item.get("request")
            lines.append((item.get("key"), request if isinstance(request, dict) else {"request": request}))
        return lines

    def answer(self, line: tuple[Any, dict[str, Any]]) -> tuple[bool, dict[str, Any]]:
        """(succeeded, a GenerateContentResponse or a google.rpc.Status) for one request."""
        tag, request = line
        key = tag.get("key") if isinstance(tag, dict) else tag
        if isinstance(key, str) and key in self.svc.fail_batch_lines:
            status = self.svc.fail_batch_lines[key]
            canned = (self.svc.status_error(status).json or {}).get("error") or {}
            return False, _rpc_status(APIError(status, canned.get("message") or f"HTTP {status}"))
        short = self.model[len("models/"):]
        body = json.dumps(request).encode("utf-8")
        req = RecordedRequest(
            method="POST", path=f"/v1beta/models/{short}:generateContent", query={},
            headers=Headers([("Content-Type", "application/json")]),
            raw_headers=[("Content-Type", "application/json")], body=body, json=request,
        )
        try:
            reply = generate_content(self.svc, req, short)
        except APIError as exc:
            return False, _rpc_status(exc)
        except Exception:  # a crash in a handler is an INTERNAL line, as the real API would give
            return False, {"code": 13, "message": "Internal error encountered."}
        return True, reply.json

    def finish(self, at: float) -> None:
        if self.phase is not Phase.COMPLETED or self.file_name is None:
            return
        out = []
        for (key, _), (ok, result) in zip(self.lines, self.results):
            item: dict[str, Any] = {} if key is None else {"key": key}
            item["response" if ok else "error"] = result
            out.append(json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n")
        meta = new_file(self.svc, b"".join(out), "application/jsonl", display_name=f"batch-{self.id}",
                        file_id=f"batch-{self.id}", generated=True)
        self.responses_file = meta["name"]

    # -- the Operation ---------------------------------------------------------------
    def output(self) -> dict[str, Any] | None:
        if self.phase is not Phase.COMPLETED:
            return None
        if self.file_name is not None:
            return {"responsesFile": self.responses_file}
        items = []
        for (metadata, _), (ok, result) in zip(self.lines, self.results):
            item: dict[str, Any] = {"response" if ok else "error": result}
            if metadata is not None:
                item["metadata"] = metadata
            items.append(item)
        return {"inlinedResponses": {"inlinedResponses": items}}

    def batch_stats(self) -> dict[str, str]:
        total = len(self.lines) if self.phase is not Phase.VALIDATING else self.request_count
        good = sum(1 for ok, _ in self.results if ok)
        bad = len(self.results) - good
        pending = 0 if self.phase is Phase.COMPLETED else total - len(self.results)
        stats = {"requestCount": total, "successfulRequestCount": good, "failedRequestCount": bad,
                 "pendingRequestCount": pending}
        return {k: str(v) for k, v in stats.items() if v}  # proto3 JSON: int64 as strings, zeros left out

    @property
    def state(self) -> str:
        return _STATES[self.phase]

    def to_json(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"@type": BATCH_TYPE, "model": self.model}
        if self.display_name:
            meta["displayName"] = self.display_name
        if self.file_name is not None:
            meta["inputConfig"] = {"fileName": self.file_name}
        output = self.output()
        if output is not None:
            meta["output"] = output
        meta["createTime"] = _timestamp(self.created_at)
        if self.done:
            meta["endTime"] = _timestamp(self.times[self.phase])
        meta["updateTime"] = _timestamp(self.updated_at)
        meta["batchStats"] = self.batch_stats()
        meta["state"] = self.state
        meta["name"] = self.name
        if self.priority not in (None, 0, "0"):
            meta["priority"] = str(self.priority)
        op: dict[str, Any] = {"name": self.name, "metadata": meta}
        if self.done:
            op["done"] = True
            if output is not None:
                op["response"] = {"@type": OUTPUT_TYPE, **output}
            elif self.phase is Phase.FAILED:
                op["error"] = dict(self.errors[0]) if self.errors else {"code": 13, "message": "The batch failed."}
            elif self.phase is Phase.CANCELLED:
                op["error"] = {"code": 1, "message": "The batch was cancelled."}
        return op


# -- helpers ---------------------------------------------------------------------------
def _not_found() -> GeminiError:
    return GeminiError(404, "Requested entity was not found.")


def _job(svc: GeminiService, batch_id: str) -> GeminiBatch:
    """The job, brought up to the batch clock (call with ``svc.batch_lock`` held)."""
    job = svc.batches.get(batch_id)
    if job is None:
        raise _not_found()
    job.advance_to(svc.batch_clock.now())
    return job


# -- routes --------------------------------------------------------------------------
@ROUTES.route("POST", r"/v1beta/models/(?P<model>[^/:]+):batchGenerateContent")
def batch_generate_content(svc: GeminiService, req: RecordedRequest, model: str) -> Reply:
    limit = svc.batch_settings.gemini_inline_bytes
    if len(req.body) > limit:
        raise _invalid(f"Request payload size exceeds the limit: {limit} bytes.")
    body = parse_body(req, "BatchGenerateContentRequest")
    entry = svc.model(model, "batchGenerateContent")
    batch = body.get("batch")
    if not batch:
        raise _invalid("* BatchGenerateContentRequest.batch: batch is not specified\n", "batch")
    config = batch.get("inputConfig") or {}
    requests = (config.get("requests") or {}).get("requests")
    file_name = config.get("fileName")
    where = "BatchGenerateContentRequest.batch.input_config"
    if requests and file_name:
        raise _invalid(f"* {where}: only one of file_name and requests can be set\n", "batch.input_config")
    if not requests and not file_name:
        raise _invalid(f"* {where}: input_config is not specified: set file_name or requests\n",
                       "batch.input_config")
    inline = None
    file_lines = None
    if requests:
        inline = []
        for i, item in enumerate(requests):
            request = item.get("request")
            if not request:
                field = f"batch.input_config.requests.requests[{i}].request"
                raise _invalid(f"* BatchGenerateContentRequest.{field}: request is not specified\n", field)
            inline.append((item.get("metadata"), request))
    else:
        if not file_name.startswith("files/"):
            raise _invalid(f"* {where}.file_name: {_show(file_name)} is not a file name (files/...)\n",
                           "batch.input_config.file_name")
        meta = live_file(svc, file_name)
        with svc.batch_lock:
            data = svc.file_data[meta["name"][len("files/"):]]
        file_lines = read_lines(data)
        if not file_lines:
            raise _invalid(f"* {where}.file_name: the file {file_name} has no requests\n",
                           "batch.input_config.file_name")
    with svc.batch_lock:
        job = GeminiBatch(
            svc, _lower_id(36), svc.batch_clock.now(), svc.batch_settings.copy(), model=entry["name"],
            display_name=batch.get("displayName"), priority=batch.get("priority"), inline=inline,
            file_name=file_name, file_lines=file_lines,
        )
        svc.batches[job.id] = job
        job.advance_to(svc.batch_clock.now())
        return _json(job.to_json())


@ROUTES.route("GET", r"/v1beta/batches")
def list_batches(svc: GeminiService, req: RecordedRequest) -> Reply:
    start, size = page_window(req, 50, 1000)
    with svc.batch_lock:
        now = svc.batch_clock.now()
        jobs = list(reversed(svc.batches.values()))
        page = jobs[start:start + size]
        for job in page:
            job.advance_to(now)
        body: dict[str, Any] = {"operations": [job.to_json() for job in page]} if page else {}
    if start + size < len(jobs):
        body["nextPageToken"] = page_token(start + size)
    return _json(body)


@ROUTES.route("GET", r"/v1beta/batches/(?P<batch_id>[^/:]+)")
def get_batch(svc: GeminiService, req: RecordedRequest, batch_id: str) -> Reply:
    with svc.batch_lock:
        return _json(_job(svc, batch_id).to_json())


@ROUTES.route("POST", r"/v1beta/batches/(?P<batch_id>[^/:]+):cancel")
def cancel_batch(svc: GeminiService, req: RecordedRequest, batch_id: str) -> Reply:
    with svc.batch_lock:
        _job(svc, batch_id).cancel(svc.batch_clock.now())  # a finished job stays as it is
    return _json({})


@ROUTES.route("DELETE", r"/v1beta/batches/(?P<batch_id>[^/:]+)")
def delete_batch(svc: GeminiService, req: RecordedRequest, batch_id: str) -> Reply:
    with svc.batch_lock:
        if svc.batches.pop(batch_id, None) is None:
            raise _not_found()
    return _json({})
