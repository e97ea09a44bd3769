"""Errors for ``gemini``: Google's error shape (``{"error": {code, message, status,
details}}``, or a list of such bodies as the OpenAI-compatible endpoint sends)
becomes the typed :class:`APIStatusError`, and a ``google.rpc.RetryInfo`` detail's
``retryDelay`` becomes its ``retry_after`` (ahead of ``Retry-After``). The native
provider builds its errors here; :func:`add_retry_info` serves the plugin's
``llmplug_parse_error`` wrapper, which gives ``retry_after`` to the errors of
providers whose spec sets the option ``retry_info`` (``gemini-openai``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmplug.plugin import (
    APIStatusError,
    delay_seconds,
    error_message,
    make_status_error,
    parse_retry_after,
    ProviderSpec,
    Response,
    status_error,
)


def retry_info_delay(body: Any) -> float | None:
    """Seconds from a ``google.rpc.RetryInfo`` detail of a Google error body
    (``{"error": {"details": [{"@type": ".../google.rpc.RetryInfo", "retryDelay": "53s"}]}}``,
    or a list of such bodies), if it has one."""
    holder = body[0] if isinstance(body, list) and body else body
    error = holder.get("error") if isinstance(holder, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, Mapping) or not str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            continue
        delay = detail.get("retryDelay")
        if isinstance(delay, Mapping):  # the proto's own JSON shape, seen from some proxies
            try:
                return delay_seconds(float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9)
            except (TypeError, ValueError):
                return None
        if isinstance(delay, str) and delay.endswith("s"):
            try:
                return delay_seconds(float(delay[:-1]))
            except ValueError:
                return None
    return None


def parse_gemini_error(provider: ProviderSpec, response: Response, body: Any) -> APIStatusError:
    """A Google error body (``{"error": {code, message, status, details}}``, or a
    list of them as the OpenAI-compatible endpoint sends) as the typed error;
    ``RetryInfo.retryDelay`` becomes ``retry_after``."""
    holder = body[0] if isinstance(body, list) and body and isinstance(body[0], Mapping) else body
    error = holder.get("error") if isinstance(holder, Mapping) else None
    delay = retry_info_delay(body)
    if delay is None:
        delay = parse_retry_after(response.headers)
    message = error_message(holder, f"HTTP {response.status_code}")
    if isinstance(error, Mapping) and isinstance(error.get("message"), str) and error["message"]:
        status = error.get("status")
        message = f"{error['message']} ({status})" if status else error["message"]
    return make_status_error(
        message,
        status_code=response.status_code,
        body=body,
        headers=response.headers,
        provider=provider.name,
        request=response.request,
        retry_after=delay,
    )


def add_retry_info(provider: ProviderSpec, response: Response, body: Any, error: APIStatusError | None) -> APIStatusError:
    """``error`` (or, when no plugin built one, the default error) with ``retry_after``
    from the body's ``RetryInfo``, if it has one."""
    if error is None:
        error = status_error(provider, response, body)
    delay = retry_info_delay(body)
    if delay is not None:
        error.retry_after = delay
    return error
