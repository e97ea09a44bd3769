"""OpenAI's Batch API as a :class:`~llmplug.core.batch_jobs.BatchFormat`: the
``openai`` family's answer to ``llmplug_batch_format``.

Input: one JSONL file of ``{"custom_id", "method": "POST", "url", "body"}``
lines, uploaded with ``purpose="batch"``; one model, at most 50,000 lines and
200 MB (checked line by line before anything is sent). Results: the lines of the
output file (``{"custom_id", "response": {"status_code", "request_id",
"body"}, "error"}``) and of the error file (requests that failed, expired or
were cancelled).
"""

from __future__ import annotations

from typing import Any

from llmplug.plugin import (
    URLS_BY_OPERATION, BatchEntry, BatchFormat, BatchPlan, ConfigurationError, encode_json, one_model,
)

__all__ = ["MAX_BYTES", "MAX_LINES", "OpenAIBatchFormat"]

#: OpenAI's limits on one batch's input file.
MAX_LINES = 50_000
MAX_BYTES = 200 * 1024 * 1024


class OpenAIBatchFormat(BatchFormat):
    def plan(self, provider: Any, operation: str, requests: list[tuple[str, dict[str, Any]]]) -> BatchPlan:
        url = URLS_BY_OPERATION[operation]
        if len(requests) > MAX_LINES:
            raise ConfigurationError(
                f"line {MAX_LINES + 1}: an OpenAI batch takes at most {MAX_LINES:,} requests; "
                f"this one has {len(requests):,}: split it into several jobs"
            )
        one_model(requests, "an OpenAI batch")
        lines = []
        size = 0
        for number, (custom_id, params) in enumerate(requests, 1):
            line = encode_json({"custom_id": custom_id, "method": "POST", "url": url, "body": params}) + b"\n"
            size += len(line)
            if size > MAX_BYTES:
                raise ConfigurationError(
                    f"line {number} ({custom_id!r}) takes the input file past OpenAI's limit of {MAX_BYTES:,} bytes "
                    "(200 MB): split the job"
                )
            lines.append(line)
        return BatchPlan(create={"endpoint": url}, upload=("llmplug-batch-input.jsonl", b"".join(lines)))

    def entry(self, item: dict[str, Any]) -> BatchEntry:
        custom_id = item.get("custom_id") or ""
        response = item.get("response")
        if isinstance(response, dict) and isinstance(response.get("status_code"), int):
            return BatchEntry(custom_id, response["status_code"], response.get("body"), response.get("request_id"))
        error = item.get("error")
        return BatchEntry(custom_id, 0, error if isinstance(error, dict) else {"message": str(error)})
