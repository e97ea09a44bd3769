"""Batch jobs on the providers' own engines, one way through every provider.

``client.submit_batch(requests, endpoint="chat.create")`` checks every line
(:mod:`llmplug.core.batch_input`), has the provider's :class:`BatchFormat`
(hook ``llmplug_batch_format``) turn them into its input (a JSONL file to
upload, or inline requests), creates the job and returns a :class:`BatchJob`.
``job.wait()`` polls with backoff; ``job.results()`` gives ``(custom_id,
result_or_error)`` in input order, each result the model the same call gives
synchronously (a ``ChatCompletion``...) and each error a typed llmplug error,
reading output files from disk (downloaded chunk by chunk), never whole in
memory. ``client.batch_job(id)`` reattaches from another process.

The methods are plans (:mod:`llmplug.core.plans`): the same code runs on the
sync client and, awaited, on the async one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import attrs

from .batch_input import collect_requests, operation_named
from .errors import APIError, ConfigurationError
from .http import BytesStream, Headers, Request, Response
from .models import Batch
from .plans import Plan, Sleep

__all__ = ["BatchEntry", "BatchFormat", "BatchJob", "BatchPlan", "BatchRequestError", "submit_plan"]


@attrs.frozen
class BatchPlan:
    """A provider's input for one job: the params of ``batches.create`` and, when
    the requests go in a file, ``upload`` (file name, JSONL bytes), whose id the
    job is then created with (``input_file_id``)."""

    create: dict[str, Any]
    upload: tuple[str, bytes] | None = None


@attrs.frozen
class BatchEntry:
    """One request's outcome as the provider's engine reports it: the HTTP
    ``status`` and ``body`` a synchronous call would have had."""

    custom_id: str
    status: int
    body: Any
    request_id: str | None = None


class BatchFormat:
    """How one provider's batch engine takes requests and gives results; a
    plugin's ``llmplug_batch_format`` returns one. Core does the rest: checks,
    upload, polling, downloads, order, and normalising each body through the
    provider's own ``llmplug_parse_response`` / ``llmplug_parse_error``."""

    def plan(self, provider: Any, operation: str, requests: list[tuple[str, dict[str, Any]]]) -> BatchPlan:
        """The job's input; a :class:`ConfigurationError` naming the line that
        breaks one of the engine's limits (nothing is sent then)."""
        raise NotImplementedError

    def operation(self, batch: Batch) -> str:
        """The operation the job's requests run (``"chat.create"``...)."""
        return operation_named(batch.endpoint or "chat.create")

    def input_file(self, batch: Batch) -> str | None:
        """The id of the job's input file, read for the order of a reattached job's ids."""
        return batch.input_file_id

    def input_id(self, line: dict[str, Any]) -> str | None:
        """The custom id of one line of the input file."""
        return line.get("custom_id")

    def outputs(self, batch: Batch) -> tuple[list[str], list[Any]]:
        """Where the results are: file ids (JSONL, read in order) and inline entries."""
        return [f for f in (batch.output_file_id, batch.error_file_id) if f], []

    def entry(self, item: dict[str, Any]) -> BatchEntry:
        """One output line or inline entry as a :class:`BatchEntry`."""
        raise NotImplementedError


class BatchRequestError(APIError):
    """A request of a batch job that the engine did not run (expired, cancelled,
    or rejected before it ran): ``code`` is the engine's name for why."""

    def __init__(self, message: str, *, code: str | None = None, **base: Any) -> None:
        super().__init__(message, **base)
        self.code = code


def submit_plan(client: Any, requests: Iterable[Any], endpoint: str, options: dict[str, Any]) -> Plan:
    """The plan of ``client.submit_batch``: check, upload, create; the :class:`BatchJob`."""
    operation = operation_named(endpoint)
    form = client.plugins.batch_format(client.provider)
    lines = collect_requests(requests, operation, client.provider)
    plan = form.plan(client.provider, operation, lines)
    params = {**plan.create, **options}
    if plan.upload is not None:
        name, data = plan.upload
        uploaded = yield lambda: client.upload_file(data, "batch", filename=name)
        params["input_file_id"] = uploaded.body.id
    created = yield lambda: client.create_batch(**params)
    return BatchJob(client, created.body, operation=operation, custom_ids=[custom_id for custom_id, _ in lines], form=form)


