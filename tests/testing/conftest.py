"""Fixtures of tests/testing: the user-facing pytest plugin's fixture, imported."""

from __future__ import annotations

from llmplug.testing.pytest_plugin import fake_api  # noqa: F401 - fixture
