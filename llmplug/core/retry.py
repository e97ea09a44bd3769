"""When to retry a failed attempt, and how long to wait first."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Awaitable, Mapping
from typing import Callable

import attrs

from .errors import APIConnectionError, APIError, APIStatusError, StreamError

__all__ = ["delay_seconds", "parse_retry_after", "RETRY_STATUSES", "RetryPolicy", "server_delay"]

RETRY_STATUSES = frozenset({408, 409, 429})


@attrs.frozen
class RetryPolicy:
    """Exponential backoff with jitter; server hints (``retry-after-ms``,
    ``Retry-After``, a provider's ``APIStatusError.retry_after``) win up to
    ``max_wait``: a longer hint is not slept, the error is raised with the delay in it."""

    max_retries: int = 2
    initial: float = 0.5
    cap: float = 8.0
    max_wait: float = 60.0
    jitter: float = 0.25
    sleep: Callable[[float], None] = time.sleep
    #: The async client's sleep; ``None``: ``asyncio.sleep``.
    asleep: Callable[[float], Awaitable[None]] | None = None
    random: Callable[[], float] = random.random

    def should_retry(self, error: APIError) -> bool:
        """Whether ``error`` is worth another attempt (ignoring the attempt count)."""
        if isinstance(error, APIStatusError):
            hint = _header(error.headers, "x-should-retry")
            if hint is not None and hint.strip().lower() in ("true", "false"):
                return hint.strip().lower() == "true"
            return error.status_code in RETRY_STATUSES or error.status_code >= 500
        if isinstance(error, StreamError):  # only a connection lost before the first event
            return error.retryable
        return isinstance(error, APIConnectionError) and not _certificate_rejected(error)

    def wait(self, attempt: int, error: APIError) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        hint = server_delay(error)
        if hint is not None:
            return hint
        base = min(self.initial * 2 ** (attempt - 1), self.cap)
        return base * (1 - self.jitter * self.random())


def _certificate_rejected(error: BaseException) -> bool:
    """Whether ``error`` comes from a TLS certificate that failed verification
    (asking again gets the same certificate: not worth a retry)."""
    import ssl  # only here: importing llmplug stays cheap

    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        exc = stack.pop()
        if exc is None or id(exc) in seen:
            continue
        if isinstance(exc, ssl.SSLCertVerificationError):
            return True
        seen.add(id(exc))
        stack += [exc.__cause__, exc.__context__]
    return False


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    if name in headers:
        return headers[name]
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name)


def delay_seconds(value: float) -> float | None:
    """A usable delay: ``None`` for NaN or infinity (the hint is ignored), never negative."""
    return max(value, 0.0) if math.isfinite(value) else None


def parse_retry_after(headers: Mapping[str, str] | None, now: Callable[[], float] = time.time) -> float | None:
    """The delay asked for by ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    value = _header(headers, "retry-after-ms")
    if value is not None:
        try:
            return delay_seconds(float(value) / 1000.0)
        except ValueError:
            pass
    value = _header(headers, "retry-after")
    if value is None:
        return None
    try:
        return delay_seconds(float(value))
    except ValueError:
        pass
    import email.utils  # only for the rare HTTP-date form: its import costs more than the rest of llmplug's

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - now(), 0.0)


def server_delay(error: APIError) -> float | None:
    """The server's requested delay for ``error``, if it gave one."""
    if not isinstance(error, APIStatusError):
        return None
    if error.retry_after is not None:
        return error.retry_after
    return parse_retry_after(error.headers)

