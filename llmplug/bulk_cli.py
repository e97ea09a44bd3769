"""``llmplug bulk input.jsonl -o output.jsonl``: many calls from a file, through
:meth:`AsyncClient.map_unordered <llmplug.core.async_client.AsyncClient.map_unordered>`.

Lines in and out are in the OpenAI Batch API's format, so one file serves both
paths: in, ``{"custom_id", "method", "url", "body"}`` (``method`` and ``url``
may be left out: ``--endpoint`` says the operation); out, ``{"custom_id",
"response": {"status_code", "request_id", "body"} | null, "error": {"code",
"message"} | null}``, one line per call as it ends, flushed, so the file is
valid at every moment. A rerun skips the ids already in the output (a torn
last line left by a killed run is dropped first).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

import llmplug
from llmplug.core.batch_input import OPERATIONS_BY_URL, request_line
from llmplug.core.errors import APIStatusError, ConfigurationError
from llmplug.core.http import Headers

__all__ = ["OPERATIONS_BY_URL", "read_calls", "run_bulk"]

def read_calls(lines: IO[str], endpoint: str, skip: set[str]) -> tuple[list[str], list[llmplug.Call]]:
    """The custom ids and calls of an input file, less those in ``skip``; a
    :class:`ConfigurationError` naming the line for anything malformed."""
    ids: list[str] = []
    calls: list[llmplug.Call] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        custom_id, operation, body = request_line(line, f"input line {number}", endpoint, mixed=True)
        if custom_id in seen:
            raise ConfigurationError(f"input line {number}: custom_id {custom_id!r} is used twice")
        seen.add(custom_id)
        if custom_id not in skip:
            ids.append(custom_id)
            calls.append(llmplug.call(operation, **body))
    return ids, calls


def done_ids(path: str) -> set[str]:
    """The custom ids already in the output file. A torn last line (a killed
    run's) is cut off the file, so its call runs again; a bad line before the
    last is an error (the file is not this command's output)."""
    if not os.path.exists(path):
        return set()
    with open(path, "rb") as handle:
        lines = handle.readlines()
    ids: set[str] = set()
    for number, line in enumerate(lines, 1):
        try:
            ids.add(json.loads(line)["custom_id"])
            whole = line.endswith(b"\n")
        except (ValueError, KeyError, TypeError):
            whole = False
        if not whole:
            if number < len(lines):
                raise ConfigurationError(f"output line {number} of {path} is not a result line: is it the right file?")
            with open(path, "r+b") as handle:
                handle.truncate(sum(len(kept) for kept in lines[:-1]))
            ids.discard(_id_of(line))
    return ids


def _id_of(line: bytes) -> Any:
    try:
        return json.loads(line).get("custom_id")
    except (ValueError, AttributeError):
        return None


def output_line(custom_id: str, outcome: Any) -> dict[str, Any]:
    """One output line in the Batch API's format, for an :class:`ApiResult`, a
    result model (a batch job's) or an error."""
    if not isinstance(outcome, BaseException):
        result = outcome if isinstance(outcome, llmplug.ApiResult) else llmplug.ApiResult(200, outcome, Headers())
        # The normalised (OpenAI) shape whatever the provider, as the Batch API's output has it.
        body = getattr(result.body, "shaped", None) or getattr(result.body, "raw", result.body)
        response = {"status_code": result.status, "request_id": result.request_id, "body": body}
        return {"custom_id": custom_id, "response": response, "error": None}
    error: dict[str, Any] = {"code": getattr(outcome, "code", None) or type(outcome).__name__, "message": str(outcome)}
    response = None
    if isinstance(outcome, APIStatusError):
        response = {"status_code": outcome.status_code, "request_id": outcome.request_id, "body": outcome.body}
        detail = outcome.body.get("error") if isinstance(outcome.body, dict) else None
        if isinstance(detail, dict):  # the server's own name for it: OpenAI's code or type, Google's status
            error["code"] = next((v for v in (detail.get(k) for k in ("code", "type", "status")) if isinstance(v, str)), error["code"])
    return {"custom_id": custom_id, "response": response, "error": error}


class StatusLines:
    """Progress as a line on stderr every ``every`` seconds and at the end
    (where no terminal or tqdm is at hand)."""

    def __init__(self, stream: IO[str], every: float = 2.0) -> None:
        self.stream = stream
        self.every = every
        self._last = 0.0

    def __call__(self, progress: llmplug.Progress) -> None:
        now = time.monotonic()
        if now - self._last < self.every and progress.done != progress.total:
            return
        self._last = now
        eta = f", ETA {progress.eta:.0f}s" if progress.eta is not None else ""
        total = f"/{progress.total}" if progress.total is not None else ""
        print(f"llmplug: {progress.done}{total} done ({progress.failed} failed), {progress.rate:.1f}/s{eta}",
              file=self.stream, flush=True)

    def close(self) -> None:
        """Nothing to tidy: every line is whole."""


class ProgressBar:
    """Progress as a tqdm bar on stderr (rate and ETA drawn by tqdm)."""

    def __init__(self, total: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="call", file=sys.stderr, dynamic_ncols=True)

    def __call__(self, progress: llmplug.Progress) -> None:
        self._bar.set_postfix(failed=progress.failed, refresh=False)
        self._bar.update(progress.done - self._bar.n)

    def close(self) -> None:
        self._bar.close()


def progress_display(total: int, stream: IO[str] | None = None) -> Any:
    """A tqdm bar on a terminal (stderr) when tqdm is installed (``llmplug[cli]``), else status lines."""
    stream = stream or sys.stderr
    if stream.isatty():
        try:
            return ProgressBar(total)
        except ImportError:
            pass
    return StatusLines(stream)


async def run_bulk(
    client: llmplug.AsyncClient,
    ids: list[str],
    calls: list[llmplug.Call],
    output: IO[str],
    *,
    concurrency: int,
    progress: Callable[[llmplug.Progress], Any] | None = None,
) -> tuple[int, int]:
    """Run ``calls``, writing each outcome to ``output`` as it ends; ``(done, failed)``."""
    done = failed = 0
    async for index, outcome in client.map_unordered(calls, concurrency=concurrency, progress=progress):
        output.write(json.dumps(output_line(ids[index], outcome), default=str) + "\n")
        output.flush()
        done += 1
        failed += isinstance(outcome, BaseException)
    return done, failed