def attach_plan(client: Any, batch_id: str) -> Plan:
    """The plan of ``client.batch_job(id)``: the job as it stands."""
    result = yield lambda: client.batch(batch_id)
    return BatchJob(client, result.body)


class BatchJob:
    """A job on the provider's batch engine. ``batch`` is its last known state
    (a :class:`~llmplug.core.models.Batch`); the methods run on the client's
    kind (awaited on an async client)."""

    def __init__(self, client: Any, batch: Batch, *, operation: str | None = None,
                 custom_ids: list[str] | None = None, form: BatchFormat | None = None) -> None:
        self.client = client
        self.batch = batch
        self._format = form if form is not None else client.plugins.batch_format(client.provider)
        self.operation = operation or self._format.operation(batch)
        #: The ids in input order (read from the input file for a reattached job).
        self.custom_ids = custom_ids

    @property
    def id(self) -> str:
        return self.batch.id

    @property
    def status(self) -> str | None:
        return self.batch.status

    def __repr__(self) -> str:
        counts = self.batch.request_counts
        done = f" {counts.completed + counts.failed}/{counts.total}" if counts else ""
        return f"<BatchJob {self.id} {self.status}{done}>"

    def _run(self, plan: Plan) -> Any:
        return self.client._drive_plan(plan)

    # ------------------------------------------------------------ state

    def refresh(self) -> Any:
        """Fetch the job's state: the :class:`Batch` (also kept in ``batch``)."""
        return self._run(self._refresh())

    def _refresh(self) -> Plan:
        result = yield lambda: self.client.batch(self.id)
        self.batch = result.body
        return self.batch

    def cancel(self) -> Any:
        """Ask the engine to stop the job; what was done is kept. The :class:`Batch`."""
        return self._run(self._cancel())

    def _cancel(self) -> Plan:
        yield lambda: self.client.cancel_batch(self.id)
        return (yield from self._refresh())  # the state after (some engines answer a cancel with nothing)

    def wait(
        self,
        poll_interval: float = 10.0,
        *,
        max_interval: float = 120.0,
        timeout: float | None = None,
        progress: Callable[[Batch], Any] | None = None,
        sleep: Callable[[float], Any] | None = None,
    ) -> Any:
        """Poll until the job ended (completed, failed, expired or cancelled):
        every ``poll_interval`` seconds, growing by half each time up to
        ``max_interval``; ``progress(batch)`` after each poll. ``timeout``: a
        :class:`TimeoutError` after that many seconds. The final :class:`Batch`."""
        if poll_interval <= 0 or max_interval < poll_interval:
            raise ConfigurationError("wait() needs poll_interval > 0 and max_interval >= poll_interval")
        return self._run(self._wait(poll_interval, max_interval, timeout, progress, sleep))

    def _wait(self, interval: float, most: float, timeout: float | None, progress: Any, sleep: Any) -> Plan:
        waited = 0.0
        while True:
            batch = yield from self._refresh()
            if progress is not None:
                outcome = progress(batch)
                if outcome is not None and hasattr(outcome, "__await__"):
                    yield lambda: outcome
            if batch.done:
                return batch
            if timeout is not None and waited + interval > timeout:
                raise TimeoutError(f"batch {self.id} is still {batch.status} after {waited:.0f}s of waiting")
            yield Sleep(interval, sleep)
            waited += interval
            interval = min(interval * 1.5, most)

    # ------------------------------------------------------------ results

    def results(self) -> Any:
        """``(custom_id, result_or_error)`` for every request, in input order: the
        result is what the same call gives synchronously (a ``ChatCompletion``,
        an ``EmbeddingList``...), the error a typed llmplug error (an
        ``APIStatusError`` with the engine's status and body, or a
        :class:`BatchRequestError` for a request that never ran). An iterator
        (on an async client: awaited, then iterated). Output files are
        downloaded to a temporary directory first, never held whole in memory."""
        return self._run(self._results())

    def _results(self) -> Plan:
        batch = self.batch if self.batch.done else (yield from self._refresh())
        if not batch.done:
            raise ConfigurationError(f"batch {self.id} is {batch.status}: wait() for it to end before reading results")
        folder = tempfile.mkdtemp(prefix="llmplug-batch-")
        files, inline = self._format.outputs(batch)
        paths = []
        for number, file_id in enumerate(files):
            path = os.path.join(folder, f"output-{number}.jsonl")
            yield lambda file_id=file_id, path=path: self.client.file_content(file_id, path)
            paths.append(path)
        if self.custom_ids is None:
            self.custom_ids = yield from self._input_order(folder)
        return _Results(self, paths, inline, self.custom_ids, folder)

    def _input_order(self, folder: str) -> Plan:
        """The ids in input order, from the job's input file (a reattached job)."""
        file_id = self._format.input_file(self.batch)
        if not file_id:
            return None
        path = os.path.join(folder, "input.jsonl")
        yield lambda: self.client.file_content(file_id, path)
        with open(path, "rb") as lines:
            return [self._format.input_id(json.loads(line)) for line in lines if line.strip()]

    def outcome(self, entry: BatchEntry) -> Any:
        """An entry as what the synchronous call gives: the normalised body, or the typed error."""
        client = self.client
        headers = Headers({"x-request-id": entry.request_id} if entry.request_id else {})
        request = Request("POST", f"batch:{self.id}", Headers(), None)
        request.extensions["operation"] = self.operation
        response = Response(entry.status, headers, BytesStream(b""), request)
        if 200 <= entry.status < 300:
            return client.plugins.parse_response(client.provider, self.operation, entry.body, response, {})
        if entry.status == 0:  # never ran: no HTTP status to speak of
            error = entry.body if isinstance(entry.body, dict) else {}
            return BatchRequestError(
                f"batch {self.id}: request {entry.custom_id!r} did not run: {error.get('message') or error}",
                code=error.get("code"), provider=client.provider.name,
            )
        return client.plugins.parse_error(client.provider, self.operation, response, entry.body)


