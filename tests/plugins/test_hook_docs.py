"""docs/plugins.md is checked against the hook specs: every hook is documented
with its exact signature and first-result flag, every example in it is a valid
plugin that runs, and every hook has a test."""

from __future__ import annotations

import inspect
import re
import types
from pathlib import Path

import pytest

import llmplug
from llmplug.core import hookspecs
from llmplug.core.plugins import HOOK_NAMES, PluginManager

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "plugins.md"
README = ROOT / "README.md"
USER = [{"role": "user", "content": "hi"}]


def _sections() -> dict[str, str]:
    """Hook name -> its section of the reference, in document order."""
    parts = re.split(r"^### `(\w+)`[ \t]*$", DOCS.read_text(encoding="utf-8"), flags=re.M)
    return {name: re.split(r"^## ", body, flags=re.M)[0] for name, body in zip(parts[1::2], parts[2::2])}


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def _signature(spec: types.FunctionType) -> str:
    sig = inspect.signature(spec)  # annotations are strings (from __future__ import annotations)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"def {spec.__name__}({params}) -> {sig.return_annotation}"


def test_every_hook_is_documented_in_spec_order():
    assert list(_sections()) == list(HOOK_NAMES)
    assert HOOK_NAMES  # the spec module defines hooks at all


@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_hook_section_matches_the_spec(hook):
    spec = getattr(hookspecs, hook)
    section = _sections()[hook]
    blocks = _python_blocks(section)
    assert blocks and blocks[0].strip() == _signature(spec), "the first block of a hook's section is its signature"
    flag = re.search(r"^\*\*First result:\*\* (yes|no)\b", section, flags=re.M)
    assert flag is not None, f"{hook}: no '**First result:** yes/no' line"
    assert flag.group(1) == ("yes" if spec.llmplug_spec["firstresult"] else "no")
    assert "**Called:**" in section, f"{hook}: say when it is called"
    assert any(f"def {hook}(" in block and "@llmplug.hookimpl" in block for block in blocks[1:]), f"{hook}: no example"


def test_every_example_plugin_in_the_docs_registers_and_runs(api):
    pm = PluginManager(entry_points=False)
    examples = [block for block in _python_blocks(DOCS.read_text(encoding="utf-8")) if "@llmplug.hookimpl" in block]
    for number, source in enumerate(examples):
        module = types.ModuleType(f"docs_example_{number}")
        exec(compile(source, f"{DOCS}:example {number}", "exec"), module.__dict__)
        pm.register(module, name=module.__name__)  # a misspelt hook or argument would fail here
    assert {"my-vllm", "my-gateway"} <= set(pm.providers()) and "offline" in pm.transports()
    documented = {hook for info in pm.plugins() if info.name.startswith("docs_example_") for hook in info.hooks}
    assert documented == set(HOOK_NAMES)

    # The wrappers leave other providers working, streams included.
    client = llmplug.new("openai", api_key="k", base_url=api.base_url, transport="urllib", plugins=pm, max_retries=0)
    assert client.create_chat_completion(USER, model="m").body.content == "You said: hi"
    with client.create_chat_completion(USER, model="m", stream=True) as stream:
        assert "".join(str(chunk) for chunk in stream) == "You said: hi"

    # The gateway of "Writing a plugin" sends its own key header and maps its own error shape.
    gateway = llmplug.new("my-gateway", api_key="gw-key", base_url=api.base_url, transport="urllib", plugins=pm, max_retries=0)
    api.queue("GET", "/v1/models", status=429, json={"fault": {"reason": "quota exceeded"}})
    with pytest.raises(llmplug.RateLimitError, match="quota exceeded"):
        gateway.models()
    assert api.last_request.headers.get("x-api-key") == "gw-key" and "authorization" not in api.last_request.headers

    # The vLLM provider gets the tenant header from the build_request wrapper.
    vllm = llmplug.new("my-vllm", base_url=api.base_url, transport="urllib", plugins=pm)
    vllm.models()
    assert api.last_request.headers.get("X-Tenant") == "team-a"

    offline = llmplug.new("openai", api_key="k", transport="offline", plugins=pm, max_retries=0)
    with pytest.raises(llmplug.InternalServerError, match="offline mode"):
        offline.models()


def test_every_hook_has_a_test():
    this = Path(__file__).resolve()
    tests = [path.read_text(encoding="utf-8") for path in (ROOT / "tests").rglob("test_*.py") if path.resolve() != this]
    untested = [hook for hook in HOOK_NAMES if not any(hook in text for text in tests)]
    assert untested == [], f"hooks no test mentions: {untested}"


def test_readme_providers_table_names_every_key_variable():
    rows = dict(re.findall(r"^\| `([\w-]+)` \|(.*)\|$", README.read_text(encoding="utf-8"), flags=re.M))
    pm = PluginManager(entry_points=False)
    for name in pm.providers():
        assert name in rows, f"README's providers table has no row for {name!r}"
        spec = pm.provider(name)
        missing = [var for var in spec.api_key_env if var not in rows[name]]
        assert missing == [], f"README's {name!r} row does not name {missing}"


def test_paged_model_lists_are_documented_as_followed():
    """Gemini's ``models()`` follows every page (``llmplug_next_page``): the docs must not say one page."""
    from llmplug.providers import gemini

    readme = README.read_text(encoding="utf-8")
    gemini_section = re.split(r"^## ", readme.split("Gemini has no moderation", 1)[1], flags=re.M)[0]
    for where, text in (("README's Gemini section", gemini_section), ("gemini.py's docstring", gemini.__doc__ or "")):
        flat = " ".join(text.split())
        assert "one page" not in flat, f"{where} says models() reads one page"
        assert "nextPageToken" in flat and "every page" in flat, f"{where} does not say models() follows nextPageToken"
