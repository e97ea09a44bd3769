"""What plugins register: provider and transport descriptions."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any, Callable

import attrs

from .http import AsyncTransport, Transport

__all__ = ["ProviderSpec", "TransportSpec"]


@attrs.frozen(kw_only=True)
class ProviderSpec:
    """A named provider: where it lives, how it is keyed, which dialect it speaks.

    ``family`` selects the plugins that map requests and normalise responses
    (``"openai"``, or a plugin's own): several names can share one family and
    differ only in URL, key and defaults. A client holds a copy with
    ``base_url`` resolved; the API key is never stored here.
    """

    name: str
    family: str
    base_url: str | None = None
    api_key_env: tuple[str, ...] = ()
    base_url_env: tuple[str, ...] = ()
    requires_key: bool = True
    default_model: str | None = None
    #: Default params per operation, e.g. ``{"embeddings.create": {"model": "..."}}``.
    defaults: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    #: Extra settings for the family's plugins (``new(..., **options)`` adds to them).
    options: Mapping[str, Any] = attrs.field(factory=dict)
    #: The extra option names ``llmplug.new()`` accepts for this provider; any
    #: other is refused as a likely typo. ``None`` accepts anything.
    user_options: tuple[str, ...] | None = None
    #: Options read from the environment when a client is created, if the caller
    #: gave none: ``{"organization": ("OPENAI_ORG_ID",)}`` (the first variable set wins).
    options_env: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    #: Headers sent with every request of this provider.
    headers: Mapping[str, str] = attrs.field(factory=dict)
    description: str = ""

    def defaults_for(self, operation: str) -> Mapping[str, Any]:
        """The default params of ``operation`` for this provider."""
        return self.defaults.get(operation, {})


@attrs.frozen
class TransportSpec:
    """A named transport. ``factory(verify=True)`` builds the sync one and
    ``async_factory(verify=True)`` its async twin (either may be ``None``: a
    transport may be sync or async only); ``requires`` lists the modules it
    needs, so the default pick can skip what is not installed, and
    ``install_hint`` says how to get them (e.g. ``pip install "llmplug[httpx]"``)."""

    name: str
    factory: Callable[..., Transport] | None
    requires: tuple[str, ...] = ()
    priority: int = 0
    description: str = ""
    install_hint: str = ""
    async_factory: Callable[..., AsyncTransport] | None = None

    def factory_for(self, asynchronous: bool) -> Callable[..., Any] | None:
        """``async_factory`` or ``factory``."""
        return self.async_factory if asynchronous else self.factory

    def missing(self) -> tuple[str, ...]:
        """The modules in ``requires`` that cannot be imported (nothing is imported)."""
        return tuple(mod for mod in self.requires if not _importable(mod))

    def available(self) -> bool:
        """Whether every module in ``requires`` can be imported (nothing is imported)."""
        return not self.missing()

    def how_to_install(self) -> str:
        """What to do so that this transport can be used: ``install_hint``, or the missing modules."""
        if self.install_hint:
            return self.install_hint
        return f"it needs {', '.join(self.missing() or self.requires)}, which cannot be imported"


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package of a dotted name is missing
        return False
