"""Faults on a plain (non-streamed) call, through every transport: the exact
error, how many attempts were made and which waits were asked for."""

from __future__ import annotations

import sys
import threading
import time

import pytest

import llmplug
from tests.reliability.faultserver import (
    drip,
    drop,
    full_backlog_url,
    partial_body,
    refused_url,
    reset_before_reply,
    respond,
    stall,
    trickle,
)
from tests.reliability.support import BACKOFF, CHAT, CHAT_BYTES, USER, fails

HTML_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>nginx</body></html>"


def chat(client: llmplug.Client) -> llmplug.ApiResult:
    return client.create_chat_completion(USER)


# -- no usable response: retried, then APIConnectionError / APITimeoutError --------------------


def test_connection_refused(make_client, sleeps):
    client = make_client(refused_url())
    error = fails(llmplug.APIConnectionError, chat, client)
    assert "connection failed while sending POST http://127.0.0.1:" in str(error)
    assert error.attempts == 3 and sleeps == BACKOFF


@pytest.mark.skipif(sys.platform != "linux", reason="relies on Linux dropping SYNs to a full accept queue")
def test_connect_timeout(make_client, sleeps):
    with full_backlog_url() as url:
        client = make_client(url, timeout=llmplug.Timeout(connect=0.2, read=5, total=5), max_retries=1)
        started = time.monotonic()
        error = fails(llmplug.APITimeoutError, chat, client)
    assert time.monotonic() - started < 1.0  # two connect timeouts, not a read timeout
    assert "timed out while sending POST" in str(error)
    assert error.attempts == 2 and sleeps == [0.5]


@pytest.mark.parametrize("action", [drop, reset_before_reply], ids=["closed", "reset"])
def test_connection_dropped_before_any_reply(client, fault, sleeps, action):
    fault.queue(action(), times=3)
    error = fails(llmplug.APIConnectionError, chat, client)
    assert error.attempts == 3 and len(fault.requests) == 3 and sleeps == BACKOFF
    assert error.provider == "openai"


def test_server_that_never_answers(client, fault, sleeps):
    fault.queue(stall(), times=3)
    started = time.monotonic()
    error = fails(llmplug.APITimeoutError, chat, client)
    assert "timed out while waiting for the response to POST http://127.0.0.1:" in str(error)  # not "sending"
    assert error.attempts == 3 and len(fault.requests) == 3 and sleeps == BACKOFF
    assert time.monotonic() - started < 2.5  # three read timeouts of 0.3 s, no real sleeping


@pytest.mark.parametrize("then", ["reset", "close"])
def test_body_cut_short_is_retried_because_nothing_reached_the_caller(client, fault, sleeps, then):
    fault.queue(partial_body(CHAT_BYTES, 20, then=then), times=2)
    fault.queue(respond(json_body=CHAT))
    status, body, _ = chat(client)
    assert (status, body.choices[0].message.content) == (200, "Hello")
    assert len(fault.requests) == 3 and sleeps == BACKOFF


@pytest.mark.parametrize("then", ["reset", "close"])
def test_body_cut_short_every_time(client, fault, sleeps, then):
    fault.queue(partial_body(CHAT_BYTES, 20, then=then), times=3)
    error = fails(llmplug.APIConnectionError, chat, client)
    assert "while reading the response body of POST" in str(error)
    assert error.attempts == 3 and sleeps == BACKOFF


def test_body_that_stalls(make_client, fault, sleeps):
    client = make_client(fault.base_url, max_retries=1)
    fault.queue(partial_body(CHAT_BYTES, 20, then="stall"), times=2)
    error = fails(llmplug.APITimeoutError, chat, client)
    assert "timed out while reading the response body of POST" in str(error)
    assert error.attempts == 2 and sleeps == [0.5]


# -- error pages: typed status errors that keep what the server said ------------------------------


def test_html_error_page(client, fault, sleeps):
    page = respond(502, HTML_PAGE, content_type="text/html", headers={"x-request-id": "req_html"})
    fault.queue(page, times=3)
    error = fails(llmplug.InternalServerError, chat, client)
    assert (error.status_code, error.body, error.request_id) == (502, HTML_PAGE, "req_html")
    assert "502 Bad Gateway" in str(error) and "req_html" in str(error)
    assert error.attempts == 3 and sleeps == BACKOFF


def test_plain_text_error_page(client, fault, sleeps):
    fault.queue(respond(400, "upstream said no\n", headers={"x-request-id": "req_txt"}))
    error = fails(llmplug.BadRequestError, chat, client)
    assert (error.status_code, error.body, error.request_id) == (400, "upstream said no\n", "req_txt")
    assert str(error) == "openai: 400 upstream said no (request id req_txt)"
    assert error.attempts == 1 and sleeps == []


def test_error_page_with_invalid_utf8_keeps_the_text(client, fault):
    fault.queue(respond(404, b"not \xff found"))
    error = fails(llmplug.NotFoundError, chat, client)
    assert error.body == "not \ufffd found" and error.status_code == 404


def test_error_body_cut_short_is_retried(client, fault, sleeps):
    cut = b'{"error": {"message": "overloaded"}}'
    fault.queue(lambda conn, seen: (conn.head(503, {"Content-Length": "500"}), conn.send(cut), conn.reset()))
    fault.queue(respond(json_body=CHAT))
    assert chat(client).status == 200
    assert len(fault.requests) == 2 and sleeps == [0.5]


# -- a 200 that is not what was promised: never a silent partial result --------------------------


def test_200_that_is_not_json(client, fault, sleeps):
    fault.queue(respond(200, "<html>maintenance</html>", content_type="text/html"))
    error = fails(llmplug.APIResponseValidationError, chat, client)
    assert (error.status_code, error.body) == (200, "<html>maintenance</html>")
    assert "is not JSON (text/html)" in str(error)
    assert error.attempts == 1 and sleeps == []


