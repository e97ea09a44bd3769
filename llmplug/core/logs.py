"""The ``llmplug`` logger and ``LLMPLUG_LOG=debug|info|warning``.

Log lines carry redacted headers only: no API key is ever logged.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("llmplug")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_from_env() -> None:
    """Send ``llmplug`` logs to stderr at the level ``LLMPLUG_LOG`` names (if set)."""
    value = os.environ.get("LLMPLUG_LOG", "").strip().lower()
    if not value:
        return
    level = _LEVELS.get(value)
    if level is None:
        raise ValueError(f"LLMPLUG_LOG must be one of {', '.join(_LEVELS)}, not {value!r}")
    if not any(getattr(h, "_llmplug", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s llmplug %(levelname)s %(message)s"))
        handler._llmplug = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(level)
