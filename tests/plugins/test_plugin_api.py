"""``llmplug.plugin`` is the one module plugins import: every name in it is
documented, and the example and built-in plugins import nothing else."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import llmplug
import llmplug.plugin

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "plugins.md").read_text()

#: Plugins written against the public API: the examples, the test fixtures, and the built-ins.
PLUGIN_FILES = sorted(
    [*ROOT.glob("examples/plugins/*/*.py"), *ROOT.glob("tests/plugins/fixtures/*/*.py"),
     *(ROOT / "llmplug" / "providers").rglob("*.py"), *(ROOT / "llmplug" / "transports").glob("*.py")]
)


def _api_table() -> dict[str, str]:
    section = DOC.split("## The plugin API: `llmplug.plugin`", 1)[1].split("\n## ", 1)[0]
    return dict(re.findall(r"^\| `(\w+)` \| (.+?) \|$", section, flags=re.M))


def test_every_public_name_is_documented() -> None:
    documented = _api_table()
    public = set(llmplug.plugin.__all__)
    assert not public - set(documented), f"undocumented in docs/plugins.md: {sorted(public - set(documented))}"
    assert not set(documented) - public, f"documented but not exported: {sorted(set(documented) - public)}"
    assert all(len(text) > 10 for text in documented.values())


def test_every_public_name_exists() -> None:
    missing = [name for name in llmplug.plugin.__all__ if not hasattr(llmplug.plugin, name)]
    assert not missing and len(set(llmplug.plugin.__all__)) == len(llmplug.plugin.__all__)
    assert llmplug.plugin.hookimpl is llmplug.hookimpl


def _llmplug_imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
    return {m for m in modules if m == "llmplug" or m.startswith("llmplug.")}


@pytest.mark.parametrize("path", PLUGIN_FILES, ids=[str(p.relative_to(ROOT)) for p in PLUGIN_FILES])
def test_plugins_import_only_the_public_api(path: Path) -> None:
    outside = _llmplug_imports(path) - {"llmplug", "llmplug.plugin"}
    if path.is_relative_to(ROOT / "llmplug"):  # a built-in package may import its own modules
        package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:3])
        outside = {m for m in outside if not m.startswith(package)}
    assert not outside, f"{path.relative_to(ROOT)} imports {sorted(outside)}: use llmplug.plugin"


def test_the_examples_are_found() -> None:
    names = {p.name for p in PLUGIN_FILES}
    assert {"llmplug_azure.py", "llmplug_anthropic.py", "llmplug_recorder.py", "openai.py", "httpx.py", "urllib.py"} <= names


def test_the_operations_table_matches_the_operations() -> None:
    from llmplug.core.operations import OPERATIONS

    section = DOC.split("## Operations", 1)[1].split("\n## ", 1)[0]
    rows = {m.group(1): [c.strip() for c in m.group(2).split("|")]
            for m in re.finditer(r"^\| `([\w.]+)` \|(.+)\|$", section, flags=re.M)}
    assert set(rows) == set(OPERATIONS), "docs/plugins.md's operations table lists other operations than core"
    for name, op in OPERATIONS.items():
        _, _, result, events, needs_model = rows[name]
        if op.raw:
            assert result == "raw bytes", name
        elif op.result is not None:
            assert result.startswith(f"`{op.result.__name__}`"), (name, result)
        assert (events == "-") is (op.event is None) or name == "request", name
        if op.event is not None:
            assert events == f"`{op.event.__name__}`", (name, events)
        assert needs_model == ("yes" if op.needs_model else "no"), name
