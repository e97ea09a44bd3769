"""``/v1/batches``: OpenAI's Batch API on the batch clock.

``POST /v1/batches`` takes an uploaded JSONL file (purpose ``batch``) of
``{"custom_id", "method": "POST", "url", "body"}`` lines and an ``endpoint``;
the job (:class:`OpenAIBatch`, a :class:`~llmplug.testing.batches.BatchJob`)
is ``validating`` for ``validate_seconds``, then checks every line as OpenAI
does (a bad line fails the whole batch, with ``errors.data`` naming the line),
is ``in_progress`` for ``run_seconds`` while its lines are answered in turn by
the endpoint's own handler (so a line gets exactly what a synchronous call with
its body gets, and a 4xx goes to the error file), ``finalizing`` for
``finalize_seconds``, then ``completed`` with ``output_file_id`` and
``error_file_id`` (purpose ``batch_output``; either is null when it would be
empty). A job not done 24 h (``openai_window_seconds``) after creation is
``expired``: the lines answered so far are in the files, the others in the
error file as ``batch_expired``. ``POST /v1/batches/{id}/cancel`` makes it
``cancelling``, then ``cancelled`` ``cancel_seconds`` later with the lines
answered before the cancel in the files.

Wire shapes follow OpenAI's OpenAPI spec (``Batch``, ``BatchError``,
``BatchRequestCounts``, the per-line ``BatchRequestOutput``) and, where the
spec is silent, what OpenAI was seen to answer (validation codes
``invalid_json_line``, ``missing_required_parameter``, ``invalid_url``,
``streaming_unsupported``, ``invalid_request``; an unknown ``input_file_id``
makes a batch that fails in validation; 409 when cancelling a finished batch).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..batches import BatchInvalid, BatchJob, BatchSettings, Phase
from ..messages import Headers
from ..server import APIError, RecordedRequest, Reply
from .common import ROUTES, _hex, _list_page, _rand
from .validation import _body, _in_range, _invalid_type, _invalid_value, _missing, _not_found

if TYPE_CHECKING:
    from .service import OpenAIService


#: The ``endpoint`` values OpenAI's spec allows for a batch.
BATCH_ENDPOINTS = [
    "/v1/responses", "/v1/chat/completions", "/v1/embeddings", "/v1/completions", "/v1/moderations",
    "/v1/images/generations", "/v1/images/edits", "/v1/videos",
]

#: How OpenAI names an endpoint in "...: Streaming is not supported in the Batch API."
_STREAM_NAMES = {"/v1/chat/completions": "Chat Completions", "/v1/responses": "Responses",
                 "/v1/completions": "Completions"}

#: Body parameters a line must carry, per endpoint (besides ``model``).
_REQUIRED = {"/v1/chat/completions": ("messages",), "/v1/embeddings": ("input",), "/v1/completions": ("prompt",),
             "/v1/responses": ()}

_STATUS = {
    Phase.VALIDATING: "validating", Phase.FAILED: "failed", Phase.RUNNING: "in_progress",
    Phase.FINALIZING: "finalizing", Phase.COMPLETED: "completed", Phase.EXPIRED: "expired",
    Phase.CANCELLING: "cancelling", Phase.CANCELLED: "cancelled",
}

_EXPIRED_ERROR = {"code": "batch_expired",
                  "message": "This request could not be executed before the completion window expired."}

#: How long a batch's output and error files live unless ``output_expires_after`` says (30 days).
_OUTPUT_TTL = 30 * 24 * 3600


def _error(code: str, message: str, line: int | None = None, param: str | None = None) -> dict[str, Any]:
    """One ``BatchError``."""
    return {"code": code, "message": message, "param": param, "line": line}


def _line(out: dict[str, Any]) -> bytes:
    return json.dumps(out, ensure_ascii=False).encode("utf-8") + b"\n"


class OpenAIBatch(BatchJob):
    """One batch job of the fake OpenAI API; ``to_json()`` is its ``Batch`` object."""

    def __init__(
        self, svc: OpenAIService, batch_id: str, created_at: float, settings: BatchSettings, *, endpoint: str,
        input_file_id: str, completion_window: str, metadata: dict[str, str] | None,
        output_ttl: int | None,
    ) -> None:
        super().__init__(created_at, settings, created_at + settings.openai_window_seconds)
        self.svc = svc
        self.id = batch_id
        self.endpoint = endpoint
        self.input_file_id = input_file_id
        self.completion_window = completion_window
        self.metadata = metadata
        self.output_ttl = output_ttl
        self.model: str | None = None
        self.output_file_id: str | None = None
        self.error_file_id: str | None = None
        self.usage = {"input_tokens": 0, "cached_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0}

    # -- validation ----------------------------------------------------------
    def validate(self, at: float) -> list[tuple[int, str, dict[str, Any]]]:
        svc, s = self.svc, self.settings
        data = svc.file_data.get(self.input_file_id)
        if data is None or self.input_file_id not in svc.files:
            raise BatchInvalid([_error(
                "invalid_request",
                f"Cannot find file {self.input_file_id}, or organization org-fake does not have access to it.",
                param="file_id",
            )])
        if len(data) > s.max_file_bytes:
            raise BatchInvalid([_error(
                "file_too_large",
                f"The batch input file is {len(data)} bytes; it can be at most {s.max_file_bytes} bytes.",
                param="input_file_id",
            )])
        raw_lines = [(number, raw) for number, raw in enumerate(data.split(b"\n"), 1) if raw.strip()]
        if not raw_lines:
            raise BatchInvalid([_error("empty_file", "The batch input file is empty.", param="input_file_id")])
        if len(raw_lines) > s.max_requests:
            raise BatchInvalid([_error(
                "too_many_tasks",
                f"The batch input file has {len(raw_lines)} requests; a batch can have at most {s.max_requests}.",
                param="input_file_id",
            )])
        errors: list[dict[str, Any]] = []
        lines: list[tuple[int, str, dict[str, Any]]] = []
        seen: set[str] = set()
        first_model: tuple[int, str] | None = None
        for number, raw in raw_lines:
            try:
                item = json.loads(raw)
            except ValueError:  # UnicodeDecodeError is a ValueError too
                errors.append(_error("invalid_json_line", "This line is not parseable as valid JSON.", number))
                continue
            if not isinstance(item, dict):
                errors.append(_error("invalid_request", "Each line must be a JSON object.", number))
                continue
            problems = self._check_line(item, number)
            body = item.get("body")
            if not problems and isinstance(body, dict) and isinstance(body.get("model"), str):
                if first_model is None:
                    first_model = (number, body["model"])
                elif body["model"] != first_model[1]:
                    problems.append(_error(
                        "mismatched_model",
                        f"The provided model '{body['model']}' does not match the model '{first_model[1]}' of line "
                        f"{first_model[0]}. All requests in a batch must use the same model.",
                        number, "body.model",
                    ))
            custom_id = item.get("custom_id")
            if isinstance(custom_id, str):
                if custom_id in seen:
                    problems.append(_error(
                        "duplicate_custom_id",
                        "The custom_id for this request is a duplicate of another request. The custom_id parameter "
                        "must be unique for each request in a batch.",
                        number, "custom_id",
                    ))
                seen.add(custom_id)
            if problems:
                errors.extend(problems)
            else:
                lines.append((number, item["custom_id"], item["body"]))
        if errors:
            raise BatchInvalid(errors)
        if first_model is not None:
            self.model = first_model[1]
        return lines

    def _check_line(self, item: dict[str, Any], number: int) -> list[dict[str, Any]]:
        problems = []
        for name, kind, label in (("custom_id", str, "a string"), ("method", str, "a string"),
                                  ("url", str, "a string"), ("body", dict, "an object")):
            if item.get(name) is None:
                problems.append(_error("missing_required_parameter", f"Missing required parameter: '{name}'.",
                                       number, name))
            elif not isinstance(item[name], kind):
                wrong = _invalid_type(name, label, item[name])
                problems.append(_error("invalid_type", wrong.message, number, name))
        if problems:
            return problems
        if item["method"] != "POST":
            problems.append(_error("invalid_value", f"Invalid value: '{item['method']}'. Supported values are: 'POST'.",
                                   number, "method"))
        if item["url"] != self.endpoint:
            problems.append(_error("invalid_url", "The URL provided for this request does not match the batch endpoint.",
                                   number, "url"))
            return problems
        body = item["body"]
        if body.get("stream") is True and self.endpoint in _STREAM_NAMES:
            problems.append(_error("streaming_unsupported",
                                   f"{_STREAM_NAMES[self.endpoint]}: Streaming is not supported in the Batch API.",
                                   number, "body.stream"))
        if self.endpoint in _REQUIRED:
            for name in ("model",) + _REQUIRED[self.endpoint]:
                if body.get(name) is None:
                    problems.append(_error("invalid_request", f"{name.capitalize()} parameter is required.",
                                           number, f"body.{name}"))
        return problems

    # -- answering -------------------------------------------------------------
    def answer(self, line: tuple[int, str, dict[str, Any]]) -> tuple[bool, dict[str, Any]]:
        """(succeeded, the output line) for one input line, by the endpoint's own handler."""
        _, custom_id, body = line
        svc = self.svc
        req = RecordedRequest(
            method="POST", path=self.endpoint, query={}, headers=Headers([("Content-Type", "application/json")]),
            raw_headers=[("Content-Type", "application/json")], body=json.dumps(body).encode("utf-8"), json=body,
        )
        found = svc.routes.match("POST", self.endpoint)
        try:
            if custom_id in svc.fail_batch_lines:
                reply = svc.status_error(svc.fail_batch_lines[custom_id])
            elif found is None:
                reply = svc.not_found(req)
            else:
                handler, params = found
                reply = handler(svc, req, **params)
        except APIError as exc:
            reply = svc.error(exc.status, exc.message, type=exc.type, param=exc.param, code=exc.code)
        except Exception:  # a crash in a handler is a 500 line, as the real API would give
            reply = svc.internal_error()
        payload = reply.json
        if payload is None and reply.body is not None:
            try:
                payload = json.loads(reply.body)
            except ValueError:
                payload = reply.body.decode("utf-8", "replace") if isinstance(reply.body, bytes) else reply.body
        ok = 200 <= reply.status < 300
        if ok and isinstance(payload, dict):
            self._count_usage(payload.get("usage"))
        out = {"id": "batch_req_" + _rand(24), "custom_id": custom_id,
               "response": {"status_code": reply.status, "request_id": "req_" + _hex(32), "body": payload},
               "error": None}
        return ok, out

    def _count_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        u = self.usage
        u["input_tokens"] += int(usage.get("prompt_tokens", usage.get("input_tokens", 0)) or 0)
        u["output_tokens"] += int(usage.get("completion_tokens", usage.get("output_tokens", 0)) or 0)
        details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details") or {}
        u["cached_tokens"] += int(details.get("cached_tokens", 0) or 0)
        details = usage.get("completion_tokens_details") or usage.get("output_tokens_details") or {}
        u["reasoning_tokens"] += int(details.get("reasoning_tokens", 0) or 0)

    # -- the end ---------------------------------------------------------------
    def finish(self, at: float) -> None:
        if self.phase is Phase.FAILED:
            return
        good = [out for ok, out in self.results if ok]
        bad = [out for ok, out in self.results if not ok]
        if self.phase is Phase.EXPIRED:
            bad += [{"id": "batch_req_" + _rand(24), "custom_id": custom_id, "response": None,
                     "error": dict(_EXPIRED_ERROR)} for _, custom_id, _ in self.lines[len(self.results):]]
        ttl = self.output_ttl if self.output_ttl is not None else _OUTPUT_TTL
        if good:
            data = b"".join(_line(out) for out in good)
            self.output_file_id = self.svc.add_file(
                data, "batch_output", f"{self.id}_output.jsonl", created_at=int(at), expires_at=int(at) + ttl)["id"]
        if bad:
            data = b"".join(_line(out) for out in bad)
            self.error_file_id = self.svc.add_file(
                data, "batch_output", f"{self.id}_error.jsonl", created_at=int(at), expires_at=int(at) + ttl)["id"]

    # -- the Batch object --------------------------------------------------------
    @property
    def status(self) -> str:
        return _STATUS[self.phase]

    def request_counts(self) -> dict[str, int]:
        completed = sum(1 for ok, _ in self.results if ok)
        failed = len(self.results) - completed
        if self.phase is Phase.EXPIRED:
            failed += len(self.lines) - len(self.results)
        return {"total": len(self.lines), "completed": completed, "failed": failed}

    def to_json(self) -> dict[str, Any]:
        t = self.times

        def at(phase: Phase) -> int | None:
            return int(t[phase]) if phase in t else None

        u = self.usage
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "model": self.model,
            "errors": {"object": "list", "data": [dict(e) for e in self.errors]} if self.phase is Phase.FAILED else None,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": int(self.created_at),
            "in_progress_at": at(Phase.RUNNING),
            "expires_at": int(self.expires_at) if self.expires_at is not None else None,
            "finalizing_at": at(Phase.FINALIZING),
            "completed_at": at(Phase.COMPLETED),
            "failed_at": at(Phase.FAILED),
            "expired_at": at(Phase.EXPIRED),
            "cancelling_at": at(Phase.CANCELLING),
            "cancelled_at": at(Phase.CANCELLED),
            "request_counts": self.request_counts(),
            "usage": {
                "input_tokens": u["input_tokens"],
                "input_tokens_details": {"cached_tokens": u["cached_tokens"]},
                "output_tokens": u["output_tokens"],
                "output_tokens_details": {"reasoning_tokens": u["reasoning_tokens"]},
                "total_tokens": u["input_tokens"] + u["output_tokens"],
            },
            "metadata": dict(self.metadata) if self.metadata is not None else None,
        }


