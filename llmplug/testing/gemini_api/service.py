"""The fake Gemini API as a service: its route table, auth, errors, headers, models and script.

:data:`ROUTES` maps every endpoint under ``/v1beta`` (native and
OpenAI-compatible) to its handler; :class:`GeminiService` checks the API key
(``x-goog-api-key``, ``?key=``, or a bearer key on the OpenAI-compatible
endpoint), shapes errors as Google does, adds Google's headers, looks models
up, and keeps the scripted candidates of one server. Importing this module
registers the service as a default of every ``FakeAPI``.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from ..batches import BatchClock, BatchSettings
from ..server import APIError, RecordedRequest, Reply, Service, register_service
from . import batches, embeddings, files, generate, models, openai_compat
from .common import ROUTES, JSON_TYPE, GeminiError
from .models import MODELS
from .scripted import ScriptedCandidate

if TYPE_CHECKING:
    from .batches import GeminiBatch
    from .files import Upload


OPENAI_PREFIX = "/v1beta/openai"
#: Where the Files API takes uploads and serves downloads (outside ``/v1beta``).
MEDIA_PREFIXES = ("/upload/v1beta", "/download/v1beta")

#: google.rpc status names by HTTP status.
STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_CANNED: dict[int, str] = {
    400: "Request contains an invalid argument.",
    401: "Request had invalid authentication credentials.",
    403: "The caller does not have permission",
    404: "Requested entity was not found.",
    429: (
        "You exceeded your current quota, please check your plan and billing details. For more information on "
        "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
    ),
    500: (
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting"
    ),
    503: "The model is overloaded. Please try again later.",
    504: "Deadline expired before operation could complete.",
}

_NOT_FOUND_HTML = (
    "<!DOCTYPE html>\n<html lang=en>\n  <meta charset=utf-8>\n  <title>Error 404 (Not Found)!!1</title>\n"
    "  <p><b>404.</b> <ins>That\u2019s an error.</ins>\n  <p>The requested URL <code>{path}</code> was not found "
    "on this server.  <ins>That\u2019s all we know.</ins>\n"
)


class GeminiService(Service):
    """Gemini's API under ``/v1beta``: native endpoints and the OpenAI-compatible one,
    plus the Files API's ``/upload/v1beta`` and ``/download/v1beta``.

    ``files`` (File resources by id, without ``files/``) and ``file_data``
    (their bytes) hold uploads and batch responses files; ``batches`` the batch
    jobs by id (:class:`~llmplug.testing.gemini_api.batches.GeminiBatch`, in
    creation order: change one's ``settings`` to retime it); ``uploads`` the
    open resumable upload sessions.
    """

    prefix = "/v1beta"
    routes = ROUTES

    def __init__(self) -> None:
        #: The models served (a copy of :data:`MODELS`; add or remove per server).
        self.models: list[dict[str, Any]] = copy.deepcopy(MODELS)
        self._scripted: deque[ScriptedCandidate] = deque()
        self._lock = threading.Lock()
        self.files: dict[str, dict[str, Any]] = {}
        self.file_data: dict[str, bytes] = {}
        self.file_expiry: dict[str, float] = {}
        self.uploads: dict[str, Upload] = {}
        self.batches: dict[str, GeminiBatch] = {}
        #: Request key (an inline request's ``metadata.key``, a file line's ``key``) ->
        #: HTTP status: that request fails with Google's canned error of that status.
        self.fail_batch_lines: dict[str, int] = {}
        #: Non-final resumable upload chunks must be multiples of this (Google's 8 MiB).
        self.upload_granularity = files.CHUNK_GRANULARITY
        #: Held while files, uploads or batch jobs are read or changed.
        self.batch_lock = threading.RLock()
        self.batch_clock = BatchClock()  # FakeAPI replaces both with its shared ones
        self.batch_settings = BatchSettings()

    def reset(self) -> None:
        self.models = copy.deepcopy(MODELS)
        with self._lock:
            self._scripted.clear()
        with self.batch_lock:
            self.files.clear()
            self.file_data.clear()
            self.file_expiry.clear()
            self.uploads.clear()
            self.batches.clear()
        self.fail_batch_lines.clear()
        self.upload_granularity = files.CHUNK_GRANULARITY

    def handles(self, path: str) -> bool:
        return super().handles(path) or any(path == p or path.startswith(p + "/") for p in MEDIA_PREFIXES)

    def batch(self, batch_id: str) -> GeminiBatch:
        """The batch job ``batch_id`` (without ``batches/``), brought up to the batch clock."""
        batch_id = batch_id[len("batches/"):] if batch_id.startswith("batches/") else batch_id
        with self.batch_lock:
            job = self.batches[batch_id]
            job.advance_to(self.batch_clock.now())
            return job

    # -- scripted candidates ------------------------------------------------
    def script_reply(
        self, parts: list[dict[str, Any]], *, finish_reason: str = "STOP", finish_message: str | None = None,
        times: int | None = 1,
    ) -> None:
        """Answer the next ``times`` native generate calls (``None``: all of them) with one
        candidate made of ``parts`` (sent as given; ``[]`` gives a candidate with no
        content), ``finish_reason`` and ``finish_message``. FIFO; requests are still
        checked, so a bad body gets its 400 and leaves the script in place."""
        if not isinstance(parts, list) or not all(isinstance(part, dict) for part in parts):
            raise TypeError("parts must be a list of Gemini part dicts, such as [{'text': 'Hi'}]")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1 or None (forever)")
        with self._lock:
            self._scripted.append(ScriptedCandidate(copy.deepcopy(parts), finish_reason, finish_message, times))

    def take_scripted(self) -> ScriptedCandidate | None:
        """The next scripted candidate (counted as played), or ``None``."""
        with self._lock:
            if not self._scripted:
                return None
            entry = self._scripted[0]
            if entry.remaining is not None:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    self._scripted.popleft()
            return entry

    # -- shapes ----------------------------------------------------------
    def gemini_error(
        self, status: int, message: str, *, status_name: str | None = None,
        details: list[Any] | None = None, listed: bool = False,
    ) -> Reply:
        """``{"error": {code, message, status[, details]}}``; ``listed`` wraps it in a
        list, as the OpenAI-compatible endpoint does."""
        error: dict[str, Any] = {"code": status, "message": message,
                                 "status": status_name or STATUS_NAMES.get(status, "UNKNOWN")}
        if details:
            error["details"] = details
        body: Any = {"error": error}
        return Reply(status, json=[body] if listed else body, content_type=JSON_TYPE)

    def error(self, status: int, message: str, *, type: str | None = None, param: str | None = None,
              code: str | None = None) -> Reply:
        return self.gemini_error(status, message, status_name=type)

    def status_error(self, status: int) -> Reply:
        message = _CANNED.get(status) or ("Internal error encountered." if status >= 500 else f"HTTP {status}")
        return self.gemini_error(status, message)

    def not_found(self, request: RecordedRequest) -> Reply:
        return Reply(404, body=_NOT_FOUND_HTML.format(path=request.path), content_type="text/html; charset=UTF-8")

    def internal_error(self) -> Reply:
        return self.gemini_error(500, "Internal error encountered.")

    def response_headers(self, request: RecordedRequest, elapsed: float) -> list[tuple[str, str]]:
        return [
            ("Vary", "Origin, X-Origin, Referer"),
            ("Server", "scaffolding on HTTPServer2"),
            ("Server-Timing", f"gfet4t7; dur={max(1, round(elapsed * 1000))}"),
            ("X-XSS-Protection", "0"),
            ("X-Frame-Options", "SAMEORIGIN"),
            ("X-Content-Type-Options", "nosniff"),
        ]

    # -- auth and routing -------------------------------------------------
    def authenticate(self, request: RecordedRequest, api_key: str) -> Reply | None:
        listed = _is_openai(request.path)
        if listed:
            auth = request.headers.get("authorization", "")
            scheme, _, key = auth.strip().partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                return self.gemini_error(401, "Missing or invalid Authorization header.", listed=True)
            key = key.strip()
        else:
            if request.path == files.UPLOAD_PATH and (request.query.get("upload_id") or [""])[-1] in self.uploads:
                return None  # the upload URL of a started session is the credential, as at Google
            key = request.headers.get("x-goog-api-key") or (request.query.get("key") or [""])[-1]
            if not key:
                return self.gemini_error(
                    403,
                    "Method doesn't allow unregistered callers (callers without established identity). "
                    "Please use API Key or other form of API consumer identity to call this API.",
                )
        if key != api_key:
            details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com", "metadata": {"service": "generativelanguage.googleapis.com"}}]
            message = "API key not valid. Please pass a valid API key."
            return self.gemini_error(400, message, details=details, listed=listed)
        return None

    def dispatch(self, request: RecordedRequest) -> Reply:
        found = self.routes.match(request.method, request.path)
        if found is None:
            return self.not_found(request)
        handler, params = found
        listed = _is_openai(request.path)
        try:
            return handler(self, request, **params)
        except GeminiError as exc:
            return self.gemini_error(exc.status, exc.message, status_name=exc.type, details=exc.details, listed=listed)
        except APIError as exc:
            return self.gemini_error(exc.status, exc.message, listed=listed)

    # -- models -----------------------------------------------------------
    def model(self, name: str, method: str | None = None) -> dict[str, Any]:
        """The model entry called ``name``, or the 404 Gemini gives."""
        name = name[len("models/"):] if name.startswith("models/") else name
        for entry in self.models:
            if entry["name"] == f"models/{name}" and (method is None or method in entry["supportedGenerationMethods"]):
                return entry
        what = f"supported for {method}" if method else "available"
        raise GeminiError(
            404,
            f"models/{name} is not found for API version v1beta, or is not {what}. "
            "Call ListModels to see the list of available models and their supported methods.",
        )


register_service(GeminiService)


def gemini_service(api: Any) -> GeminiService:
    """The :class:`GeminiService` a ``FakeAPI`` runs (to script its replies)."""
    for service in api.services:
        if isinstance(service, GeminiService):
            return service
    raise LookupError("this FakeAPI serves no Gemini API: create it with the default services")


def _is_openai(path: str) -> bool:
    return path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/")
