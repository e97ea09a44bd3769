"""pytest fixture for llmplug users.

Enable it in your root ``conftest.py``::

    pytest_plugins = ["llmplug.testing.pytest_plugin"]

then ask for ``fake_api`` in a test: a running :class:`FakeAPI` (no key
check), stopped after the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeAPI

__all__ = ["fake_api"]


@pytest.fixture
def fake_api() -> Iterator[FakeAPI]:
    """A fake OpenAI API on 127.0.0.1; point a client at ``fake_api.base_url``."""
    with FakeAPI() as api:
        yield api
