"""The plugin manager: built-in plugins, entry points (group ``llmplug``), and
one typed method per hook so no other code calls ``pm.hook.*`` with loose
arguments.

Built-ins are registered exactly like third-party plugins. Loading is lazy
(nothing is imported until a provider or transport is first needed) and
happens once per manager; the provider and transport tables are cached.

Environment:
    ``LLMPLUG_DISABLE_PLUGINS``  comma-separated entry-point names not to load.
    ``LLMPLUG_LOAD_PLUGINS``     if set, only these entry-point names load ("" = none).
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import types
from importlib import metadata
from typing import Any, Callable

import pluggy

from . import hookspecs
from .errors import PluginError, UnknownProviderError, UnknownTransportError
from .hookspecs import PROJECT
from .http import Request, Response, Transport
from .specs import ProviderSpec, TransportSpec
from .sse import SSEEvent

#: Modules registered as plugins in every manager, in this order.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "llmplug.core.defaults",
    "llmplug.providers.openai",
    "llmplug.transports.httpx",
    "llmplug.transports.requests",
    "llmplug.transports.urllib",
)
ENTRY_POINT_GROUP = PROJECT


def _names_from_env(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


class PluginManager:
    """A pluggy manager for llmplug's hooks. Give a client its own to isolate plugins."""

    def __init__(self, *, builtins: tuple[str, ...] = BUILTIN_PLUGINS, entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._builtins = builtins
        self._entry_points = entry_points
        self._loaded = False
        self._lock = threading.RLock()
        self._providers: dict[str, ProviderSpec] | None = None
        self._transports: dict[str, TransportSpec] | None = None
        #: plugin name -> distribution name, for plugins from entry points.
        self.distributions: dict[str, str] = {}

    # ------------------------------------------------------------ loading

    def load(self) -> PluginManager:
        """Register the built-ins and entry-point plugins (once)."""
        if self._loaded:
            return self
        with self._lock:
            if self._loaded:
                return self
            for module_name in self._builtins:
                self.pm.register(importlib.import_module(module_name), name=module_name)
            if self._entry_points:
                self._load_entry_points()
            self.pm.check_pending()
            self._loaded = True
        return self

    def _load_entry_points(self) -> None:
        blocked = _names_from_env("LLMPLUG_DISABLE_PLUGINS") or set()
        only = _names_from_env("LLMPLUG_LOAD_PLUGINS")
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in blocked or (only is not None and ep.name not in only):
                continue
            dist = ep.dist.name if ep.dist is not None else "?"
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {ep.name!r} from distribution {dist!r} failed to import: {exc!r}; "
                    f"set LLMPLUG_DISABLE_PLUGINS={ep.name} to skip it"
                ) from exc
            if self.pm.is_registered(plugin):
                continue
            self.pm.register(plugin, name=ep.name)
            self.distributions[ep.name] = dist

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object or module; returns its name. Clears the cached tables."""
        self.load()
        registered = self.pm.register(plugin, name=name)
        if registered is None:
            raise PluginError(f"plugin {name or plugin!r} is already registered or blocked")
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(plugin)
            raise PluginError(str(exc)) from exc
        self._providers = self._transports = None
        return registered

    def unregister(self, plugin: Any = None, name: str | None = None) -> None:
        self.pm.unregister(plugin, name=name)
        self._providers = self._transports = None

    # ------------------------------------------------------------ registries

    def _collect(self, hook_name: str, key: str) -> dict[str, Any]:
        self.load()
        found: dict[str, Any] = {}
        owners: dict[str, str] = {}
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():  # registration order
            def register(spec: Any, _plugin: str = impl.plugin_name) -> None:
                name = getattr(spec, key)
                if name in found:
                    raise PluginError(
                        f"{hook_name.rsplit('_', 1)[-1][:-1]} name {name!r} is registered twice: "
                        f"by plugin {owners[name]!r} and by plugin {_plugin!r}"
                    )
                found[name] = spec
                owners[name] = _plugin

            impl.function(register=register)
        return found

    def providers(self) -> dict[str, ProviderSpec]:
        """Every registered provider by name (cached)."""
        if self._providers is None:
            self._providers = self._collect("llmplug_register_providers", "name")
        return self._providers

    def transports(self) -> dict[str, TransportSpec]:
        """Every registered transport by name (cached)."""
        if self._transports is None:
            self._transports = self._collect("llmplug_register_transports", "name")
        return self._transports

    def provider(self, name: str) -> ProviderSpec:
        providers = self.providers()
        try:
            return providers[name]
        except KeyError:
            raise UnknownProviderError(name, providers) from None

    def transport_spec(self, name: str | None) -> TransportSpec:
        """The named transport, or the default: the importable one with the highest priority."""
        transports = self.transports()
        if name is None:
            usable = [spec for spec in transports.values() if spec.available()]
            if not usable:
                raise UnknownTransportError("(default)", transports, hint="; none of them can be imported")
            return max(usable, key=lambda spec: spec.priority)
        try:
            spec = transports[name]
        except KeyError:
            raise UnknownTransportError(name, transports) from None
        if not spec.available():
            missing = ", ".join(spec.requires)
            raise UnknownTransportError(
                name, transports, hint=f"; {name!r} needs {missing}: pip install 'llmplug[{name}]'"
            )
        return spec

    # ------------------------------------------------------------ typed hook calls

    def create_transport(self, transport: str | Transport | None, options: dict[str, Any]) -> Transport:
        """A transport instance from a name, an instance, or ``None`` (the default)."""
        if isinstance(transport, Transport):
            return transport
        if transport is not None and not isinstance(transport, str):
            raise TypeError(f"transport must be a name or a llmplug Transport instance, not {type(transport).__name__}")
        spec = self.transport_spec(transport)
        return self.pm.hook.llmplug_create_transport(spec=spec, options=options)

    def build_request(self, provider: ProviderSpec, operation: str, params: dict[str, Any]) -> Request:
        request = self.pm.hook.llmplug_build_request(provider=provider, operation=operation, params=params)
        if request is None:
            raise PluginError(f"no plugin maps operation {operation!r} for provider family {provider.family!r}")
        return request

    def authenticate(self, provider: ProviderSpec, request: Request, api_key: str | None) -> Request:
        result = self.pm.hook.llmplug_authenticate(provider=provider, request=request, api_key=api_key)
        return request if result is None else result

    def parse_response(self, provider: ProviderSpec, operation: str, data: Any, response: Response) -> Any:
        result = self.pm.hook.llmplug_parse_response(provider=provider, operation=operation, data=data, response=response)
        return data if result is None else result

    def stream_parser(self, provider: ProviderSpec, operation: str) -> Callable[[SSEEvent], Any]:
        parser = self.pm.hook.llmplug_stream_parser(provider=provider, operation=operation)
        if parser is None:
            raise PluginError(f"no plugin parses {operation!r} streams for provider family {provider.family!r}")
        return parser

    def parse_error(self, provider: ProviderSpec, operation: str, response: Response, body: Any) -> Any:
        return self.pm.hook.llmplug_parse_error(provider=provider, operation=operation, response=response, body=body)

    def __repr__(self) -> str:
        names = [name for name, _ in self.pm.list_name_plugin()]
        return f"<llmplug.PluginManager plugins={names}>"


_default: PluginManager | None = None
_default_lock = threading.Lock()


def default_plugin_manager() -> PluginManager:
    """The process-wide manager used when a client is given none (loaded lazily)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = PluginManager()
    return _default.load()


class _ListingModule(types.ModuleType):
    """A package that, called, lists the names registered of its kind."""

    def __call__(self) -> list[str]:
        manager = default_plugin_manager()
        kind = self.__dict__["_llmplug_kind"]
        return sorted(manager.providers() if kind == "providers" else manager.transports())


def make_listing_package(module_name: str, kind: str) -> None:
    """Make the package ``module_name`` callable, so ``llmplug.providers()`` keeps
    working after ``llmplug.providers`` the subpackage has been imported."""
    module = sys.modules[module_name]
    module.__class__ = _ListingModule
    module.__dict__["_llmplug_kind"] = kind
