"""The plugin manager: built-in plugins, entry points (group ``llmplug``), and
one typed method per hook so no other code calls ``pm.hook.*`` with loose
arguments.

Built-ins are registered exactly like third-party plugins. Loading is lazy
(nothing is imported until a provider or transport is first needed) and
happens once per manager; the provider and transport tables are cached.

Environment (read when a manager loads; names are entry-point names or
distribution names, comma-separated):
    ``LLMPLUG_DISABLE_PLUGINS``  external plugins not to load.
    ``LLMPLUG_LOAD_PLUGINS``     if set, only these external plugins load ("" = none).

Built-in plugins always load; a plugin manager of its own
(``PluginManager(entry_points=False)``) isolates a client from installed ones.
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import threading
import warnings
from collections.abc import Collection, Iterable
from importlib import metadata
from typing import Any, Callable

import attrs
import pluggy

from . import hookspecs
from .defaults import status_error
from .errors import PluginError, UnknownProviderError, UnknownTransportError
from .hookspecs import PROJECT
from .http import Request, Response, Transport
from .specs import ProviderSpec, TransportSpec
from .sse import SSEEvent

#: Modules registered as plugins in every manager, in this order.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "llmplug.providers.openai",
    "llmplug.providers.gemini",
    "llmplug.transports.httpx",
    "llmplug.transports.requests",
    "llmplug.transports.urllib",
)
ENTRY_POINT_GROUP = PROJECT
DISABLE_ENV = "LLMPLUG_DISABLE_PLUGINS"
ONLY_ENV = "LLMPLUG_LOAD_PLUGINS"

#: Hooks that the manager calls itself, one implementation at a time, to know who registered what.
REGISTRATION_HOOKS = frozenset({"llmplug_register_providers", "llmplug_register_transports"})
#: Every hook name the specs define, in definition order.
HOOK_NAMES: tuple[str, ...] = tuple(name for name, obj in vars(hookspecs).items() if hasattr(obj, PROJECT + "_spec"))


@attrs.frozen
class PluginInfo:
    """One loaded plugin, as :func:`llmplug.plugins` lists it."""

    #: The entry-point name (what the environment variables take) or module name of a built-in.
    name: str
    #: The distribution an entry-point plugin came from; ``None`` for built-ins
    #: and for plugins registered in code.
    distribution: str | None
    version: str | None
    builtin: bool
    #: The hooks it implements, in spec order.
    hooks: tuple[str, ...]
    providers: tuple[str, ...]
    transports: tuple[str, ...]


@attrs.frozen
class _Source:
    distribution: str
    version: str | None

    def __str__(self) -> str:
        return f"{self.distribution} {self.version}" if self.version else self.distribution


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names_from_env(var: str) -> set[str] | None:
    value = os.environ.get(var)
    if value is None:
        return None
    return {name.strip() for name in value.split(",") if name.strip()}


def _name_set(names: Iterable[str] | None) -> set[str] | None:
    return None if names is None else {_normalise(name) for name in names}


class PluginManager:
    """A pluggy manager for llmplug's hooks. Give a client its own to isolate plugins.

    ``entry_points=False`` loads only the built-ins. ``disable`` and ``only``
    (entry-point or distribution names) replace ``LLMPLUG_DISABLE_PLUGINS`` and
    ``LLMPLUG_LOAD_PLUGINS`` for this manager; left ``None`` they are read from
    the environment when the manager loads.
    """

    def __init__(
        self,
        *,
        builtins: tuple[str, ...] = BUILTIN_PLUGINS,
        entry_points: bool = True,
        disable: Collection[str] | None = None,
        only: Collection[str] | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._builtins = builtins
        self._entry_points = entry_points
        self._disable = disable
        self._only = only
        self._loaded = False
        self._lock = threading.RLock()
        self._providers: dict[str, ProviderSpec] | None = None
        self._transports: dict[str, TransportSpec] | None = None
        self._default_transport: TransportSpec | None = None
        #: kind ("provider" / "transport") -> registered name -> plugin name.
        self._owners: dict[str, dict[str, str]] = {"provider": {}, "transport": {}}
        #: plugin name -> where an entry-point plugin came from.
        self._sources: dict[str, _Source] = {}

    @property
    def distributions(self) -> dict[str, str]:
        """Plugin name -> distribution name, for plugins loaded from entry points."""
        return {name: source.distribution for name, source in self._sources.items()}

    # ------------------------------------------------------------ loading

    def load(self) -> PluginManager:
        """Register the built-ins and entry-point plugins (once).

        On a failure nothing stays registered, so a later call starts afresh.
        """
        if self._loaded:
            return self
        with self._lock:
            if self._loaded:
                return self
            try:
                for module_name in self._builtins:
                    self._add(importlib.import_module(module_name), module_name)
                if self._entry_points:
                    self._load_entry_points()
            except BaseException:
                for name, plugin in list(self.pm.list_name_plugin()):
                    self.pm.unregister(plugin, name=name)
                self._sources.clear()
                raise
            self._loaded = True
        return self

    def _selection(self) -> tuple[set[str], set[str] | None]:
        disable = _name_set(self._disable if self._disable is not None else _names_from_env(DISABLE_ENV)) or set()
        only = _name_set(self._only if self._only is not None else _names_from_env(ONLY_ENV))
        return disable, only

    def _load_entry_points(self) -> None:
        disable, only = self._selection()
        seen: set[str] = set()
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = ep.dist
            source = _Source(dist.name if dist is not None else "(unknown)", dist.version if dist is not None else None)
            names = {_normalise(ep.name), _normalise(source.distribution)}
            seen |= names
            if names & disable or (only is not None and not names & only):
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                raise PluginError(
                    f"plugin {ep.name!r} (distribution {str(source)!r}) failed to import: "
                    f"{type(exc).__name__}: {exc}; to skip it, set {DISABLE_ENV}={ep.name}"
                ) from exc
            if self.pm.is_registered(plugin):
                continue
            if self.pm.has_plugin(ep.name):
                other = self._sources.get(ep.name)
                raise PluginError(
                    f"two plugins are named {ep.name!r}: from distribution {str(other or '(built-in)')!r} "
                    f"and from distribution {str(source)!r}; to skip the second, set {DISABLE_ENV}={source.distribution}"
                )
            self._add(plugin, ep.name, source)
        if only:
            missing = sorted(only - seen)
            if missing:
                origin = "PluginManager(only=...)" if self._only is not None else ONLY_ENV
                warnings.warn(
                    f"{origin} names {', '.join(missing)}, but no installed llmplug plugin has that name",
                    stacklevel=3,
                )

    def _describe(self, name: str) -> str:
        source = self._sources.get(name)
        return f"plugin {name!r}" if source is None else f"plugin {name!r} (distribution {str(source)!r})"

    def _add(self, plugin: Any, name: str, source: _Source | None = None) -> str:
        """Register and validate one plugin; on any failure it is not left registered."""
        if self.pm.has_plugin(name):
            raise PluginError(f"a plugin named {name!r} is already registered")
        if self.pm.is_registered(plugin):
            raise PluginError(f"{plugin!r} is already registered as {self.pm.get_name(plugin)!r}")
        if source is not None:
            self._sources[name] = source
        skip = f"; to skip it, set {DISABLE_ENV}={name}" if source is not None else ""
        try:
            try:
                registered = self.pm.register(plugin, name=name)
            except pluggy.PluginValidationError as exc:  # a hook argument the spec does not have
                raise PluginError(f"{self._describe(name)}: {self._argument_problem(plugin) or exc}") from exc
            if registered is None:
                raise PluginError(f"plugin {name!r} is blocked")
            try:
                self._validate(plugin, name)
            except PluginError:
                self.pm.unregister(plugin, name=name)
                raise
        except PluginError as exc:
            self._sources.pop(name, None)
            raise PluginError(f"{exc}{skip}") from exc.__cause__
        return registered

    def _argument_problem(self, plugin: Any) -> str | None:
        """What is wrong with a hook function's arguments, in a user's words."""
        for hook_name in HOOK_NAMES:
            if self.pm.parse_hookimpl_opts(plugin, hook_name) is None:
                continue
            spec = getattr(self.pm.hook, hook_name).spec
            params = inspect.signature(getattr(plugin, hook_name)).parameters.values()
            wanted = [p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            extra = [arg for arg in wanted if arg not in spec.argnames]
            if extra:
                return (
                    f"{hook_name}() takes {', '.join(map(repr, extra))}, which the hook does not pass "
                    f"(it passes {', '.join(spec.argnames)})"
                )
        return None

    def _validate(self, plugin: Any, name: str) -> None:
        """Misspelt hooks and hook functions without ``@llmplug.hookimpl`` fail here."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            unknown = [
                hook.name
                for hook in self.pm.get_hookcallers(plugin) or ()
                if not hook.has_spec()
            ]
            if not unknown:
                raise PluginError(str(exc)) from exc
            import difflib  # only on this error path

            hint = difflib.get_close_matches(unknown[0], HOOK_NAMES, n=1)
            raise PluginError(
                f"{self._describe(name)} implements {unknown[0]!r}, which is not an llmplug hook"
                + (f" (did you mean {hint[0]!r}?)" if hint else f" (the hooks are: {', '.join(HOOK_NAMES)})")
            ) from exc
        for hook_name in HOOK_NAMES:
            found = inspect.getattr_static(plugin, hook_name, None)
            if found is None:
                continue
            opts = self.pm.parse_hookimpl_opts(plugin, hook_name)
            if opts is None:
                raise PluginError(
                    f"{self._describe(name)} defines {hook_name!r} without @llmplug.hookimpl, so it would never be called"
                )
            if hook_name in REGISTRATION_HOOKS and (opts.get("wrapper") or opts.get("hookwrapper")):
                raise PluginError(
                    f"{self._describe(name)} wraps {hook_name!r}; a registration hook cannot be wrapped: "
                    f"call register() from a plain @llmplug.hookimpl"
                )

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object or module; returns its name. Clears the cached tables.

        A hook name that matches no spec, or a hook argument that is not in the
        spec, raises :class:`PluginError` and leaves the plugin unregistered.
        """
        self.load()
        with self._lock:
            registered = self._add(plugin, name if name is not None else self.pm.get_canonical_name(plugin))
            self._clear_tables()
        return registered

    def unregister(self, plugin: Any = None, name: str | None = None) -> None:
        """Remove a plugin (by object or name). Clears the cached tables."""
        with self._lock:
            if name is None and plugin is not None:
                name = self.pm.get_name(plugin)
            self.pm.unregister(plugin, name=name)
            if name is not None:
                self._sources.pop(name, None)
            self._clear_tables()

    def _clear_tables(self) -> None:
        self._providers = self._transports = None
        self._default_transport = None

    # ------------------------------------------------------------ registries

    def _collect(self, hook_name: str, kind: str, spec_type: type) -> dict[str, Any]:
        self.load()
        found: dict[str, Any] = {}
        owners: dict[str, str] = {}
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():  # registration order
            def register(spec: Any, _plugin: str = impl.plugin_name) -> None:
                if not isinstance(spec, spec_type):
                    raise PluginError(
                        f"{self._describe(_plugin)} registered {spec!r} in {hook_name}; "
                        f"expected a llmplug.{spec_type.__name__}"
                    )
                name = spec.name
                if name in found:
                    message = (
                        f"{kind} name {name!r} is registered twice: "
                        f"by {self._describe(owners[name])} and by {self._describe(_plugin)}"
                    )
                    external = [p for p in (owners[name], _plugin) if p in self._sources]
                    if external:
                        message += f"; to skip one, set {DISABLE_ENV}={external[-1]}"
                    raise PluginError(message)
                found[name] = spec
                owners[name] = _plugin

            try:
                impl.function(register=register)
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"{self._describe(impl.plugin_name)} failed in {hook_name}: {type(exc).__name__}: {exc}"
                ) from exc
        self._owners[kind] = owners
        return found

    def providers(self) -> dict[str, ProviderSpec]:
        """Every registered provider by name (cached)."""
        providers = self._providers
        if providers is None:
            with self._lock:
                providers = self._providers = self._collect("llmplug_register_providers", "provider", ProviderSpec)
        return providers

    def transports(self) -> dict[str, TransportSpec]:
        """Every registered transport by name (cached)."""
        transports = self._transports
        if transports is None:
            with self._lock:
                transports = self._transports = self._collect("llmplug_register_transports", "transport", TransportSpec)
        return transports

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
            if self._default_transport is None:
                usable = [spec for spec in transports.values() if spec.available()]
                if not usable:
                    raise UnknownTransportError("(default)", transports, hint="; none of them can be imported")
                self._default_transport = max(usable, key=lambda spec: spec.priority)
            return self._default_transport
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

    def plugins(self) -> list[PluginInfo]:
        """Every loaded plugin in registration order: where it came from and what it adds."""
        self.providers()
        self.transports()
        builtins = set(self._builtins)
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:  # blocked
                continue
            implemented = {hook.name for hook in self.pm.get_hookcallers(plugin) or ()}
            source = self._sources.get(name)
            infos.append(
                PluginInfo(
                    name=name,
                    distribution=source.distribution if source else None,
                    version=source.version if source else None,
                    builtin=name in builtins,
                    hooks=tuple(hook for hook in HOOK_NAMES if hook in implemented),
                    providers=tuple(n for n, owner in self._owners["provider"].items() if owner == name),
                    transports=tuple(n for n, owner in self._owners["transport"].items() if owner == name),
                )
            )
        return infos

    # ------------------------------------------------------------ typed hook calls

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

    def next_page(self, provider: ProviderSpec, operation: str, params: dict[str, Any], result: Any) -> dict[str, Any] | None:
        return self.pm.hook.llmplug_next_page(provider=provider, operation=operation, params=params, result=result)

    def parse_error(self, provider: ProviderSpec, operation: str, response: Response, body: Any) -> Any:
        error = self.pm.hook.llmplug_parse_error(provider=provider, operation=operation, response=response, body=body)
        return error if error is not None else status_error(provider, response, body)

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


def plugins() -> list[PluginInfo]:
    """Every plugin the default manager loaded: name, distribution, hooks, providers, transports."""
    return default_plugin_manager().plugins()
