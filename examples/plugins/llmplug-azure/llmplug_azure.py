"""Azure OpenAI for llmplug: the provider ``azure-openai``.

The provider is in llmplug's ``openai`` family, so the built-in OpenAI plugin
encodes its requests and normalises its answers, streams and errors. Two
hooks make it Azure:

- a wrapper around ``llmplug_build_request`` moves the URL the OpenAI plugin
  built to ``{base_url}/openai/deployments/{deployment}/...?api-version=...``;
- a ``tryfirst`` ``llmplug_authenticate`` sends the key as ``api-key``
  instead of ``Authorization: Bearer``.

Both act only for ``azure-openai``; every other provider passes through.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import llmplug
from llmplug.plugin import ConfigurationError, ProviderSpec, UnsupportedOperationError

if TYPE_CHECKING:
    from llmplug.plugin import Request

PROVIDER = "azure-openai"
DEFAULT_API_VERSION = "2024-10-21"
#: Operations Azure serves under ``/openai/deployments/{deployment}``; the rest
#: live under ``/openai``.
DEPLOYMENT_OPERATIONS = frozenset({"chat.create", "completions.create", "embeddings.create", "images.generate"})
#: Operations Azure OpenAI has no endpoint for.
UNSUPPORTED = frozenset({"moderations.create"})


@llmplug.hookimpl
def llmplug_register_providers(register: Callable[[ProviderSpec], None]) -> None:
    register(
        ProviderSpec(
            name=PROVIDER,
            family="openai",
            base_url=None,  # https://{resource}.openai.azure.com: base_url=... or AZURE_OPENAI_ENDPOINT
            api_key_env=("AZURE_OPENAI_API_KEY",),
            base_url_env=("AZURE_OPENAI_ENDPOINT",),
            options={"api_version": DEFAULT_API_VERSION},
            description="Azure OpenAI: api-key header, deployment URLs (plugin llmplug-azure)",
        )
    )


@llmplug.hookimpl(wrapper=True)
def llmplug_build_request(
    provider: ProviderSpec, operation: str, params: dict[str, Any]
) -> Generator[None, Request | None, Request | None]:
    if provider.name != PROVIDER:
        return (yield)
    if operation in UNSUPPORTED:
        raise UnsupportedOperationError(f"provider {PROVIDER!r} has no operation {operation!r}: Azure OpenAI has no such endpoint")
    deployment = None
    if operation in DEPLOYMENT_OPERATIONS:
        deployment = provider.options.get("deployment") or params.get("model") or provider.default_model
        if not deployment:
            raise ConfigurationError(
                f"provider {PROVIDER!r} needs a deployment: pass deployment=... to llmplug.new, or model=... to the call"
            )
        if params.get("model") is None and provider.default_model is None:
            # The OpenAI encoder that runs after this wrapper (and sees the same
            # params) wants a model in the body; Azure routes by the URL.
            params["model"] = deployment
    request = yield
    if request is not None:
        request.url = azure_url(provider, request.url, deployment)
    return request


def azure_url(provider: ProviderSpec, url: str, deployment: str | None) -> str:
    """``url`` (``base_url`` + OpenAI path) in Azure's shape, with ``api-version``."""
    base = provider.base_url or ""
    if not url.startswith(base):
        return url
    rest = url[len(base):]
    root = base if base.endswith("/openai") else base + "/openai"
    if deployment:
        root += "/deployments/" + quote(deployment, safe="")
    if "api-version=" not in rest:
        version = provider.options.get("api_version") or DEFAULT_API_VERSION
        rest += ("&" if "?" in rest else "?") + "api-version=" + quote(str(version), safe="")
    return root + rest


@llmplug.hookimpl(tryfirst=True)
def llmplug_authenticate(provider: ProviderSpec, request: Request, api_key: str | None) -> Request | None:
    if provider.name != PROVIDER:
        return None
    if api_key:
        request.headers["api-key"] = api_key
    return request