# -- request checks -----------------------------------------------------------------
def _check_metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid_type("metadata", "an object", value)
    if len(value) > 16:
        raise APIError(
            400,
            f"Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an "
            f"object with {len(value)} properties instead.",
            type="invalid_request_error", param="metadata", code="object_above_max_properties",
        )
    for key, item in value.items():
        if len(key) > 64:
            raise APIError(
                400,
                f"Invalid 'metadata': string too long. Expected a string with maximum length 64, but got a string "
                f"with length {len(key)} instead.",
                type="invalid_request_error", param="metadata", code="string_above_max_length",
            )
        if not isinstance(item, str):
            raise _invalid_type(f"metadata.{key}", "a string", item)
        if len(item) > 512:
            raise APIError(
                400,
                f"Invalid 'metadata.{key}': string too long. Expected a string with maximum length 512, but got a "
                f"string with length {len(item)} instead.",
                type="invalid_request_error", param=f"metadata.{key}", code="string_above_max_length",
            )
    return dict(value)


def _check_output_expiry(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid_type("output_expires_after", "an object", value)
    if value.get("anchor") is None:
        raise _missing("output_expires_after.anchor")
    if value["anchor"] != "created_at":
        raise _invalid_value("output_expires_after.anchor", value["anchor"], ["created_at"])
    seconds = value.get("seconds")
    if seconds is None:
        raise _missing("output_expires_after.seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise _invalid_type("output_expires_after.seconds", "an integer", seconds)
    _in_range("output_expires_after.seconds", seconds, 3600, 2592000)
    return seconds


def _job(svc: OpenAIService, batch_id: str) -> OpenAIBatch:
    """The job, brought up to the batch clock (call with ``svc.batch_lock`` held)."""
    job = svc.batches.get(batch_id)
    if job is None:
        raise _not_found(f"No batch found with id '{batch_id}'.")
    job.advance_to(svc.batch_clock.now())
    return job


# -- routes ------------------------------------------------------------------------
@ROUTES.route("POST", r"/v1/batches")
def create_batch(svc: OpenAIService, req: RecordedRequest) -> Reply:
    body = _body(req)
    values = {}
    for name in ("input_file_id", "endpoint", "completion_window"):
        value = body.get(name)
        if value is None:
            raise _missing(name)
        if not isinstance(value, str):
            raise _invalid_type(name, "a string", value)
        values[name] = value
    if values["endpoint"] not in BATCH_ENDPOINTS:
        raise _invalid_value("endpoint", values["endpoint"], BATCH_ENDPOINTS)
    if values["completion_window"] != "24h":
        raise _invalid_value("completion_window", values["completion_window"], ["24h"])
    metadata = _check_metadata(body.get("metadata"))
    ttl = _check_output_expiry(body.get("output_expires_after"))
    file_meta = svc.files.get(values["input_file_id"])
    if file_meta is not None and file_meta.get("purpose") != "batch":
        raise APIError(
            400,
            f"The input file {values['input_file_id']} has purpose '{file_meta.get('purpose')}'; a batch input file "
            "must be uploaded with purpose 'batch'.",
            type="invalid_request_error", param="input_file_id", code="invalid_value",
        )
    with svc.batch_lock:
        job = OpenAIBatch(
            svc, "batch_" + _hex(32), svc.batch_clock.now(), svc.batch_settings.copy(),
            endpoint=values["endpoint"], input_file_id=values["input_file_id"],
            completion_window=values["completion_window"], metadata=metadata, output_ttl=ttl,
        )
        svc.batches[job.id] = job
        job.advance_to(svc.batch_clock.now())  # a zero validate_seconds validates now
        return Reply(json=job.to_json())


@ROUTES.route("GET", r"/v1/batches")
def list_batches(svc: OpenAIService, req: RecordedRequest) -> Reply:
    q = {k: v[-1] for k, v in req.query.items()}
    limit = 20
    if q.get("limit"):
        try:
            limit = int(q["limit"])
        except ValueError:
            raise _invalid_type("limit", "an integer", q["limit"]) from None
        _in_range("limit", limit, 1, 100)
    with svc.batch_lock:
        now = svc.batch_clock.now()
        jobs = list(reversed(svc.batches.values()))  # newest first
        if q.get("after"):
            ids = [job.id for job in jobs]
            jobs = jobs[ids.index(q["after"]) + 1:] if q["after"] in ids else []
        page = jobs[:limit]
        for job in page:
            job.advance_to(now)
        return _list_page([job.to_json() for job in page], len(jobs) > len(page))


@ROUTES.route("GET", r"/v1/batches/(?P<batch_id>[^/]+)")
def get_batch(svc: OpenAIService, req: RecordedRequest, batch_id: str) -> Reply:
    with svc.batch_lock:
        return Reply(json=_job(svc, batch_id).to_json())


@ROUTES.route("POST", r"/v1/batches/(?P<batch_id>[^/]+)/cancel")
def cancel_batch(svc: OpenAIService, req: RecordedRequest, batch_id: str) -> Reply:
    with svc.batch_lock:
        job = _job(svc, batch_id)
        if job.phase is not Phase.CANCELLED and not job.cancel(svc.batch_clock.now()):
            raise APIError(409, f"Cannot cancel a batch with status '{job.status}'.", type="invalid_request_error")
        return Reply(json=job.to_json())

