"""The request lines of bulk runs and batch jobs, checked before anything is sent.

A line is OpenAI's Batch API format, ``{"custom_id", "method": "POST", "url":
"/v1/chat/completions", "body": {...}}`` (``method`` and ``url`` may be left
out when the operation is known), as a dict or its JSON text; or, in Python, a
``(custom_id, params)`` pair. :func:`request_line` reads one and names the
line in every error; :func:`collect_requests` reads them all for one batch
job (ids unique, every line of the job's operation, a model on each).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import ConfigurationError
from .operations import get_operation, with_defaults
from .specs import ProviderSpec

__all__ = ["OPERATIONS_BY_URL", "URLS_BY_OPERATION", "collect_requests", "one_model", "operation_named", "request_line"]

#: The Batch API's ``url`` of each operation llmplug runs in bulk and in batches.
OPERATIONS_BY_URL = {
    "/v1/chat/completions": "chat.create",
    "/v1/completions": "completions.create",
    "/v1/embeddings": "embeddings.create",
    "/v1/moderations": "moderations.create",
    "/v1/responses": "responses.create",
}
URLS_BY_OPERATION = {operation: url for url, operation in OPERATIONS_BY_URL.items()}


def operation_named(endpoint: str) -> str:
    """The operation of ``endpoint``: an operation name (``"chat.create"``) or a
    Batch API url (``"/v1/chat/completions"``)."""
    if endpoint in URLS_BY_OPERATION:
        return endpoint
    operation = OPERATIONS_BY_URL.get(endpoint)
    if operation is None:
        names = ", ".join([*URLS_BY_OPERATION, *OPERATIONS_BY_URL])
        raise ConfigurationError(f"endpoint {endpoint!r} runs no batch; use one of {names}")
    return operation


def request_line(value: Any, where: str, operation: str | None, *, mixed: bool = False) -> tuple[str, str, dict[str, Any]]:
    """``(custom_id, operation, params)`` of one line: a Batch API line (dict or
    JSON text) or a ``(custom_id, params)`` pair. ``operation`` is the one
    lines without a ``url`` run, and (unless ``mixed``: a bulk run's lines may
    each name their own) the one every line must run; ``where`` names the line
    in errors."""
    if isinstance(value, tuple):
        if len(value) != 2 or not isinstance(value[1], Mapping):
            raise ConfigurationError(f"{where} must be a (custom_id, params) pair, params a dict")
        custom_id, body = value
        url = None
    else:
        if isinstance(value, (str, bytes)):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise ConfigurationError(f"{where} is not JSON ({exc})") from None
        if not isinstance(value, Mapping):
            raise ConfigurationError(f"{where} must be a JSON object with custom_id and body, not {type(value).__name__}")
        custom_id = value.get("custom_id")
        if value.get("method", "POST") != "POST":
            raise ConfigurationError(f'{where}: "method" must be POST, not {value["method"]!r}')
        url = value.get("url")
        body = value.get("body")
        if not isinstance(body, Mapping):
            raise ConfigurationError(f'{where} needs "body": the request body, a JSON object')
    if not isinstance(custom_id, str) or not custom_id:
        raise ConfigurationError(f'{where} needs "custom_id": a non-empty string')
    line_operation = operation if url is None else OPERATIONS_BY_URL.get(url)
    if line_operation is None:
        raise ConfigurationError(f"{where}: url {url!r} is not one of {', '.join(OPERATIONS_BY_URL)}")
    if operation is not None and line_operation != operation and not mixed:
        raise ConfigurationError(
            f"{where}: url {url!r} is not this job's endpoint {URLS_BY_OPERATION[operation]!r}: one job runs one endpoint"
        )
    return custom_id, line_operation, dict(body)


def collect_requests(
    requests: Iterable[Any], operation: str, provider: ProviderSpec
) -> list[tuple[str, dict[str, Any]]]:
    """Every line of a batch job as ``(custom_id, params)``, the provider's
    defaults and default model applied; a :class:`ConfigurationError` naming the
    first line that breaks a rule (ids unique, the job's endpoint, a model)."""
    if isinstance(requests, (str, bytes, Mapping)):
        raise ConfigurationError("requests must be an iterable of lines or (custom_id, params) pairs, not one line")
    lines: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    needs_model = get_operation(operation).needs_model
    for number, value in enumerate(requests, 1):
        if isinstance(value, (str, bytes)) and not value.strip():
            continue
        where = f"line {number}"
        custom_id, _, params = request_line(value, where, operation)
        if custom_id in seen:
            raise ConfigurationError(f"{where}: custom_id {custom_id!r} was already used on line {seen[custom_id]}")
        seen[custom_id] = number
        params = with_defaults(provider, operation, params)
        if params.get("stream"):
            raise ConfigurationError(f"{where} ({custom_id!r}) asks for a stream: a batch request cannot stream")
        fmt = params.get("response_format")
        if fmt is not None and not isinstance(fmt, Mapping):
            raise ConfigurationError(
                f"{where} ({custom_id!r}): response_format is a type; a batch line is sent as JSON, so give the "
                "schema itself: {'type': 'json_schema', 'json_schema': {'name': ..., 'schema': llmplug.json_schema(T)}}"
            )
        if needs_model and not params.get("model"):
            raise ConfigurationError(f"{where} ({custom_id!r}) has no model and {provider.name!r} has no default: set one")
        lines.append((custom_id, params))
    if not lines:
        raise ConfigurationError("the batch has no requests")
    return lines


def one_model(requests: list[tuple[str, dict[str, Any]]], engine: str) -> Any:
    """The model every line of a job asks for, for an engine that runs one model
    per job (``engine`` names it in the error); a :class:`ConfigurationError`
    naming the first line that asks for another."""
    model = requests[0][1].get("model")
    for number, (custom_id, params) in enumerate(requests, 1):
        if params.get("model") != model:
            raise ConfigurationError(
                f"line {number} ({custom_id!r}) asks for another model than line 1's {model!r}: "
                f"{params.get('model')!r}; {engine} runs one model: submit one job per model"
            )
    return model
