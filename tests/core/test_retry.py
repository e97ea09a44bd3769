"""Retries: which failures, how many attempts, which waits (an injected sleep)."""

from __future__ import annotations

import pytest

import llmplug
from llmplug.core.retry import RetryPolicy, parse_retry_after
from tests.conftest import TEST_KEY

USER = [{"role": "user", "content": "hi"}]


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def retrying(api, transport, sleeps):
    policy = RetryPolicy(sleep=sleeps.append, random=lambda: 0.0)
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, retry=policy, max_retries=2) as c:
        yield c


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503])
def test_retryable_status_then_success(retrying, api, sleeps, status):
    api.queue("POST", "/v1/chat/completions", status=status, times=2)
    status_code, body, _ = retrying.create_chat_completion(USER)
    assert status_code == 200 and str(body) == "You said: hi"
    assert len(api.requests) == 3
    assert sleeps == [0.5, 1.0]


def test_gives_up_after_max_retries(retrying, api, sleeps):
    api.queue("POST", "/v1/chat/completions", status=503, times=5)
    with pytest.raises(llmplug.InternalServerError):
        retrying.create_chat_completion(USER)
    assert len(api.requests) == 3 and len(sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(retrying, api, sleeps, status):
    api.queue("POST", "/v1/chat/completions", status=status)
    with pytest.raises(llmplug.APIStatusError):
        retrying.create_chat_completion(USER)
    assert len(api.requests) == 1 and sleeps == []


def test_retry_after_headers_are_honoured(retrying, api, sleeps):
    api.queue("POST", "/v1/chat/completions", status=429, headers={"retry-after": "3"})
    api.queue("POST", "/v1/chat/completions", status=429, headers={"retry-after-ms": "250"})
    retrying.create_chat_completion(USER)
    assert sleeps == [3.0, 0.25]


def test_long_retry_after_is_not_slept(retrying, api, sleeps):
    api.queue("POST", "/v1/chat/completions", status=429, headers={"retry-after": "3600"})
    with pytest.raises(llmplug.RateLimitError, match="retry after 3600.0s"):
        retrying.create_chat_completion(USER)
    assert sleeps == [] and len(api.requests) == 1


def test_x_should_retry_overrides(retrying, api, sleeps):
    api.queue("POST", "/v1/chat/completions", status=400, headers={"x-should-retry": "true"})
    retrying.create_chat_completion(USER)
    assert len(api.requests) == 2
    api.reset()
    api.queue("POST", "/v1/chat/completions", status=503, headers={"x-should-retry": "false"})
    with pytest.raises(llmplug.InternalServerError):
        retrying.create_chat_completion(USER)
    assert len(api.requests) == 1


def test_per_call_max_retries(retrying, api, sleeps):
    api.queue("POST", "/v1/chat/completions", status=500, times=3)
    with pytest.raises(llmplug.InternalServerError):
        retrying.create_chat_completion(USER, max_retries=0)
    assert len(api.requests) == 1


def test_connection_refused_is_retried(transport, sleeps):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    policy = RetryPolicy(sleep=sleeps.append, random=lambda: 0.0)
    client = llmplug.new("openai", api_key=TEST_KEY, base_url=f"http://127.0.0.1:{port}/v1", transport=transport, retry=policy)
    with pytest.raises(llmplug.APIConnectionError):
        client.models()
    assert sleeps == [0.5, 1.0]


def test_backoff_caps_and_jitters():
    policy = RetryPolicy(random=lambda: 1.0)
    error = llmplug.APIConnectionError("x")
    assert [policy.wait(n, error) for n in (1, 2, 5, 9)] == [0.375, 0.75, 6.0, 6.0]


def test_parse_retry_after_http_date():
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=lambda: 1445412480.0) == 10.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None
