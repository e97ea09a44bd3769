"""Timeout defaults and plumbing, and the ``llmplug`` logger (``LLMPLUG_LOG``)."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import llmplug
from llmplug.core import logs
from llmplug.core.http import Headers, Request, Response, BytesStream, Timeout, Transport
from tests.conftest import TEST_KEY
from tests.reliability.faultserver import respond
from tests.reliability.support import CHAT, CHAT_BYTES, USER, fails

REPO = Path(__file__).resolve().parents[2]


class Recorder(Transport):
    """A transport that answers every request with CHAT and keeps the requests."""

    name = "recorder"

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def send(self, request: Request) -> Response:
        self.requests.append(request)
        return Response(200, Headers({"content-type": "application/json"}), BytesStream(CHAT_BYTES), request)


# -- timeouts ------------------------------------------------------------------------------------


def test_default_timeouts_are_openai_pythons():
    assert Timeout() == Timeout(connect=5.0, read=600.0, total=None)  # openai-python's: no deadline
    with llmplug.new("openai", api_key=TEST_KEY) as client:
        assert client.dispatcher.timeout == Timeout()


def test_timeout_repr_says_what_each_limit_means():
    assert repr(Timeout()) == "Timeout(connect=5.0, read=600.0 per attempt, total=None (no deadline))"
    assert repr(Timeout(total=3)) == "Timeout(connect=5.0, read=600.0 per attempt, total=3)"


def test_a_number_is_a_per_attempt_limit():
    assert Timeout.coerce(30) == Timeout(connect=30.0, read=30.0, total=None)  # per attempt
    assert Timeout.coerce(llmplug.core.values.NOT_GIVEN) == Timeout()
    assert Timeout.coerce(None) == Timeout(connect=None, read=None, total=None)  # as in httpx: no limit
    with llmplug.new("openai", api_key=TEST_KEY, timeout=None) as client:
        assert client.dispatcher.timeout == Timeout(connect=None, read=None, total=None)
    custom = Timeout(connect=1, read=None, total=None)
    assert Timeout.coerce(custom) is custom


@pytest.mark.parametrize("bad", [0, -1, True, "10", float("nan")])
def test_bad_timeouts_say_what_to_fix(bad: Any):
    with pytest.raises(llmplug.ConfigurationError, match="timeout must be a positive number"):
        Timeout.coerce(bad)
    with pytest.raises(llmplug.ConfigurationError, match="Timeout.read must be a positive number"):
        Timeout(read=bad)


def test_the_transport_gets_limits_capped_by_the_time_left():
    recorder = Recorder()
    client = llmplug.new("openai", api_key=TEST_KEY, transport=recorder, timeout=Timeout(connect=5, read=600, total=2))
    client.create_chat_completion(USER)
    client.create_chat_completion(USER, timeout=Timeout(connect=0.5, read=7, total=None))
    first, second = (r.timeout for r in recorder.requests)
    assert first.connect <= 2 and first.read <= 2 and first.total == 2
    assert (second.connect, second.read, second.total) == (0.5, 7, None)


# -- logging --------------------------------------------------------------------------------------


def test_info_logs_each_response_and_debug_the_rest(client, fault, debug_log):
    fault.queue(respond(503, "busy"))
    fault.queue(respond(json_body=CHAT))
    client.create_chat_completion(USER)
    info = [r.getMessage() for r in debug_log.records if r.levelno == logging.INFO]
    assert info == [f"POST {fault.base_url}/chat/completions -> 503", f"POST {fault.base_url}/chat/completions -> 200"]
    debug = [r.getMessage() for r in debug_log.records if r.levelno == logging.DEBUG]
    sent = [line for line in debug if line.startswith("POST ")]
    assert len(sent) == 2 and "'Authorization': '[REDACTED]'" in sent[0]
    assert any(line.startswith("retrying chat.create in 0.50s (retry 1 of 2) after InternalServerError") for line in debug)
    assert all(r.name == "llmplug" for r in debug_log.records)


def test_giving_up_is_logged(client, fault, debug_log):
    fault.queue(respond(400, "no"))
    assert fails(llmplug.BadRequestError, client.models).attempts == 1
    assert any(r.getMessage().startswith("giving up on models.list after 1 attempt(s): BadRequestError") for r in debug_log.records)


@pytest.fixture
def fresh_logger():
    """Undo what configure_from_env does to the ``llmplug`` logger."""
    handlers, level = list(logs.logger.handlers), logs.logger.level
    yield logs.logger
    logs.logger.handlers[:] = handlers
    logs.logger.setLevel(level)


@pytest.mark.parametrize(("value", "level"), [("debug", logging.DEBUG), (" INFO ", logging.INFO), ("warning", logging.WARNING)])
def test_llmplug_log_sets_the_level(monkeypatch, fresh_logger, value, level):
    monkeypatch.setenv("LLMPLUG_LOG", value)
    logs.configure_from_env()
    logs.configure_from_env()  # idempotent: one handler
    assert fresh_logger.level == level
    assert sum(getattr(h, "_llmplug", False) for h in fresh_logger.handlers) == 1


def test_an_unknown_llmplug_log_warns_and_is_ignored(monkeypatch, fresh_logger):
    monkeypatch.setenv("LLMPLUG_LOG", "verbose")
    with pytest.warns(UserWarning, match="LLMPLUG_LOG must be one of debug, info"):
        logs.configure_from_env()
    assert not any(getattr(h, "_llmplug", False) for h in fresh_logger.handlers)


def test_llmplug_log_debug_end_to_end_shows_no_key(transport):
    """A real process with LLMPLUG_LOG=debug: retries and redacted headers on stderr, no key."""
    script = textwrap.dedent(f"""
        import llmplug
        from tests.async_bridge import new  # llmplug.new, or the async client for an "async-" transport
        from tests.reliability.faultserver import FaultServer, respond
        with FaultServer() as server:
            server.queue(respond(503, "busy", headers={{"x-request-id": "req_7"}}))
            server.queue(respond(401, "bad key"))
            policy = llmplug.RetryPolicy(sleep=lambda s: None, random=lambda: 0.0)
            client = new("openai", api_key={TEST_KEY!r}, base_url=server.base_url, transport={transport!r}, retry=policy)
            try:
                client.create_chat_completion([{{"role": "user", "content": "hi"}}])
            except llmplug.AuthenticationError as error:
                print(repr(error), error.attempts)
    """)
    env = {"LLMPLUG_LOG": "debug", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "AuthenticationError('bad key') 2"
    assert TEST_KEY not in out.stderr + out.stdout
    assert "llmplug DEBUG POST http://127.0.0.1:" in out.stderr and "'Authorization': '[REDACTED]'" in out.stderr
    assert "llmplug DEBUG retrying chat.create in 0.50s (retry 1 of 2) after InternalServerError" in out.stderr
    assert "req_7" in out.stderr
    assert "llmplug INFO POST" in out.stderr and "-> 401" in out.stderr
