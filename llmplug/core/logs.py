"""The ``llmplug`` logger and ``LLMPLUG_LOG=debug|info|warning|error``.

``info`` logs one line per HTTP response (method, URL, status); ``debug``
adds each request's headers, redirects, retries (reason and wait) and
give-ups. Headers are redacted and URLs go through
:func:`llmplug.core.http.redact_url` (secret query values and passwords
replaced): no API key is ever logged.
"""

from __future__ import annotations

import logging
import os
import warnings

__all__ = ["configure_from_env", "logger"]

logger = logging.getLogger("llmplug")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_from_env() -> None:
    """Send ``llmplug`` logs to stderr at the level ``LLMPLUG_LOG`` names (if set).

    An unknown level is reported with a warning and ignored: a typo in an
    environment variable must not break ``import llmplug``.
    """
    value = os.environ.get("LLMPLUG_LOG", "").strip().lower()
    if not value:
        return
    level = _LEVELS.get(value)
    if level is None:
        warnings.warn(f"LLMPLUG_LOG must be one of {', '.join(_LEVELS)}, not {value!r}; ignored", stacklevel=2)
        return
    if not any(getattr(h, "_llmplug", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s llmplug %(levelname)s %(message)s"))
        handler._llmplug = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)
