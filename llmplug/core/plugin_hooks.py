"""The typed hook facade: one method per hook, with keyword arguments and the
built-in fallback, so no other code calls ``pm.hook.*`` with loose arguments."""

from __future__ import annotations

from typing import Any, Callable

from .defaults import status_error
from .errors import PluginError
from .http import Request, Response, Transport
from .plugin_registry import PluginRegistry
from .specs import ProviderSpec
from .sse import SSEEvent

__all__ = ["TypedHooks"]


class TypedHooks(PluginRegistry):
    """Calls each llmplug hook of the loaded plugins."""

    def create_transport(self, transport: str | Transport | None, options: dict[str, Any]) -> Transport:
        """A transport instance from a name, an instance, or ``None`` (the default)."""
        if isinstance(transport, Transport):
            return transport
        if transport is not None and not isinstance(transport, str):
            raise TypeError(f"transport must be a name or a llmplug Transport instance, not {type(transport).__name__}")
        spec = self.transport_spec(transport)
        built = self.pm.hook.llmplug_create_transport(spec=spec, options=options)
        return built if built is not None else spec.factory(**options)

    def build_request(self, provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request:
        request = self.pm.hook.llmplug_build_request(provider=provider, operation=operation, params=params)
        if request is None:
            raise PluginError(f"no plugin maps operation {operation!r} for provider family {provider.family!r}")
        return request

    def authenticate(self, provider: ProviderSpec, request: Request, api_key: str | None) -> Request:
        """The authenticated request; with a key, some plugin must take it (no
        request leaves without the credentials the user gave)."""
        result = self.pm.hook.llmplug_authenticate(provider=provider, request=request, api_key=api_key)
        if result is None and api_key:
            raise PluginError(
                f"no plugin authenticates requests for provider family {provider.family!r}: its plugin needs an "
                "llmplug_authenticate hook (the request was not sent without the key)"
            )
        return request if result is None else result

    def parse_response(
        self, provider: ProviderSpec, operation: str, data: Any, response: Response, params: dict[str, Any]
    ) -> Any:
        result = self.pm.hook.llmplug_parse_response(
            provider=provider, operation=operation, data=data, response=response, params=params
        )
        return data if result is None else result

    def stream_parser(self, provider: ProviderSpec, operation: str) -> Callable[[SSEEvent], Any]:
        parser = self.pm.hook.llmplug_stream_parser(provider=provider, operation=operation)
        if parser is None:
            raise PluginError(f"no plugin parses {operation!r} streams for provider family {provider.family!r}")
        return parser

    def next_page(self, provider: ProviderSpec, operation: str, params: dict[str, Any], result: Any) -> dict[str, Any] | None:
        return self.pm.hook.llmplug_next_page(provider=provider, operation=operation, params=params, result=result)

    def parse_error(self, provider: ProviderSpec, operation: str, response: Response, body: Any) -> Any:
        error = self.pm.hook.llmplug_parse_error(provider=provider, operation=operation, response=response, body=body)
        return error if error is not None else status_error(provider, response, body)
