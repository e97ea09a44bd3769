"""Entry-point plugins: discovery, laziness, the block / only variables, and
the exact errors a user sees when a plugin is broken."""

from __future__ import annotations

import sys

import pytest

import llmplug
from llmplug.core.plugins import PluginInfo, PluginManager

GOOD = """
import llmplug

CALLS = []

@llmplug.hookimpl
def llmplug_register_providers(register):
    CALLS.append("providers")
    register(llmplug.ProviderSpec(name="good-local", family="openai", base_url="http://127.0.0.1:9/v1",
                                  requires_key=False, default_model="m"))
"""
BROKEN = """
import llmplug_missing_dependency
"""
BROKEN_IMPORT_ERROR = (
    "plugin 'broken' (distribution 'llmplug-broken 0.1') failed to import: "
    "ModuleNotFoundError: No module named 'llmplug_missing_dependency'; "
    "to skip it, set LLMPLUG_DISABLE_PLUGINS=broken"
)


@pytest.fixture
def good_and_broken(fake_dist):
    fake_dist("llmplug-good", {"good": "llmplug_good"}, {"llmplug_good": GOOD})
    fake_dist("llmplug-broken", {"broken": "llmplug_broken"}, {"llmplug_broken": BROKEN})


def _external(pm: PluginManager) -> set[str]:
    return {info.name for info in pm.plugins() if not info.builtin}


# ------------------------------------------------------------ discovery


def test_entry_point_plugin_loads_lazily_once_and_is_listed(fake_dist, api):
    fake_dist("llmplug-good", {"good": "llmplug_good"}, {"llmplug_good": GOOD})
    pm = PluginManager()
    assert "llmplug_good" not in sys.modules  # a manager costs nothing until a name is looked up
    client = llmplug.new("good-local", base_url=api.base_url, transport="urllib", plugins=pm)
    llmplug.new("good-local", plugins=pm)
    pm.provider("good-local")
    assert sys.modules["llmplug_good"].CALLS == ["providers"]  # the table is cached, not rebuilt per lookup
    assert client.models().status == 200
    info = next(info for info in pm.plugins() if info.name == "good")
    assert info == PluginInfo(
        name="good",
        distribution="llmplug-good",
        version="0.1",
        builtin=False,
        hooks=("llmplug_register_providers",),
        providers=("good-local",),
        transports=(),
    )
    assert pm.distributions["good"] == "llmplug-good"


def test_llmplug_plugins_lists_builtins_and_installed(fake_dist, fresh_default):
    fake_dist("llmplug-good", {"good": "llmplug_good"}, {"llmplug_good": GOOD})
    infos = {info.name: info for info in llmplug.plugins()}
    assert infos["llmplug.providers.openai"].builtin and infos["llmplug.providers.openai"].distribution is None
    assert "openai" in infos["llmplug.providers.openai"].providers
    assert infos["llmplug.transports.urllib"].transports == ("urllib",)
    assert infos["good"].distribution == "llmplug-good" and not infos["good"].builtin
    assert "good-local" in llmplug.providers()


def test_a_manager_without_entry_points_is_isolated(good_and_broken):
    pm = PluginManager(entry_points=False)
    assert "good-local" not in pm.providers()
    assert "llmplug_broken" not in sys.modules
    assert _external(pm) == set()


# ------------------------------------------------------------ control


def test_import_failure_names_plugin_distribution_and_cure(good_and_broken, fresh_default):
    with pytest.raises(llmplug.PluginError) as info:
        llmplug.new("openai", api_key="k")
    assert str(info.value) == BROKEN_IMPORT_ERROR
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_failed_load_leaves_nothing_registered_and_can_be_retried(good_and_broken, monkeypatch):
    pm = PluginManager()
    with pytest.raises(llmplug.PluginError, match="failed to import"):
        pm.load()
    assert pm.pm.list_name_plugin() == []
    monkeypatch.setenv("LLMPLUG_DISABLE_PLUGINS", "broken")
    assert "good-local" in pm.providers()


@pytest.mark.parametrize("value", ["broken", " llmplug-broken ", "other,LLMPLUG_Broken"])
def test_disable_variable_blocks_by_entry_point_or_distribution_name(good_and_broken, monkeypatch, value):
    monkeypatch.setenv("LLMPLUG_DISABLE_PLUGINS", value)
    pm = PluginManager()
    assert "good-local" in pm.providers()
    assert "llmplug_broken" not in sys.modules
    assert "good" in _external(pm) and "broken" not in _external(pm)


def test_load_variable_loads_only_the_named(good_and_broken, monkeypatch):
    monkeypatch.setenv("LLMPLUG_LOAD_PLUGINS", "good")
    pm = PluginManager()
    assert "good-local" in pm.providers()
    assert "llmplug_broken" not in sys.modules
    assert _external(pm) == {"good"}


