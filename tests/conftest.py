"""Shared fixtures: a clean environment, the fake API on loopback, every transport."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import llmplug
from llmplug.testing import FakeAPI
from tests import async_bridge as async_bridge_module

TRANSPORTS = ("httpx", "httpx2", "requests", "urllib")
#: The async client's transports, driven from sync tests through ``tests/async_bridge.py``.
ASYNC_TRANSPORTS = ("async-aiohttp", "async-httpx", "async-httpx2", "async-urllib")
TEST_KEY = "sk-test-SENTINEL-7f3a9c"

#: The built-in providers' variables, and those of the example plugins (Anthropic, Azure OpenAI).
_ENV_PREFIXES = ("OPENAI_", "OPENROUTER_", "GEMINI_", "GOOGLE_", "LLMPLUG_", "ANTHROPIC_", "AZURE_OPENAI_")
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key, base URL, proxy or llmplug setting leaks in from the developer's shell."""
    for name in list(os.environ):
        if name.startswith(_ENV_PREFIXES) or name in _PROXY_VARS:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def async_bridge(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``llmplug.new(..., transport="async-httpx")`` builds an AsyncClient behind a sync bridge."""
    monkeypatch.setattr(llmplug, "new", async_bridge_module.new)
    yield
    async_bridge_module.close_opened()


@pytest.fixture(scope="session")
def _fake_api() -> Iterator[FakeAPI]:
    with FakeAPI() as api:
        yield api


@pytest.fixture
def api(_fake_api: FakeAPI) -> Iterator[FakeAPI]:
    """The fake OpenAI API on 127.0.0.1, emptied for each test."""
    _fake_api.reset()
    yield _fake_api
    _fake_api.reset()


@pytest.fixture(params=TRANSPORTS + ASYNC_TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def client(api: FakeAPI, transport: str) -> Iterator[llmplug.Client]:
    """An OpenAI client on the fake API through one transport, no retries."""
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, max_retries=0) as c:
        yield c


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for 127.0.0.1 (needs the openssl command)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl command not found")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    return cert, key
