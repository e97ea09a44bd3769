"""pytest fixtures for llmplug users.

Enable them in your root ``conftest.py``::

    pytest_plugins = ["llmplug.testing.pytest_plugin"]

- ``fake_api``: a running :class:`FakeAPI` (no key check), stopped after the test;
- ``llmplug_cassette``: a :class:`~llmplug.testing.Cassette` named after the
  test (``cassettes/<test module>/<[Class__]test name>.yaml`` beside the test file;
  ``.json`` without PyYAML), to give as ``transport=``. Its mode comes from
  ``--llmplug-record`` (``none``: replay only, the default, as in CI; ``once``:
  record what has no cassette yet; ``all``: record everything anew), or from
  the marker ``@pytest.mark.llmplug_cassette(mode=..., name=...)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .cassette import Cassette
from .server import FakeAPI

__all__ = ["fake_api", "llmplug_cassette"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--llmplug-record", choices=("none", "once", "all"), default="none",
        help="llmplug cassettes: none = replay only (default), once = record missing ones, all = record every one anew",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "llmplug_cassette(mode=None, name=None): the llmplug_cassette fixture's mode and file name"
    )


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    """A fake OpenAI API on 127.0.0.1; point a client at ``fake_api.base_url``."""
    with FakeAPI() as api:
        yield api


@pytest.fixture
def llmplug_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """The test's cassette (see the module docstring). ``--llmplug-record=all``
    re-records every cassette, a marker's mode included."""
    marker = request.node.get_closest_marker("llmplug_cassette")
    options = dict(marker.kwargs) if marker is not None else {}
    option = request.config.getoption("--llmplug-record")
    mode = options.pop("mode", None)
    mode = "all" if option == "all" else mode or option
    test = request.node.nodeid.split("::", 1)[-1]  # Class::test_name[param]: a method's class keeps it apart
    name = options.pop("name", None) or re.sub(r"[^\w.-]+", "_", test.replace("::", "__")).strip("_")
    folder = Path(str(request.node.fspath)).parent / "cassettes" / Path(str(request.node.fspath)).stem
    candidates = [folder / f"{name}{suffix}" for suffix in (".yaml", ".json")]
    path = next((p for p in candidates if p.exists()), None)
    if path is None:
        import importlib.util

        path = candidates[0] if importlib.util.find_spec("yaml") is not None else candidates[1]
    cassette = Cassette(path, mode, **options)
    yield cassette
    if cassette.recording and not cassette.path.exists():  # a test that sent nothing: its (empty) cassette
        cassette._save()
