"""Plugin loading: built-ins, entry points (group ``llmplug``), which of them
load, and the checks that make a broken plugin fail loudly when it registers.

Environment (read when a manager loads; names are entry-point names or
distribution names, comma-separated):
    ``LLMPLUG_DISABLE_PLUGINS``  external plugins not to load.
    ``LLMPLUG_LOAD_PLUGINS``     if set, only these external plugins load ("" = none).
"""

from __future__ import annotations

import importlib
import inspect
import os
import re
import sys
import threading
import warnings
from collections.abc import Collection, Iterable
from importlib.machinery import PathFinder
from typing import Any, TypeVar

import attrs
import pluggy

from . import hookspecs
from .errors import PluginError
from .hookspecs import PROJECT

__all__ = [
    "BUILTIN_PACKAGES",
    "builtin_plugins",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "HOOK_NAMES",
    "ONLY_ENV",
    "REGISTRATION_HOOKS",
    "PluginLoader",
]

#: The packages of the built-in plugins; each lists its plugin modules in ``PLUGINS``
#: (core names no provider and no transport itself).
BUILTIN_PACKAGES: tuple[str, ...] = ("llmplug.providers", "llmplug.transports")


def builtin_plugins() -> tuple[str, ...]:
    """The modules registered as plugins in every manager, in this order."""
    return tuple(name for package in BUILTIN_PACKAGES for name in importlib.import_module(package).PLUGINS)
ENTRY_POINT_GROUP = PROJECT
DISABLE_ENV = "LLMPLUG_DISABLE_PLUGINS"
ONLY_ENV = "LLMPLUG_LOAD_PLUGINS"

#: Hooks that the manager calls itself, one implementation at a time, to know who registered what.
REGISTRATION_HOOKS = frozenset({"llmplug_register_providers", "llmplug_register_transports"})
#: Every hook name the specs define, in definition order.
HOOK_NAMES: tuple[str, ...] = tuple(name for name, obj in vars(hookspecs).items() if hasattr(obj, PROJECT + "_spec"))


_Self = TypeVar("_Self", bound="PluginLoader")


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


class PluginLoader:
    """Registers the built-ins and the selected entry-point plugins in a pluggy
    manager (``self.pm``), once, and validates every plugin it registers.

    Subclasses derive tables from the registered plugins: they reset them in
    :meth:`_clear_tables`, which runs at creation and whenever a plugin comes or goes.
    """

    def __init__(
        self,
        *,
        builtins: tuple[str, ...] | None = None,
        entry_points: bool = True,
        disable: Collection[str] | None = None,
        only: Collection[str] | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._given_builtins = builtins
        self._entry_points = entry_points
        self._disable = disable
        self._only = only
        self._loaded = False
        self._lock = threading.RLock()
        #: plugin name -> where an entry-point plugin came from.
        self._sources: dict[str, _Source] = {}
        self._clear_tables()

    @property
    def _builtins(self) -> tuple[str, ...]:
        """The built-in plugin modules this manager registers (read when first needed)."""
        return self._given_builtins if self._given_builtins is not None else builtin_plugins()

    @property
    def distributions(self) -> dict[str, str]:
        """Plugin name -> distribution name, for plugins loaded from entry points."""
        return {name: source.distribution for name, source in self._sources.items()}

    def load(self: _Self) -> _Self:
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
        """Forget what was derived from the registered plugins (nothing, here)."""

    # ------------------------------------------------------------ which plugins

    def _selection(self) -> tuple[set[str], set[str] | None]:
        disable = _name_set(self._disable if self._disable is not None else _names_from_env(DISABLE_ENV)) or set()
        only = _name_set(self._only if self._only is not None else _names_from_env(ONLY_ENV))
        return disable, only

    def _load_entry_points(self) -> None:
        disable, only = self._selection()
        seen: set[str] = set()
        for ep in _entry_points(ENTRY_POINT_GROUP):
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

    # ------------------------------------------------------------ registering and checking one plugin

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


def _entry_points(group: str) -> list[Any]:
    """The installed entry points of ``group``. ``importlib.metadata`` (and its
    scan of every distribution) is used only when some distribution may declare
    the group: with no llmplug plugin installed, a new client pays neither."""
    if not _may_declare(group):
        return []
    from importlib import metadata

    return list(metadata.entry_points(group=group))


def _may_declare(group: str) -> bool:
    """Whether any distribution on ``sys.path`` may declare entry points of ``group``:
    a quick look for ``[group]`` in each ``entry_points.txt``; anything it cannot
    look into (a zip on the path, another distribution finder) counts as yes."""
    if any(hasattr(finder, "find_distributions") for finder in sys.meta_path if finder is not PathFinder):
        return True
    header = f"[{group}]"
    for entry in sys.path:
        folder = entry or "."
        try:
            names = os.listdir(folder)
        except NotADirectoryError:
            return True  # a zip archive: let importlib.metadata read it
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                try:
                    with open(os.path.join(folder, name, "entry_points.txt"), encoding="utf-8") as file:
                        if header in file.read():
                            return True
                except OSError:
                    continue
    return False
