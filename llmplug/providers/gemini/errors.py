"""Errors for ``gemini``: Google's error shape (``{"error": {code, message, status,
details}}``, or a list of such bodies as the OpenAI-compatible endpoint sends)
becomes the typed :class:`APIStatusError`, and a ``google.rpc.RetryInfo`` detail's
``retryDelay`` becomes its ``retry_after`` (ahead of ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmplug.core.defaults import error_message
from llmplug.core.errors import APIStatusError, make_status_error
from llmplug.core.http import Response
from llmplug.core.retry import parse_retry_after, retry_info_delay
from llmplug.core.specs import ProviderSpec


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