class _Results:
    """The results of a job, read lazily from its downloaded files in input order:
    a first pass notes where each id's line is (ids and offsets only in
    memory), then each line is read when its turn comes. Iterate it as often as
    needed; the downloaded files go with it (``close()``, leaving a ``with``
    block, or when it is collected)."""

    def __init__(self, job: BatchJob, paths: list[str], inline: list[Any], order: list[str] | None, folder: str) -> None:
        self.job, self.paths, self.inline, self.order, self.folder = job, paths, inline, order, folder
        self._cleanup = weakref.finalize(self, shutil.rmtree, folder, True)

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        if not self._cleanup.alive:
            raise ConfigurationError("these batch results were closed: call job.results() again")
        return self._ordered()

    def close(self) -> None:
        """Remove the downloaded files now."""
        self._cleanup()

    def __enter__(self) -> _Results:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _index(self) -> tuple[dict[str, BatchEntry], dict[str, tuple[int, int]]]:
        """Inline entries by id, and ``(file number, offset)`` of each file line by id."""
        form = self.job._format
        inline = {entry.custom_id: entry for entry in map(form.entry, self.inline)}
        where: dict[str, tuple[int, int]] = {}
        for number, path in enumerate(self.paths):
            with open(path, "rb") as lines:
                offset = 0
                for line in lines:
                    if line.strip():
                        where.setdefault(form.entry(json.loads(line)).custom_id, (number, offset))
                    offset += len(line)
        return inline, where

    def _ordered(self) -> Iterator[tuple[str, Any]]:
        job, form = self.job, self.job._format
        inline, where = self._index()
        order = self.order if self.order is not None else [*inline, *where]
        files = [open(path, "rb") for path in self.paths]  # noqa: SIM115 (closed below)
        try:
            for custom_id in order:
                entry = inline.get(custom_id)
                if entry is None and custom_id in where:
                    number, offset = where[custom_id]
                    files[number].seek(offset)
                    entry = form.entry(json.loads(files[number].readline()))
                if entry is None:
                    yield custom_id, BatchRequestError(
                        f"batch {job.id} ({job.status}) has no result for request {custom_id!r}",
                        code="missing", provider=job.client.provider.name,
                    )
                else:
                    yield custom_id, job.outcome(entry)
        finally:
            for handle in files:
                handle.close()
