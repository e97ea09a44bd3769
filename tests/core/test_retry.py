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


# -- server hints, caps and the log -----------------------------------------------------------


class GeminiErrors:
    """A stand-in for the Gemini provider's ``llmplug_parse_error``: Google's
    ``RetryInfo.retryDelay`` ("2.5s") becomes ``APIStatusError.retry_after``."""

    @llmplug.hookimpl(tryfirst=True)
    def llmplug_parse_error(self, provider, operation, response, body):
        from llmplug.core.errors import make_status_error

        details = body.get("error", {}).get("details", []) if isinstance(body, dict) else []
        delays = [d["retryDelay"] for d in details if d.get("@type", "").endswith("google.rpc.RetryInfo")]
        return make_status_error(
            "quota exceeded",
            status_code=response.status_code,
            body=body,
            headers=response.headers,
            provider=provider.name,
            retry_after=float(delays[0].rstrip("s")) if delays else None,
        )


def _retry_info(delay: str) -> dict:
    return {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay}]}}


@pytest.fixture
def gemini_like(api, transport, sleeps):
    plugins = llmplug.PluginManager(entry_points=False)
    plugins.register(GeminiErrors(), name="gemini-errors")
    policy = RetryPolicy(sleep=sleeps.append, random=lambda: 0.0)
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, retry=policy,
                     plugins=plugins) as c:
        yield c


def test_gemini_retry_info_is_honoured(gemini_like, api, sleeps):
    api.queue("POST", "/v1/chat/completions", status=429, json=_retry_info("2.5s"))
    api.queue("POST", "/v1/chat/completions", status=429, json=_retry_info("0.25s"), headers={"retry-after": "7"})
    assert gemini_like.create_chat_completion(USER).status == 200
    assert sleeps == [2.5, 0.25]  # RetryInfo wins over Retry-After


def test_gemini_retry_info_beyond_max_wait_is_raised(gemini_like, api, sleeps):
    api.queue("POST", "/v1/chat/completions", status=429, json=_retry_info("120s"))
    with pytest.raises(llmplug.RateLimitError) as info:
        gemini_like.create_chat_completion(USER)
    assert info.value.retry_after == 120.0 and "retry after 120.0s" in str(info.value)
    assert sleeps == [] and len(api.requests) == 1 and info.value.attempts == 1


def test_retry_after_http_date_end_to_end(retrying, api, sleeps):
    import email.utils
    import time

    when = email.utils.formatdate(time.time() + 3, usegmt=True)
    api.queue("POST", "/v1/chat/completions", status=503, headers={"Retry-After": when})
    assert retrying.create_chat_completion(USER).status == 200
    assert len(sleeps) == 1 and 1.0 < sleeps[0] <= 3.0


def test_long_retry_after_ms_is_not_slept(retrying, api, sleeps):
    api.queue("POST", "/v1/chat/completions", status=503, headers={"retry-after-ms": "90000"})
    with pytest.raises(llmplug.InternalServerError, match=r"retry after 90\.0s, more than max_wait"):
        retrying.create_chat_completion(USER)
    assert sleeps == []


def test_max_wait_is_configurable(api, transport, sleeps):
    policy = RetryPolicy(sleep=sleeps.append, random=lambda: 0.0, max_wait=5.0)
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, retry=policy) as c:
        api.queue("POST", "/v1/chat/completions", status=429, headers={"retry-after": "4"})
        api.queue("POST", "/v1/chat/completions", status=429, headers={"retry-after": "6"})
        with pytest.raises(llmplug.RateLimitError) as info:
            c.create_chat_completion(USER)
    assert sleeps == [4.0] and info.value.attempts == 2


def test_x_should_retry_false_beats_retry_after(retrying, api, sleeps):
    api.queue("POST", "/v1/chat/completions", status=429, headers={"x-should-retry": "false", "retry-after": "1"})
    with pytest.raises(llmplug.RateLimitError):
        retrying.create_chat_completion(USER)
    assert sleeps == [] and len(api.requests) == 1


def test_client_max_retries_zero(api, transport, sleeps):
    policy = RetryPolicy(sleep=sleeps.append)
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, retry=policy,
                     max_retries=0) as c:
        api.queue("POST", "/v1/chat/completions", status=503)
        with pytest.raises(llmplug.InternalServerError) as info:
            c.create_chat_completion(USER)
    assert sleeps == [] and info.value.attempts == 1


def test_per_call_max_retries_above_the_client(api, transport, sleeps):
    policy = RetryPolicy(sleep=sleeps.append, random=lambda: 0.0)
    with llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport=transport, retry=policy,
                     max_retries=0) as c:
        api.queue("POST", "/v1/chat/completions", status=503, times=4)
        assert c.create_chat_completion(USER, max_retries=4).status == 200
    assert sleeps == [0.5, 1.0, 2.0, 4.0]


def test_each_retry_is_logged_with_reason_and_wait(retrying, api, caplog):
    import logging

    caplog.set_level(logging.DEBUG, logger="llmplug")
    api.queue("POST", "/v1/chat/completions", status=503, headers={"x-request-id": "req_1"})
    api.queue("POST", "/v1/chat/completions", status=429, headers={"retry-after": "2"})
    retrying.create_chat_completion(USER)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert len(lines) == 2
    assert lines[0].startswith("retrying chat.create in 0.50s (retry 1 of 2) after InternalServerError: openai: 503 ")
    assert "req_1" in lines[0]
    assert lines[1].startswith("retrying chat.create in 2.00s (retry 2 of 2) after RateLimitError: openai: 429 ")
    assert TEST_KEY not in caplog.text


def test_server_delay_prefers_the_error_over_headers():
    from llmplug.core.errors import RateLimitError
    from llmplug.core.retry import server_delay

    error = RateLimitError("x", status_code=429, body=None, headers={"retry-after": "9"}, retry_after=1.5)
    assert server_delay(error) == 1.5 and RetryPolicy().wait(1, error) == 1.5
    assert server_delay(RateLimitError("x", status_code=429, body=None, headers={"Retry-After-Ms": "20"})) == 0.02
    assert server_delay(llmplug.APIConnectionError("x")) is None


def test_jitter_takes_up_to_a_quarter_off():
    error = llmplug.APIConnectionError("x")
    assert RetryPolicy(random=lambda: 0.5).wait(1, error) == 0.4375
    assert RetryPolicy(random=lambda: 0.0).wait(4, error) == 4.0
    assert RetryPolicy(random=lambda: 0.0).wait(6, error) == 8.0  # the cap


def test_what_is_retried():
    import ssl

    from llmplug.core.errors import make_status_error

    policy = RetryPolicy()
    status = {code: policy.should_retry(make_status_error("x", status_code=code, body=None)) for code in
              (400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504, 529)}
    assert [code for code, retry in status.items() if retry] == [408, 409, 429, 500, 502, 503, 504, 529]
    assert policy.should_retry(llmplug.APITimeoutError("x"))
    assert not policy.should_retry(llmplug.StreamError("x"))
    assert not policy.should_retry(llmplug.APIResponseValidationError("x", body="", status_code=200))
    rejected = llmplug.APIConnectionError("certificate verify failed")
    try:
        try:
            raise ssl.SSLCertVerificationError("self-signed certificate")
        except ssl.SSLError as exc:
            raise OSError("wrapped") from exc
    except OSError as wrapped:
        rejected.__cause__ = wrapped
    assert not policy.should_retry(rejected)
