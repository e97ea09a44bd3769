"""Transports whose library is not installed: listed with what to install, refused by name with the same advice."""

from __future__ import annotations

import sys

import pytest

import llmplug
from llmplug.core.errors import TransportNotInstalledError
from llmplug.core.plugins import PluginManager, TransportStatus
from llmplug.core.specs import TransportSpec
from llmplug.transports.urllib import UrllibTransport

NO_SUCH_MODULE = "llmplug_test_no_such_module"


class FastPlugin:
    """A third-party transport whose backend is not installed."""

    @llmplug.hookimpl
    def llmplug_register_transports(self, register):
        register(TransportSpec("fast", UrllibTransport, requires=(NO_SUCH_MODULE,), priority=99))


def test_builtin_backend_missing_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "requests", None)  # what `import requests` sees when it is not installed
    pm = PluginManager(entry_points=False)
    assert TransportStatus("requests", ("requests",), 'pip install "llmplug[requests]"', "sync") in pm.transport_status()
    with pytest.raises(TransportNotInstalledError) as info:
        llmplug.new("openai", api_key="k", transport="requests", plugins=pm)
    assert str(info.value) == 'transport \'requests\' is not installed: pip install "llmplug[requests]"; installed: aiohttp, httpx, httpx2, urllib'
    assert isinstance(info.value, llmplug.UnknownTransportError) and isinstance(info.value, llmplug.ConfigurationError)
    assert info.value.missing == ("requests",) and info.value.available == ["aiohttp", "httpx", "httpx2", "urllib"]
    assert llmplug.new("openai", api_key="k", plugins=pm).transport.__class__.__name__ == "HttpxTransport"


def test_third_party_backend_missing_names_the_modules():
    pm = PluginManager(entry_points=False)
    pm.register(FastPlugin(), name="fast")
    status = {s.name: s for s in pm.transport_status()}
    assert [name for name, s in status.items() if not s.installed] == ["fast"]
    assert str(status["fast"]) == f"fast  (sync only; not installed: it needs {NO_SUCH_MODULE}, which cannot be imported)"
    assert str(status["urllib"]) == "urllib" and str(status["aiohttp"]) == "aiohttp  (async only)"
    with pytest.raises(TransportNotInstalledError) as info:
        llmplug.new("openai", api_key="k", transport="fast", plugins=pm)
    assert str(info.value) == (
        f"transport 'fast' is not installed: it needs {NO_SUCH_MODULE}, which cannot be imported; "
        "installed: aiohttp, httpx, httpx2, requests, urllib"
    )
    # the default pick skips it despite its priority
    assert llmplug.new("openai", api_key="k", plugins=pm).transport.__class__.__name__ == "HttpxTransport"


def test_dotted_requirement_with_missing_parent_is_not_installed():
    spec = TransportSpec("deep", UrllibTransport, requires=(NO_SUCH_MODULE + ".sub",))
    assert spec.missing() == (NO_SUCH_MODULE + ".sub",) and not spec.available()