def test_200_that_is_not_utf8(client, fault):
    fault.queue(respond(200, b'{"id": "\xff\xfe"}', content_type="application/json"))
    error = fails(llmplug.APIResponseValidationError, chat, client)
    assert "is not valid UTF-8" in str(error) and error.body == '{"id": "\ufffd\ufffd"}'


@pytest.mark.parametrize(
    "payload",
    [{"id": "x", "choices": "not-a-list", "created": "yesterday"}, [1, 2, 3], "just a string", 42],
    ids=["wrong-types", "list", "string", "number"],
)
def test_200_json_of_an_unexpected_shape_is_kept_raw(client, fault, payload):
    fault.queue(respond(json_body=payload))
    status, body, _ = chat(client)
    assert status == 200 and body.raw == payload


def test_200_with_raise_for_status_off_returns_the_text(make_client, fault):
    client = make_client(fault.base_url, raise_for_status=False)
    fault.queue(respond(200, "not json"))
    status, body, _ = chat(client)
    assert (status, body) == (200, "not json")


# -- the total timeout bounds the body, not only the wait for the headers --------------------------


def test_total_timeout_bounds_a_body_that_trickles(make_client, fault, sleeps):
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=0.3, total=0.5))
    fault.queue(trickle((bytes([b]) for b in CHAT_BYTES), 0.05, content_type="application/json"))
    started = time.monotonic()
    error = fails(llmplug.APITimeoutError, chat, client)
    assert time.monotonic() - started < 1.0
    assert "total timeout of 0.5s reached" in str(error)
    assert error.attempts == 1 and sleeps == []  # no time left for a retry


def test_a_number_as_timeout_is_per_attempt_and_retried(make_client, fault, sleeps):
    """``timeout=0.4``: the first attempt stalls past it, the retry gets the answer."""
    client = make_client(fault.base_url, timeout=0.4, max_retries=1)
    fault.queue(stall())
    fault.queue(respond(200, CHAT_BYTES))
    started = time.monotonic()
    assert chat(client).body.choices[0].message.content == "Hello"
    assert len(fault.requests) == 2 and sleeps == [0.5]
    assert 0.35 < time.monotonic() - started < 2.0  # one read timeout of 0.4 s, no real backoff


def test_total_deadline_ends_a_body_that_drips_one_byte_every_200ms(make_client, fault, sleeps):
    """Every read gets a byte long before the read timeout: only ``total`` stops it."""
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=5, total=1.0))
    head = {"Content-Type": "application/json", "Content-Length": str(len(CHAT_BYTES))}
    fault.queue(drip(head, CHAT_BYTES, 0.2))
    started = time.monotonic()
    error = fails(llmplug.APITimeoutError, chat, client)
    assert 0.9 < time.monotonic() - started < 1.6
    assert "total timeout of 1.0s reached while reading the response body" in str(error)
    assert len(fault.requests) == 1 and sleeps == []


def test_total_deadline_ends_a_head_that_drips_one_byte_every_200ms(make_client, fault, sleeps):
    """Even the status line and headers trickling in cannot hold the call past ``total``."""
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=5, total=1.0))
    head = {"Content-Type": "application/json", "Content-Length": str(len(CHAT_BYTES))}
    fault.queue(drip(head, CHAT_BYTES, 0.2, from_head=True))
    started = time.monotonic()
    error = fails(llmplug.APITimeoutError, chat, client)
    assert 0.9 < time.monotonic() - started < 1.6
    assert "total timeout of 1.0s reached while waiting for the response to POST" in str(error)
    assert error.attempts == 1 and len(fault.requests) == 1 and sleeps == []


def test_total_deadline_is_kept_within_one_read(make_client, fault, sleeps):
    """A body that goes silent just before the deadline ends at the deadline, not
    after a whole read timeout (read=5)."""
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=5, total=0.6))
    fault.queue(partial_body(CHAT_BYTES, 10, then="stall"))
    started = time.monotonic()
    error = fails(llmplug.APITimeoutError, chat, client)
    assert time.monotonic() - started < 1.2
    assert "total timeout of 0.6s reached while reading the response body" in str(error)


def test_a_call_with_a_deadline_leaves_no_thread_behind(make_client, fault):
    client = make_client(fault.base_url, timeout=llmplug.Timeout(total=5))
    fault.queue(respond(200, CHAT_BYTES), times=3)
    for _ in range(3):
        assert chat(client).body.choices[0].message.content == "Hello"
    deadline = time.monotonic() + 2
    while any(t.name == "llmplug-deadline" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not [t for t in threading.enumerate() if t.name == "llmplug-deadline"]


def test_total_timeout_ends_retries(make_client, fault, sleeps):
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=0.3, total=0.4), max_retries=5)
    fault.queue(stall(), times=5)
    error = fails(llmplug.APITimeoutError, chat, client)
    assert str(error).startswith("total timeout of 0.4s reached after 1 attempt(s)")
    assert error.attempts == 1 and len(fault.requests) == 1 and sleeps == []
    assert isinstance(error.__cause__, llmplug.APITimeoutError)  # the read timeout that came first


def test_per_call_timeout_overrides_the_client(make_client, fault, sleeps):
    client = make_client(fault.base_url, timeout=llmplug.Timeout(connect=1, read=5, total=10), max_retries=0)
    fault.queue(stall())
    started = time.monotonic()
    fails(llmplug.APITimeoutError, client.create_chat_completion, USER, timeout=llmplug.Timeout(read=0.2))
    assert time.monotonic() - started < 1.0
