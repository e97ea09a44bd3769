"""Registries: the providers and transports that plugins register, collected
once per manager from the registration hooks and cached until a plugin comes
or goes. A name registered twice fails loudly with both plugins named; a name
nobody registered raises :class:`UnknownProviderError` /
:class:`UnknownTransportError` listing those that exist.
"""

from __future__ import annotations

from typing import Any

import attrs

from .errors import ConfigurationError, PluginError, TransportNotInstalledError, UnknownProviderError, UnknownTransportError
from .plugin_loader import DISABLE_ENV, HOOK_NAMES, PluginLoader
from .specs import ProviderSpec, TransportSpec

__all__ = ["PluginInfo", "PluginRegistry", "TransportStatus"]


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
class TransportStatus:
    """Whether a registered transport can be used here, and if not, how to make it so."""

    name: str
    #: The modules it needs that cannot be imported; empty when it is installed.
    missing: tuple[str, ...]
    #: What to do to install it (``pip install "llmplug[requests]"``); empty when it is installed.
    install: str
    #: Which clients it serves: ``"sync"``, ``"async"`` or ``"sync and async"``.
    serves: str = "sync and async"

    @property
    def installed(self) -> bool:
        return not self.missing

    def __str__(self) -> str:
        """``httpx``, ``aiohttp  (async only)`` or ``requests  (sync only; not installed: pip install ...)``."""
        notes = [] if self.serves == "sync and async" else [f"{self.serves} only"]
        if not self.installed:
            notes.append(f"not installed: {self.install}")
        return f"{self.name}  ({'; '.join(notes)})" if notes else self.name


#: kind -> (the hook that registers it, the spec type it registers).
_KINDS: dict[str, tuple[str, type]] = {
    "provider": ("llmplug_register_providers", ProviderSpec),
    "transport": ("llmplug_register_transports", TransportSpec),
}


class PluginRegistry(PluginLoader):
    """The provider and transport tables of the loaded plugins, and lookups in them."""

    def _clear_tables(self) -> None:
        #: kind ("provider" / "transport") -> registered name -> spec, filled on first use.
        self._tables: dict[str, dict[str, Any]] = {}
        #: "sync" / "async": the default transport of that kind, once picked.
        self._default_transport: dict[str, TransportSpec] = {}
        #: kind ("provider" / "transport") -> registered name -> plugin name.
        self._owners: dict[str, dict[str, str]] = {"provider": {}, "transport": {}}

    def _table(self, kind: str) -> dict[str, Any]:
        """The registered specs of ``kind``, collected once (under the lock)."""
        table = self._tables.get(kind)
        if table is None:
            with self._lock:
                table = self._tables.get(kind)
                if table is None:
                    table = self._tables[kind] = self._collect(kind, *_KINDS[kind])
        return table

    def _collect(self, kind: str, hook_name: str, spec_type: type) -> dict[str, Any]:
        self.load()
        found: dict[str, Any] = {}
        owners: dict[str, str] = {}

        def add(spec: Any, _plugin: str) -> None:
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

        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():  # registration order
            def register(*specs: Any, _plugin: str = impl.plugin_name) -> None:  # one or more specs
                for spec in specs:
                    add(spec, _plugin)

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
        return self._table("provider")

    def transports(self) -> dict[str, TransportSpec]:
        """Every registered transport by name (cached), whether or not its library is installed."""
        return self._table("transport")

    def transport_status(self) -> list[TransportStatus]:
        """Every registered transport, sorted by name: installed or not, and what to install."""
        statuses = []
        for name, spec in sorted(self.transports().items()):
            missing = spec.missing()
            serves = " and ".join(kind for kind, factory in (("sync", spec.factory), ("async", spec.async_factory)) if factory)
            statuses.append(TransportStatus(name, missing, spec.how_to_install() if missing else "", serves))
        return statuses

    def provider(self, name: str) -> ProviderSpec:
        providers = self.providers()
        try:
            return providers[name]
        except KeyError:
            raise UnknownProviderError(name, providers) from None

    def transport_spec(self, name: str | None, asynchronous: bool = False) -> TransportSpec:
        """The named transport, or the default: the importable one with the highest
        priority (among those with an async twin, for an async client).

        A registered transport whose library is missing raises
        :class:`TransportNotInstalledError`; one with no twin of the kind asked
        for, a :class:`ConfigurationError` naming those that have one.
        """
        transports = self.transports()
        kind = "async" if asynchronous else "sync"
        if name is None:
            default = self._default_transport.get(kind)
            if default is None:
                usable = [spec for spec in transports.values() if spec.factory_for(asynchronous) and spec.available()]
                if not usable:
                    raise UnknownTransportError("(default)", transports, hint=f"; no {kind} one can be imported")
                default = self._default_transport[kind] = max(usable, key=lambda spec: spec.priority)
            return default
        try:
            spec = transports[name]
        except KeyError:
            raise UnknownTransportError(name, transports) from None
        if spec.factory_for(asynchronous) is None:
            others = sorted(other for other, candidate in transports.items() if candidate.factory_for(asynchronous))
            client = "llmplug.new_async" if asynchronous else "llmplug.new"
            raise ConfigurationError(
                f"transport {name!r} has no {kind} twin, so {client}() cannot use it; "
                f"{kind} transports: {', '.join(others) or '(none)'}"
            )
        missing = spec.missing()
        if missing:
            installed = [other for other, candidate in transports.items() if candidate.available()]
            raise TransportNotInstalledError(name, installed, missing, spec.how_to_install())
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
