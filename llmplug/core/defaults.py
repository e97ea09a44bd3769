"""What the plugin manager falls back on when no plugin answers a hook."""

from __future__ import annotations

from typing import Any

from .errors import APIStatusError, make_status_error
from .http import Response
from .retry import parse_retry_after
from .specs import ProviderSpec

__all__ = ["error_message", "status_error"]

_TEXT_LIMIT = 500


def error_message(body: Any, reason: str = "") -> str:
    """The server's own words from an error body (JSON or text), or ``reason``."""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            message = err.get("message") or err.get("detail") or ""
            # A numeric code only repeats the HTTP status: prefer a name.
            code = next((c for c in (err.get("code"), err.get("status"), err.get("type")) if c and not isinstance(c, int)), None)
            if message:
                return f"{message} ({code})" if code and str(code) not in message else str(message)
        elif isinstance(err, str) and err:
            return err
        if isinstance(body.get("message"), str):
            return body["message"]
    if isinstance(body, list) and body:
        return error_message(body[0], reason)
    if isinstance(body, str) and body.strip():
        text = " ".join(body.split())
        return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "..."
    return reason or "request failed"


def status_error(provider: ProviderSpec, response: Response, body: Any) -> APIStatusError:
    """The typed error for a non-2xx ``response``, with the server's own message."""
    return make_status_error(
        error_message(body, f"HTTP {response.status_code}"),
        status_code=response.status_code,
        body=body,
        headers=response.headers,
        provider=provider.name,
        request=response.request,
        retry_after=parse_retry_after(response.headers),
    )

