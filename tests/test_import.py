"""``import llmplug`` stays cheap: no HTTP library and no plugin until needed."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(out.stdout.split())


def test_import_loads_no_http_library_and_no_plugin():
    loaded = _modules_after("import llmplug")
    assert "llmplug" in loaded
    assert not {"httpx", "requests", "urllib3", "httpcore"} & loaded
    assert not {m for m in loaded if m.startswith(("llmplug.providers.", "llmplug.transports.", "llmplug.testing"))}


def test_import_loads_only_the_errors_and_the_hook_marker():
    loaded = _modules_after("import llmplug")
    assert {m for m in loaded if m.startswith("llmplug.")} == {
        "llmplug.core", "llmplug.core.errors", "llmplug.core.hookspecs", "llmplug.providers", "llmplug.transports",
    }
    assert not {"attrs", "cattrs", "logging", "email", "json"} & loaded


def test_every_public_name_loads_on_first_use():
    import llmplug

    for name in llmplug.__all__:
        assert getattr(llmplug, name) is not None, name
        assert name in dir(llmplug)
    assert llmplug.Client.__module__ == "llmplug.core.client"
    try:
        llmplug.NoSuchName  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")


def test_providers_and_transports_stay_functions_after_plugin_modules_load():
    out = subprocess.run(
        [sys.executable, "-c", "import llmplug, llmplug.providers.openai, llmplug.transports.urllib\n"
         "from llmplug.providers import gemini\nimport llmplug.providers\n"
         "print(callable(llmplug.providers), 'openai' in llmplug.providers(), 'urllib' in llmplug.transports(),"
         " gemini.__name__)"],
        capture_output=True, text=True, check=True,
    )
    assert out.stdout.split() == ["True", "True", "True", "llmplug.providers.gemini"]


def test_urllib_client_needs_no_third_party_http_library():
    loaded = _modules_after(
        "import llmplug\nc = llmplug.new('openai', api_key='k', transport='urllib')\nllmplug.providers()"
    )
    assert "llmplug.transports.urllib" in loaded
    assert not {"httpx", "requests", "urllib3"} & loaded
