"""Installing plugin distributions into the environment the tests run in.

:func:`installed_packages` pip-installs distributions from source folders
(offline: no index, no build isolation, from copies so no build files land in
the tree), and uninstalls after those it installed; a module uses it from a
``scope="module"`` fixture. ``tests/plugins/test_example_packages.py`` (the
Azure example and a transport) and ``tests/plugins/test_anthropic_example.py``
do.
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path

import pytest

from llmplug.core import plugins as plugins_module

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "plugins"


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)


def is_installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


@contextlib.contextmanager
def installed_packages(packages: Mapping[str, tuple[Path, str]], workdir: Path) -> Iterator[None]:
    """``packages`` (distribution name -> (source folder, module)) installed for the
    ``with`` block: those missing are pip-installed from copies in ``workdir`` and
    uninstalled after; every module is dropped from ``sys.modules`` after, and the
    process-wide plugin manager is made anew on both sides (so no test before or
    after sees a plugin loaded while the packages were here)."""
    missing = [dist for dist in packages if not is_installed(dist)]
    if missing:
        copies = []
        for dist in missing:
            copies.append(str(workdir / dist))
            shutil.copytree(packages[dist][0], workdir / dist, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        done = pip("install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index", *copies)
        if done.returncode != 0:
            pytest.fail(
                "could not install the example plugin packages (offline, without build isolation: "
                "run pip install -e '.[test]', which brings setuptools>=70.1):\n" + done.stdout + done.stderr
            )
        importlib.invalidate_caches()
    plugins_module._default = None
    try:
        yield
    finally:
        if missing:
            pip("uninstall", "--quiet", "--yes", *missing)
            importlib.invalidate_caches()
        for _, module in packages.values():
            sys.modules.pop(module, None)
        plugins_module._default = None
