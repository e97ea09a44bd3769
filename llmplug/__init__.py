"""llmplug: a plugin-based client for LLM HTTP APIs.

    import llmplug
    client = llmplug.new("openai")
    status, body, headers = client.create_chat_completion([{"role": "user", "content": "Hi"}])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The plugin subpackages (docstrings only; nothing in them is imported here)
# come first, so the functions below own the names ``llmplug.providers`` and
# ``llmplug.transports``: a plugin module imported later sets an attribute on
# its own package, never on this one.
from . import providers as _provider_plugins, transports as _transport_plugins  # noqa: F401
from .core.errors import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    ContentFilterFinishReasonError,
    InternalServerError,
    InvalidJSONError,
    LengthFinishReasonError,
    LLMPlugError,
    MissingAPIKeyError,
    NotFoundError,
    PermissionDeniedError,
    PluginError,
    RateLimitError,
    RefusalError,
    StreamError,
    StreamTimeoutError,
    StructuredOutputError,
    StructuredValidationError,
    TransportNotInstalledError,
    UnknownProviderError,
    UnknownTransportError,
    UnprocessableEntityError,
    UnsupportedOperationError,
)
from .core.hookspecs import hookimpl

if TYPE_CHECKING:
    from .core.async_client import AsyncClient
    from .core.bulk import Call, Progress, call
    from .core.client import Client
    from .core.streaming import AsyncStream
    from .core.dispatch import ApiResult
    from .core.http import Timeout, Transport
    from .core.plugins import PluginInfo, PluginManager, default_plugin_manager
    from .core.retry import RetryPolicy
    from .core.specs import ProviderSpec, TransportSpec
    from .core.streaming import Stream
    from .core.schema import json_schema
    from .core.structured import FunctionTool, function_tool
    from .core.batch_jobs import BatchJob, BatchRequestError
    from .sessions import ChatSession, ResponsesChatSession
    from .sessions.asynchronous import AsyncChatSession, AsyncResponsesChatSession

__version__ = "0.1.0"

#: Public names imported on first use (``import llmplug`` loads only the errors
#: and the hook marker): name -> the module that defines it.
_LAZY = {
    "Client": "llmplug.core.client",
    "AsyncClient": "llmplug.core.async_client",
    "AsyncStream": "llmplug.core.streaming",
    "Call": "llmplug.core.bulk",
    "Progress": "llmplug.core.bulk",
    "call": "llmplug.core.bulk",
    "ApiResult": "llmplug.core.dispatch",
    "Timeout": "llmplug.core.http",
    "Transport": "llmplug.core.http",
    "PluginInfo": "llmplug.core.plugins",
    "PluginManager": "llmplug.core.plugins",
    "default_plugin_manager": "llmplug.core.plugins",
    "RetryPolicy": "llmplug.core.retry",
    "ProviderSpec": "llmplug.core.specs",
    "TransportSpec": "llmplug.core.specs",
    "Stream": "llmplug.core.streaming",
    "json_schema": "llmplug.core.schema",
    "FunctionTool": "llmplug.core.structured",
    "function_tool": "llmplug.core.structured",
    "BatchJob": "llmplug.core.batch_jobs",
    "BatchRequestError": "llmplug.core.batch_jobs",
    "ChatSession": "llmplug.sessions",
    "AsyncChatSession": "llmplug.sessions.asynchronous",
    "AsyncResponsesChatSession": "llmplug.sessions.asynchronous",
    "ResponsesChatSession": "llmplug.sessions",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmplug' has no attribute {name!r}")
    import importlib

    if name == "Client":
        value: Any = _client_class()
    elif name == "AsyncClient":
        value = _async_client_class()
    else:
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def _client_class() -> type[Client]:
    """The client, with the session classes registered (the core imports no session)."""
    from . import sessions  # noqa: F401
    from .core.client import Client

    return Client


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def new(provider: str = "openai", **options: Any) -> Client:
    """A client for ``provider`` (see :func:`providers`); options as :class:`Client`."""
    return _client_class()(provider, **options)


def _async_client_class() -> type[AsyncClient]:
    """The async client, with the async session classes registered."""
    from .sessions import asynchronous  # noqa: F401
    from .core.async_client import AsyncClient

    return AsyncClient


def new_async(provider: str = "openai", **options: Any) -> AsyncClient:
    """An :class:`AsyncClient` for ``provider``: the options of :func:`new`, every
    method a coroutine function (``await client.chat(...)``)."""
    return _async_client_class()(provider, **options)


def providers() -> list[str]:
    """Names of every provider available, built-in and installed."""
    from .core.plugins import default_plugin_manager

    return sorted(default_plugin_manager().providers())


def transports() -> list[str]:
    """Names of every transport registered (whether or not its library is installed;
    ``llmplug transports`` on the command line marks the ones that are not)."""
    from .core.plugins import default_plugin_manager

    return sorted(default_plugin_manager().transports())


def plugins() -> list[PluginInfo]:
    """Every loaded plugin: its name, distribution (``None`` for built-ins), hooks,
    and the providers and transports it registers. See ``docs/plugins.md``."""
    from .core.plugins import default_plugin_manager

    return default_plugin_manager().plugins()


__all__ = [
    "APIConnectionError", "APIError", "APIResponseValidationError", "APIStatusError", "APITimeoutError",
    "ApiResult", "AsyncChatSession", "AsyncClient", "AsyncResponsesChatSession", "AsyncStream", "Call", "AuthenticationError", "BadRequestError", "ChatSession", "Client", "ConfigurationError", "ConflictError",
    "InternalServerError", "LLMPlugError", "MissingAPIKeyError", "NotFoundError", "PermissionDeniedError",
    "PluginError", "PluginInfo", "PluginManager", "ProviderSpec", "RateLimitError", "ResponsesChatSession", "RetryPolicy",
    "Stream", "StreamError", "StreamTimeoutError", "Timeout", "Transport", "TransportNotInstalledError", "TransportSpec", "UnknownProviderError",
    "UnknownTransportError", "UnprocessableEntityError", "UnsupportedOperationError", "default_plugin_manager",
    "Progress", "call", "hookimpl", "new", "new_async", "plugins", "providers", "transports",
    "ContentFilterFinishReasonError", "InvalidJSONError", "LengthFinishReasonError", "RefusalError",
    "StructuredOutputError", "StructuredValidationError", "FunctionTool", "function_tool", "json_schema",
    "BatchJob", "BatchRequestError",
]
