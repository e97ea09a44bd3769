"""The ``gemini`` plugin's hooks: it registers the native provider and answers each
hook for the ``gemini`` family by calling the room that does the job (request
mapping, authentication with ``x-goog-api-key``, response mapping, stream parsing,
paging through ``nextPageToken``, errors, typed outputs as ``responseJsonSchema``).
Typed tools need no hook of its own: their default declaration's ``parameters``
become ``parametersJsonSchema``. One wrapper reaches past the family:
``llmplug_parse_error`` gives ``retry_after`` from Google's ``RetryInfo`` to the
errors of any provider whose spec sets the option ``retry_info`` (``gemini-openai``,
registered by the OpenAI plugin), whoever built the error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from llmplug.plugin import (
    APIStatusError,
    hookimpl,
    key_header,
    ProviderSpec,
    Request,
    Response,
    SSEEvent,
)


FAMILY = "gemini"
GEMINI_ENV = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

PROVIDERS = (
    ProviderSpec(
        name="gemini",
        family=FAMILY,
        base_url="https://generativelanguage.googleapis.com/v1beta",
        api_key_env=GEMINI_ENV,
        base_url_env=("GEMINI_BASE_URL",),
        default_model="gemini-2.5-flash",
        defaults={"embeddings.create": {"model": "gemini-embedding-001"}},
        user_options=(),
        description="Google Gemini's native API (v1beta), normalised to the OpenAI-shaped core models",
    ),
)


@hookimpl
def llmplug_register_providers(register: Any) -> None:
    register(*PROVIDERS)


@hookimpl(trylast=True)
def llmplug_build_request(provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request | None:
    # each room loads on its first call
    if operation.startswith("files."):
        from .files import files_request

        return files_request(provider, operation, dict(params))
    if operation.startswith("batches."):
        from .batches import batches_request

        return batches_request(provider, operation, dict(params))
    from .request import build_gemini_request

    return build_gemini_request(provider, operation, params)


llmplug_authenticate = key_header("x-goog-api-key")


@hookimpl(trylast=True)
def llmplug_parse_response(provider: ProviderSpec, operation: str, data: Any, response: Response, params: dict[str, Any]) -> Any:
    if operation.startswith("files."):
        from .files import parse_files_response

        return parse_files_response(operation, data, response, params)
    if operation.startswith("batches."):
        from .batches import parse_batches_response

        return parse_batches_response(operation, data, response.request.url)
    from .response import parse_gemini_response

    return parse_gemini_response(operation, data, response)


@hookimpl(trylast=True)
def llmplug_stream_parser(provider: ProviderSpec, operation: str) -> Callable[[SSEEvent], Any] | None:
    from .stream import stream_parser

    return stream_parser(operation)


@hookimpl(trylast=True)
def llmplug_structured_output(provider: ProviderSpec, operation: str, output: Any) -> dict[str, Any] | None:
    """JSON Schema as ``responseJsonSchema`` (it takes ``$defs``, ``anyOf`` and
    ``additionalProperties``, which ``responseSchema`` refuses); a bare Enum of
    strings as ``text/x.enum``, whose reply is the value itself."""
    values = output.enum_values
    if values is not None and all(isinstance(value, str) for value in values):
        config = {"responseMimeType": "text/x.enum", "responseSchema": {"type": "STRING", "enum": values}}
    else:
        config = {"responseMimeType": "application/json", "responseJsonSchema": output.schema}
    return {"generationConfig": config}


@hookimpl(trylast=True)
def llmplug_batch_format(provider: ProviderSpec) -> Any:
    """Gemini's batch mode (see :mod:`.batches`)."""
    from .batches import batch_format

    return batch_format()


@hookimpl(trylast=True)
def llmplug_next_page(provider: ProviderSpec, operation: str, params: dict[str, Any], result: Any) -> dict[str, Any] | None:
    if operation != "models.list":
        return None
    token = result.raw.get("nextPageToken") if isinstance(getattr(result, "raw", None), Mapping) else None
    return {**params, "pageToken": token} if token else None


@hookimpl(trylast=True)
def llmplug_parse_error(provider: ProviderSpec, operation: str, response: Response, body: Any) -> APIStatusError | None:
    from .errors import parse_gemini_error

    return parse_gemini_error(provider, response, body)
