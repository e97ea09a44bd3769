"""The plugin manager: built-in plugins, entry points (group ``llmplug``), and
one typed method per hook so no other code calls ``pm.hook.*`` with loose
arguments.

Built-ins are registered exactly like third-party plugins. Loading is lazy
(nothing is imported until a provider or transport is first needed) and
happens once per manager; the provider and transport tables are cached.
Built-in plugins always load; a plugin manager of its own
(``PluginManager(entry_points=False)``) isolates a client from installed ones.

The manager is built from three rooms, each a layer on the one before:
:mod:`.plugin_loader` (which plugins load, and the checks that make a broken
one fail loudly; ``LLMPLUG_DISABLE_PLUGINS`` / ``LLMPLUG_LOAD_PLUGINS``),
:mod:`.plugin_registry` (the provider and transport tables and lookups) and
:mod:`.plugin_hooks` (one typed method per hook).
"""

from __future__ import annotations

import threading

from .plugin_hooks import TypedHooks
from .plugin_loader import (
    BUILTIN_PACKAGES,
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    HOOK_NAMES,
    ONLY_ENV,
    REGISTRATION_HOOKS,
    builtin_plugins,
)
from .plugin_registry import PluginInfo, TransportStatus

#: What this module has always exported: the manager, its listing, and the loader's constants.
__all__ = [
    "BUILTIN_PACKAGES", "DISABLE_ENV", "ENTRY_POINT_GROUP", "HOOK_NAMES", "ONLY_ENV", "REGISTRATION_HOOKS", "builtin_plugins",
    "PluginInfo", "PluginManager", "TransportStatus", "default_plugin_manager", "plugins",
]


class PluginManager(TypedHooks):
    """A pluggy manager for llmplug's hooks. Give a client its own to isolate plugins.

    ``entry_points=False`` loads only the built-ins. ``disable`` and ``only``
    (entry-point or distribution names) replace ``LLMPLUG_DISABLE_PLUGINS`` and
    ``LLMPLUG_LOAD_PLUGINS`` for this manager; left ``None`` they are read from
    the environment when the manager loads.
    """

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
