"""The plugin API: the one module a provider or transport plugin imports.

Everything a plugin needs is here, and only here is it promised to stay:
``llmplug.core.*`` is the implementation and may change between releases.
docs/plugins.md documents every name, and the built-in providers and
transports are written against this module like any third-party plugin::

    from llmplug.plugin import ProviderSpec, Request, hookimpl, encode_json

    @hookimpl
    def llmplug_register_providers(register):
        register(ProviderSpec(name="mine", family="mine", base_url="https://api.example/v1"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .core import models
from .core.convert import structure
from .core.defaults import error_message, status_error
from .core.encoding import (
    encode_json, encode_multipart, generic_request, key_header, path_segment, query_string,
)
from .core.errors import (
    REQUEST_ID_HEADERS,
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    PluginError,
    StreamError,
    UnsupportedOperationError,
    make_status_error,
    request_id_of,
)
from .core.exchange import FollowUp
from .core.hookspecs import hookimpl
from .core.http import (
    AsyncByteStream, AsyncTransport, ByteStream, BytesStream, Headers, Request, Response, Timeout, Transport, redact_url,
)
from .core.models import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatMessage,
    Completion,
    Embedding,
    EmbeddingList,
    Model,
    ModelInfo,
    ModelList,
    Usage,
)
from .core.operations import OPERATIONS, Operation, get_operation, merge_params, require_model, with_defaults
from .core.retry import delay_seconds, parse_retry_after
from .core.specs import ProviderSpec, TransportSpec
from .core.sse import SSEEvent
from .core.threaded import ThreadedAsyncTransport, threaded
from .core.stream_state import DONE, SKIP, StreamParser, Terminated, parse_json_event
from .core.transport_support import (
    CHUNK_SIZE,
    STDLIB_ERRORS,
    WAITING,
    AsyncBackendStream,
    BackendStream,
    async_backend_response,
    backend_response,
    EnvironmentProxies,
    ErrorTable,
    RejectCookies,
    join_headers,
    map_exceptions,
    outgoing_headers,
)

if TYPE_CHECKING:
    from .core.batch_input import OPERATIONS_BY_URL, URLS_BY_OPERATION, one_model
    from .core.batch_jobs import BatchEntry, BatchFormat, BatchPlan, BatchRequestError

__all__ = [
    # hooks and what plugins register
    "hookimpl", "ProviderSpec", "TransportSpec",
    # HTTP types
    "Request", "Response", "Headers", "Timeout", "Transport", "ByteStream", "BytesStream", "redact_url",
    "AsyncTransport", "AsyncByteStream", "ThreadedAsyncTransport", "threaded",
    # operations and models; a call's next request
    "FollowUp",
    "OPERATIONS", "Operation", "get_operation", "require_model", "with_defaults", "models", "structure", "Model", "ChatCompletion",
    "ChatCompletionChunk", "ChatMessage", "Completion", "Embedding", "EmbeddingList", "ModelInfo", "ModelList", "Usage",
    # building requests
    "encode_json", "encode_multipart", "generic_request", "key_header", "merge_params", "path_segment", "query_string",
    # streams
    "SSEEvent", "DONE", "SKIP", "StreamParser", "Terminated", "parse_json_event",
    # errors
    "APIError", "APIResponseValidationError", "APIConnectionError", "APITimeoutError", "APIStatusError", "StreamError", "ConfigurationError",
    "UnsupportedOperationError", "PluginError", "make_status_error", "status_error", "error_message",
    "REQUEST_ID_HEADERS", "request_id_of", "parse_retry_after", "delay_seconds",
    # writing a transport
    "BackendStream", "AsyncBackendStream", "backend_response", "async_backend_response", "EnvironmentProxies", "ErrorTable", "STDLIB_ERRORS", "CHUNK_SIZE", "WAITING", "map_exceptions",
    "outgoing_headers", "join_headers", "RejectCookies",
    # batch engines (loaded on first use)
    "BatchFormat", "BatchPlan", "BatchEntry", "BatchRequestError", "OPERATIONS_BY_URL", "URLS_BY_OPERATION", "one_model",
]

#: Names loaded on first use, so a plugin that imports this module pays for
#: them only when it uses them: name -> the module that defines it.
_LAZY = {
    "BatchFormat": "llmplug.core.batch_jobs", "BatchPlan": "llmplug.core.batch_jobs",
    "BatchEntry": "llmplug.core.batch_jobs", "BatchRequestError": "llmplug.core.batch_jobs",
    "OPERATIONS_BY_URL": "llmplug.core.batch_input", "URLS_BY_OPERATION": "llmplug.core.batch_input",
    "one_model": "llmplug.core.batch_input",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmplug.plugin' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
