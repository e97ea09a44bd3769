"""Fixtures of the reliability suite: a fault server, clients with an injected
sleep (no real waiting between retries), and a check on every test that no
debug log line shows the API key."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import llmplug
from tests.conftest import TEST_KEY
from tests.reliability.faultserver import FaultServer
from tests.reliability.support import FAST


@pytest.fixture(autouse=True)
def debug_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every test runs with llmplug logging at DEBUG; none may log the key."""
    caplog.set_level(logging.DEBUG, logger="llmplug")
    yield caplog
    leaked = [r.getMessage() for r in caplog.records if TEST_KEY in r.getMessage()]
    assert not leaked, f"API key in a log line: {leaked[0]}"


@pytest.fixture
def fault() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    """The waits the retry policy asked for, in order."""
    return []


@pytest.fixture
def make_client(transport: str, sleeps: list[float]) -> Iterator[Callable[..., llmplug.Client]]:
    """``make_client(base_url, **options)``: an OpenAI client through ``transport``,
    with FAST timeouts, 2 retries and a sleep that only records."""
    clients: list[llmplug.Client] = []

    def make(base_url: str, **options: Any) -> llmplug.Client:
        options.setdefault("timeout", FAST)
        options.setdefault("max_retries", 2)
        options.setdefault("retry", llmplug.RetryPolicy(sleep=sleeps.append, random=lambda: 0.0))
        client = llmplug.new("openai", api_key=TEST_KEY, base_url=base_url, transport=transport, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def client(fault: FaultServer, make_client: Callable[..., llmplug.Client]) -> llmplug.Client:
    """A client on the fault server."""
    return make_client(fault.base_url)


@pytest.fixture(scope="session")
def tls_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    """A server TLS context with the self-signed certificate of ``tls_files``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*tls_files)
    return context