def test_empty_load_variable_loads_no_external_plugin(good_and_broken, monkeypatch):
    monkeypatch.setenv("LLMPLUG_LOAD_PLUGINS", "")
    pm = PluginManager()
    assert "openai" in pm.providers() and "good-local" not in pm.providers()  # built-ins always load
    assert _external(pm) == set()
    with pytest.raises(llmplug.UnknownProviderError) as info:
        llmplug.new("good-local", plugins=pm)
    builtin = ", ".join(sorted(PluginManager(entry_points=False).providers()))
    assert str(info.value) == f"unknown provider 'good-local'; available: {builtin}"


def test_load_variable_warns_about_a_name_not_installed(good_and_broken, monkeypatch):
    monkeypatch.setenv("LLMPLUG_LOAD_PLUGINS", "good,goood")
    with pytest.warns(UserWarning) as record:
        PluginManager().load()
    ours = [str(w.message) for w in record if "LLMPLUG_LOAD_PLUGINS" in str(w.message)]
    assert ours == ["LLMPLUG_LOAD_PLUGINS names goood, but no installed llmplug plugin has that name"]


def test_only_argument_warning_names_the_argument_not_the_variable(good_and_broken, monkeypatch):
    monkeypatch.setenv("LLMPLUG_LOAD_PLUGINS", "good")
    with pytest.warns(UserWarning) as record:
        PluginManager(only=["nope"]).load()
    # Only the warnings of the loader: a socket an earlier test left to the collector may warn here too.
    assert [str(w.message) for w in record if not issubclass(w.category, ResourceWarning)] == [
        "PluginManager(only=...) names nope, but no installed llmplug plugin has that name"
    ]


def test_manager_arguments_replace_the_environment(good_and_broken, monkeypatch):
    monkeypatch.setenv("LLMPLUG_LOAD_PLUGINS", "broken")
    assert _external(PluginManager(only=["good"])) == {"good"}
    assert _external(PluginManager(only=())) == set()
    with pytest.raises(llmplug.PluginError, match="failed to import"):
        PluginManager().load()  # left None, the environment decides


# ------------------------------------------------------------ clashes and misspellings


def test_entry_point_provider_clashing_with_a_builtin(fake_dist):
    fake_dist("llmplug-clash", {"clash": "llmplug_clash"}, {"llmplug_clash": """
        import llmplug

        @llmplug.hookimpl
        def llmplug_register_providers(register):
            register(llmplug.ProviderSpec(name="openai", family="openai", base_url="http://x"))
    """})
    with pytest.raises(llmplug.PluginError) as info:
        PluginManager().provider("openai")
    assert str(info.value) == (
        "provider name 'openai' is registered twice: by plugin 'llmplug.providers.openai' and by plugin "
        "'clash' (distribution 'llmplug-clash 0.1'); to skip one, set LLMPLUG_DISABLE_PLUGINS=clash"
    )


def test_two_entry_point_plugins_registering_one_transport(fake_dist):
    source = """
        import llmplug

        @llmplug.hookimpl
        def llmplug_register_transports(register):
            register(llmplug.TransportSpec("fast", lambda verify=True: None))
    """
    fake_dist("llmplug-second", {"second": "llmplug_second"}, {"llmplug_second": source})
    fake_dist("llmplug-first", {"first": "llmplug_first"}, {"llmplug_first": source})  # first on sys.path
    with pytest.raises(llmplug.PluginError) as info:
        llmplug.new("openai", api_key="k", transport="fast", plugins=PluginManager())
    assert str(info.value) == (
        "transport name 'fast' is registered twice: by plugin 'first' (distribution 'llmplug-first 0.1') "
        "and by plugin 'second' (distribution 'llmplug-second 0.1'); to skip one, set LLMPLUG_DISABLE_PLUGINS=second"
    )


def test_two_distributions_with_one_entry_point_name(fake_dist):
    fake_dist("llmplug-b", {"same": "llmplug_b"}, {"llmplug_b": "x = 1\n"})
    fake_dist("llmplug-a", {"same": "llmplug_a"}, {"llmplug_a": "x = 2\n"})
    with pytest.raises(llmplug.PluginError) as info:
        PluginManager().load()
    assert str(info.value) == (
        "two plugins are named 'same': from distribution 'llmplug-a 0.1' and from distribution 'llmplug-b 0.1'; "
        "to skip the second, set LLMPLUG_DISABLE_PLUGINS=llmplug-b"
    )


def test_misspelt_hook_in_an_entry_point_plugin_fails_at_load(fake_dist):
    fake_dist("llmplug-typo", {"typo": "llmplug_typo"}, {"llmplug_typo": """
        import llmplug

        @llmplug.hookimpl
        def llmplug_register_provider(register):
            pass
    """})
    pm = PluginManager()
    with pytest.raises(llmplug.PluginError) as info:
        pm.load()
    assert str(info.value) == (
        "plugin 'typo' (distribution 'llmplug-typo 0.1') implements 'llmplug_register_provider', which is not an "
        "llmplug hook (did you mean 'llmplug_register_providers'?); to skip it, set LLMPLUG_DISABLE_PLUGINS=typo"
    )
    assert pm.pm.list_name_plugin() == []


