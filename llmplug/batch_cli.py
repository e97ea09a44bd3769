"""``llmplug batch submit|status|results|cancel|list``: jobs on the provider's
batch engine from the command line (see :mod:`llmplug.core.batch_jobs`).

``submit input.jsonl`` reads the same lines as ``llmplug bulk`` and prints the
job's id; ``status ID`` prints where it is (``--wait``: follows it to its end
with a progress bar on a terminal); ``results ID -o out.jsonl`` writes one
line per request in input order, in ``llmplug bulk``'s output format;
``cancel ID`` stops a job; ``list`` shows the latest jobs.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any

import llmplug
from llmplug.bulk_cli import output_line, progress_display

__all__ = ["batch_command"]


def describe(batch: Any) -> str:
    """One line about a job: id, status and counts."""
    counts = batch.request_counts
    done = f", {counts.completed + counts.failed}/{counts.total} done ({counts.failed} failed)" if counts else ""
    return f"{batch.id}  {batch.status}{done}"


class _Follow:
    """Progress of a job's ``wait`` as ``llmplug bulk`` shows a run's: a tqdm bar
    on a terminal (``llmplug[cli]``), else a status line per poll."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.start = time.monotonic()
        self.display: Any = None

    def __call__(self, batch: Any) -> None:
        counts = batch.request_counts
        total = counts.total if counts else 0
        if self.display is None:
            if not total:  # still validating: the count is not known yet
                print(f"llmplug: {describe(batch)}", file=self.stream, flush=True)
                return
            self.display = progress_display(total, self.stream)
        self.display(llmplug.Progress(
            done=counts.completed + counts.failed, failed=counts.failed, total=total,
            elapsed=time.monotonic() - self.start,
        ))

    def close(self) -> None:
        if self.display is not None:
            self.display.close()


def batch_command(args: Any, stream: IO[str] | None = None) -> int:
    """Run ``llmplug batch <action>``; the exit status. Messages go to ``stream`` (stderr)."""
    stream = stream or sys.stderr
    options = {"transport": args.transport, **({"base_url": args.base_url} if args.base_url else {})}
    with llmplug.new(args.provider or "openai", **options) as client:
        if args.action == "submit":
            try:
                with open(args.input, encoding="utf-8") as lines:
                    job = client.submit_batch(lines, endpoint=args.endpoint)
            except OSError as exc:
                raise llmplug.ConfigurationError(f"cannot read the input file: {exc}") from None
            print(job.id)
            print(f"llmplug: submitted {len(job.custom_ids or ())} requests: {describe(job.batch)}", file=stream)
            return 0
        if args.action == "list":
            for batch in client.batches(limit=args.limit).body.data:
                print(describe(batch))
            return 0
        job = client.batch_job(args.id)
        if args.action == "cancel":
            print(describe(job.cancel()))
            return 0
        if args.action == "status":
            if args.wait:
                follow = _Follow(stream)
                try:
                    batch = job.wait(poll_interval=args.poll_interval, progress=follow)
                finally:
                    follow.close()
            else:
                batch = job.batch
            print(describe(batch))
            return 0 if batch.status != "failed" else 1
        return _results(job, args.output, stream)


def _results(job: Any, path: str, stream: IO[str]) -> int:
    """Write every result of ``job`` to ``path`` in input order; 1 if some failed."""
    written = failed = 0
    with open(path, "w", encoding="utf-8") as output:
        for custom_id, outcome in job.results():
            output.write(json.dumps(output_line(custom_id, outcome), default=str) + "\n")
            written += 1
            failed += isinstance(outcome, BaseException)
    print(f"llmplug: {written} results, {failed} failed; in {path}", file=stream)
    return 0 if not failed else 1
