"""Fixtures for plugin tests: installed-looking distributions made on the fly,
and a fresh default plugin manager."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llmplug.core import plugins as plugins_module

FakeDist = Callable[..., Path]


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDist]:
    """Make a distribution that looks installed: a ``*.dist-info`` with entry
    points and its modules, in a directory put first on ``sys.path``.

    ``fake_dist("llmplug-x", {"x": "llmplug_x"}, {"llmplug_x": "...source..."})``.
    Each call uses its own directory, so the last one made is found first.
    """
    modules: list[str] = []

    def make(dist: str, entry_points: dict[str, str], sources: dict[str, str], version: str = "0.1") -> Path:
        site = tmp_path / f"site-{dist}"
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text("[llmplug]\n" + lines)
        for module, source in sources.items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
            modules.append(module)
        monkeypatch.syspath_prepend(str(site))  # also invalidates the import caches
        return site

    yield make
    for module in modules:
        sys.modules.pop(module, None)


@pytest.fixture
def fresh_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new process-wide plugin manager for this test; the old one comes back after."""
    monkeypatch.setattr(plugins_module, "_default", None)