def test_misspelt_hook_registered_in_code_names_the_plugin():
    class Typo:
        @llmplug.hookimpl
        def llmplug_authenticat(self, provider, request, api_key):
            return request

    pm = PluginManager(entry_points=False)
    with pytest.raises(llmplug.PluginError) as info:
        pm.register(Typo(), name="typo")
    assert str(info.value) == (
        "plugin 'typo' implements 'llmplug_authenticat', which is not an llmplug hook "
        "(did you mean 'llmplug_authenticate'?)"
    )
    assert not pm.pm.has_plugin("typo")


def test_hook_argument_the_spec_does_not_pass(fake_dist):
    fake_dist("llmplug-args", {"args": "llmplug_args"}, {"llmplug_args": """
        import llmplug

        @llmplug.hookimpl
        def llmplug_register_providers(registry):
            pass
    """})
    with pytest.raises(llmplug.PluginError) as info:
        PluginManager().load()
    assert str(info.value) == (
        "plugin 'args' (distribution 'llmplug-args 0.1'): llmplug_register_providers() takes 'registry', "
        "which the hook does not pass (it passes register); to skip it, set LLMPLUG_DISABLE_PLUGINS=args"
    )


def test_hook_function_without_the_marker(fake_dist):
    fake_dist("llmplug-plain", {"plain": "llmplug_plain"}, {"llmplug_plain": """
        def llmplug_register_providers(register):
            pass
    """})
    with pytest.raises(llmplug.PluginError) as info:
        PluginManager().load()
    assert str(info.value) == (
        "plugin 'plain' (distribution 'llmplug-plain 0.1') defines 'llmplug_register_providers' without "
        "@llmplug.hookimpl, so it would never be called; to skip it, set LLMPLUG_DISABLE_PLUGINS=plain"
    )


def test_registering_something_that_is_not_a_spec():
    class Wrong:
        @llmplug.hookimpl
        def llmplug_register_providers(self, register):
            register({"name": "dict-provider"})

    pm = PluginManager(entry_points=False)
    pm.register(Wrong(), name="wrong")
    with pytest.raises(llmplug.PluginError) as info:
        pm.providers()
    assert str(info.value) == (
        "plugin 'wrong' registered {'name': 'dict-provider'} in llmplug_register_providers; "
        "expected a llmplug.ProviderSpec"
    )


def test_registering_a_name_twice_in_code():
    class One:
        pass

    pm = PluginManager(entry_points=False)
    pm.register(One(), name="one")
    with pytest.raises(llmplug.PluginError) as info:
        pm.register(One(), name="one")
    assert str(info.value) == "a plugin named 'one' is already registered"
    pm.unregister(name="one")
    assert pm.register(One(), name="one") == "one"


def test_a_registration_hook_that_raises_names_its_plugin(fake_dist):
    fake_dist("llmplug-crash", {"crash": "llmplug_crash"}, {"llmplug_crash": """
        import llmplug

        @llmplug.hookimpl
        def llmplug_register_transports(register):
            raise RuntimeError("config file missing")
    """})
    with pytest.raises(llmplug.PluginError) as info:
        PluginManager().transports()
    assert str(info.value) == (
        "plugin 'crash' (distribution 'llmplug-crash 0.1') failed in llmplug_register_transports: "
        "RuntimeError: config file missing"
    )
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_registration_hook_cannot_be_wrapped():
    class Wrapping:
        @llmplug.hookimpl(wrapper=True)
        def llmplug_register_providers(self, register):
            yield

    pm = PluginManager(entry_points=False)
    with pytest.raises(llmplug.PluginError) as info:
        pm.register(Wrapping(), name="wrapping")
    assert str(info.value) == (
        "plugin 'wrapping' wraps 'llmplug_register_providers'; a registration hook cannot be wrapped: "
        "call register() from a plain @llmplug.hookimpl"
    )
    assert "openai" in pm.providers()


def test_with_no_plugin_installed_the_distributions_are_not_scanned(monkeypatch):
    """The quick look finds no ``[llmplug]`` section, so importlib.metadata is not even asked."""
    from llmplug.core import plugin_loader

    assert not plugin_loader._may_declare("llmplug-no-such-group")
    calls = []
    monkeypatch.setattr(plugin_loader, "_may_declare", lambda group: calls.append(group) or False)
    manager = PluginManager()
    assert "openai" in manager.providers() and calls == ["llmplug"]


def test_the_quick_look_finds_a_declared_group_and_defers_to_importlib_for_zips(fake_dist, tmp_path, monkeypatch):
    from llmplug.core import plugin_loader

    fake_dist("llmplug-looked-up", {"looked": "llmplug_looked"}, {"llmplug_looked": ""})
    assert plugin_loader._may_declare("llmplug")
    assert not plugin_loader._may_declare("llmplug-no-such-group")
    archive = tmp_path / "plugins.zip"
    archive.write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip archive on the path
    monkeypatch.syspath_prepend(str(archive))
    assert plugin_loader._may_declare("llmplug-no-such-group")
