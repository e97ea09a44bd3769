"""A built-in plugin of its own: Google's ``RetryInfo`` on any provider whose
spec sets the option ``retry_info`` (``gemini-openai``, whose errors the
OpenAI plugin builds). It registers no provider, so it is called for every
family, and wraps ``llmplug_parse_error``: the error the other plugins built
(or the default one) gets ``retry_after`` from the body's ``RetryInfo``.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from llmplug.plugin import APIStatusError, ProviderSpec, Response, hookimpl

from .errors import add_retry_info

__all__ = ["RETRY_INFO_OPTION", "llmplug_parse_error"]

#: The spec option that asks for ``RetryInfo`` on a provider's errors.
RETRY_INFO_OPTION = "retry_info"


@hookimpl(wrapper=True)
def llmplug_parse_error(
    provider: ProviderSpec, operation: str, response: Response, body: Any
) -> Generator[None, APIStatusError | None, APIStatusError | None]:
    """The error built inside, with ``retry_after`` from ``RetryInfo`` where the provider asks for it."""
    error = yield
    if not provider.options.get(RETRY_INFO_OPTION):
        return error
    return add_retry_info(provider, response, body, error)
