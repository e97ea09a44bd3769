"""The typed hook facade: one method per hook, with keyword arguments and the
built-in fallback, so no other code calls ``pm.hook.*`` with loose arguments."""

from __future__ import annotations

from typing import Any, Callable

from .defaults import status_error
from .errors import PluginError, UnsupportedOperationError
from .http import AsyncTransport, Request, Response, Transport
from .plugin_registry import PluginRegistry
from .specs import ProviderSpec
from .sse import SSEEvent

__all__ = ["TypedHooks"]


class TypedHooks(PluginRegistry):
    """Calls each llmplug hook of the loaded plugins.

    A hook about one provider's call (build_request, authenticate,
    parse_response, stream_parser, next_page, parse_error, structured_output,
    function_tool, batch_format) reaches only the
    plugins that registered a provider of that provider's family, and the
    plugins that registered no provider at all (wrappers, gateways): a family's
    plugin needs no ``if provider.family != ...`` guard.
    """

    def _clear_tables(self) -> None:
        super()._clear_tables()
        #: (hook name, family) -> the hook caller without the other families' plugins.
        self._family_callers: dict[tuple[str, str], Any] = {}

    def _for_family(self, hook_name: str, provider: ProviderSpec) -> Any:
        key = (hook_name, provider.family)
        caller = self._family_callers.get(key)
        if caller is None:
            providers = self.providers()
            families: dict[str, set[str]] = {}
            for name, plugin in self._owners["provider"].items():
                families.setdefault(plugin, set()).add(providers[name].family)
            others = [self.pm.get_plugin(plugin) for plugin, kinds in families.items() if provider.family not in kinds]
            others = [plugin for plugin in others if plugin is not None]
            if others:
                caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
            else:
                caller = getattr(self.pm.hook, hook_name)
            caller = self._family_callers[key] = _direct(caller, self.pm) or caller
        return caller

    def create_transport(self, transport: Any, options: dict[str, Any], asynchronous: bool = False) -> Any:
        """A transport instance (an :class:`AsyncTransport` for an async client)
        from a name, an instance, ``None`` (the default), or an object whose
        ``transport_for(asynchronous, make)`` builds one (``make(name)``: the
        transport of that name, for one it wraps)."""
        kind = AsyncTransport if asynchronous else Transport
        if isinstance(transport, kind):
            return transport
        if hasattr(transport, "transport_for") and not isinstance(transport, (str, Transport, AsyncTransport)):
            # a transport maker (llmplug.testing.Cassette): it builds one of the kind asked for
            made = transport.transport_for(asynchronous, lambda name: self.create_transport(name, options, asynchronous))
            if not isinstance(made, kind):
                raise PluginError(f"{transport!r}.transport_for() made a {type(made).__name__}, not a {kind.__name__}")
            return made
        if transport is not None and not isinstance(transport, str):
            raise TypeError(
                f"transport must be a name or a llmplug {kind.__name__} instance, not {type(transport).__name__}"
            )
        spec = self.transport_spec(transport, asynchronous)
        built = self.pm.hook.llmplug_create_transport(spec=spec, options=options, asynchronous=asynchronous)
        if built is None:
            return spec.factory_for(asynchronous)(**options)  # type: ignore[misc]  # transport_spec checked it
        if not isinstance(built, kind):
            raise PluginError(
                f"llmplug_create_transport built a {type(built).__name__} for transport {spec.name!r}, "
                f"not the {kind.__name__} asked for (asynchronous={asynchronous})"
            )
        return built

    def build_request(self, provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request:
        request = self._for_family("llmplug_build_request", provider)(provider=provider, operation=operation, params=params)
        if request is None:
            raise PluginError(f"no plugin maps operation {operation!r} for provider family {provider.family!r}")
        return request

    def authenticate(self, provider: ProviderSpec, request: Request, api_key: str | None) -> Request:
        """The authenticated request; with a key, some plugin must take it (no
        request leaves without the credentials the user gave)."""
        result = self._for_family("llmplug_authenticate", provider)(provider=provider, request=request, api_key=api_key)
        if result is None and api_key:
            raise PluginError(
                f"no plugin authenticates requests for provider family {provider.family!r}: its plugin needs an "
                "llmplug_authenticate hook (the request was not sent without the key)"
            )
        return request if result is None else result

    def parse_response(
        self, provider: ProviderSpec, operation: str, data: Any, response: Response, params: dict[str, Any]
    ) -> Any:
        result = self._for_family("llmplug_parse_response", provider)(
            provider=provider, operation=operation, data=data, response=response, params=params
        )
        return data if result is None else result

    def stream_parser(self, provider: ProviderSpec, operation: str) -> Callable[[SSEEvent], Any]:
        parser = self._for_family("llmplug_stream_parser", provider)(provider=provider, operation=operation)
        if parser is None:
            raise PluginError(f"no plugin parses {operation!r} streams for provider family {provider.family!r}")
        return parser

    def next_page(self, provider: ProviderSpec, operation: str, params: dict[str, Any], result: Any) -> dict[str, Any] | None:
        return self._for_family("llmplug_next_page", provider)(provider=provider, operation=operation, params=params, result=result)

    def structured_output(self, provider: ProviderSpec, operation: str, output: Any) -> dict[str, Any]:
        """The params asking for ``output`` (an OutputFormat); its defaults when no plugin answers."""
        params = self._for_family("llmplug_structured_output", provider)(provider=provider, operation=operation, output=output)
        return output.default_params(operation) if params is None else params

    def function_tool(self, provider: ProviderSpec, operation: str, tool: Any) -> dict[str, Any]:
        """The ``tools`` entry declaring ``tool`` (a FunctionTool); its default when no plugin answers."""
        entry = self._for_family("llmplug_function_tool", provider)(provider=provider, operation=operation, tool=tool)
        return tool.default_declaration() if entry is None else entry

    def batch_format(self, provider: ProviderSpec) -> Any:
        """The provider's :class:`~llmplug.core.batch_jobs.BatchFormat`; UnsupportedOperationError without one."""
        form = self._for_family("llmplug_batch_format", provider)(provider=provider)
        if form is None:
            raise UnsupportedOperationError(
                f"provider {provider.name!r} has no batch engine (no plugin answers llmplug_batch_format): "
                "run the calls with client.map() or `llmplug bulk` instead"
            )
        return form

    def parse_error(self, provider: ProviderSpec, operation: str, response: Response, body: Any) -> Any:
        error = self._for_family("llmplug_parse_error", provider)(provider=provider, operation=operation, response=response, body=body)
        return error if error is not None else status_error(provider, response, body)


def _direct(caller: Any, pm: Any) -> Callable[..., Any] | None:
    """A "pick one" hook called the way pluggy calls it (each implementation
    with the arguments it names, most recent and ``tryfirst`` first, until one
    answers), minus pluggy's per-call bookkeeping; pluggy's own call when a
    wrapper, a hook-call monitor or another kind of hook is involved. The
    cache of these is cleared whenever a plugin is registered or removed."""
    try:
        from pluggy._callers import _multicall  # pluggy's own caller: no monitor replaced it
    except ImportError:  # another pluggy layout: keep to its public path
        return None
    impls = caller.get_hookimpls()
    spec = caller.spec
    if (
        spec is None
        or not spec.opts.get("firstresult")
        or getattr(pm, "_inner_hookexec", None) is not _multicall
        or any(impl.hookwrapper or impl.wrapper for impl in impls)
    ):
        return None
    order = [(impl.function, impl.argnames) for impl in reversed(impls)]

    def call(**kwargs: Any) -> Any:
        if pm._inner_hookexec is not _multicall:  # a monitor came since: it must see the call
            return caller(**kwargs)
        for function, names in order:
            result = function(*[kwargs[name] for name in names])
            if result is not None:
                return result
        return None

    return call
