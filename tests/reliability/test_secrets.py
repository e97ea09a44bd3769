"""Secrets: the sentinel key never shows in a repr, str, message, argument,
chained cause or (debug) log line, on any path; TLS is verified unless the
user turns it off. Every test in this directory also runs the log check
(``conftest.debug_log``) and every expected error goes through
``support.fails``, which checks the error and its causes."""

from __future__ import annotations

import logging
import pickle

import pytest

import llmplug
from llmplug.core.values import Secret
from tests.conftest import TEST_KEY
from tests.reliability.faultserver import Conn, FaultServer, Seen, drop, partial_body, refused_url, respond, sse, stall
from tests.reliability.support import CHAT, CHAT_BYTES, HELLO, USER, chunk, fails

#: name: (action, error raised) -- one of each way a call can fail.
PATHS = {
    "refused": (None, llmplug.APIConnectionError),
    "dropped": (drop, llmplug.APIConnectionError),
    "stalled": (stall, llmplug.APITimeoutError),
    "cut-body": (lambda: partial_body(CHAT_BYTES, 10, then="reset"), llmplug.APIConnectionError),
    "401": (lambda: respond(401, json_body={"error": {"message": "bad key"}}), llmplug.AuthenticationError),
    "500-html": (lambda: respond(500, "<h1>oops</h1>", content_type="text/html"), llmplug.InternalServerError),
    "not-json": (lambda: respond(200, "nope"), llmplug.APIResponseValidationError),
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_no_key_on_any_error_path(make_client, fault, debug_log, path, stream):
    action, expected = PATHS[path]
    base_url = refused_url() if action is None else fault.base_url
    if action is not None:
        fault.queue(action(), times=2)
    client = make_client(base_url, max_retries=1)
    error = fails(expected, client.create_chat_completion, USER, stream=stream)
    assert error.attempts == (1 if path in ("401", "not-json") else 2)
    if action is not None:
        assert fault.requests[0].headers["authorization"] == f"Bearer {TEST_KEY}"  # it was sent, and only there
    assert any(r.levelno == logging.DEBUG and "[REDACTED]" in r.getMessage() for r in debug_log.records)


def echo_key(conn: Conn, seen: Seen) -> None:
    """A careless server (or proxy) that quotes the credentials it got."""
    respond(401, json_body={"error": {"message": f"Incorrect API key provided: {seen.headers['authorization']}"}})(conn, seen)


def test_a_server_that_echoes_the_key_does_not_leak_it(client, fault):
    fault.queue(echo_key)
    error = fails(llmplug.AuthenticationError, client.models)
    assert str(error) == "openai: 401 Incorrect API key provided: Bearer [REDACTED]"


def test_a_stream_error_event_that_echoes_the_key_does_not_leak_it(client, fault):
    fault.queue(sse([chunk("Hel"), {"error": {"message": f"bad key {TEST_KEY}"}}]))

    def run() -> None:
        with client.create_chat_completion(USER, stream=True) as stream:
            list(stream)

    error = fails(llmplug.StreamError, run)
    assert "bad key [REDACTED]" in str(error) and error.received == "Hel"


def test_reprs_show_no_key(client, fault):
    fault.queue(respond(json_body=CHAT))
    fault.queue(sse([*HELLO, chunk("", "stop")]))
    result = client.create_chat_completion(USER)
    stream = client.create_chat_completion(USER, stream=True)
    request = stream.response.request
    assert request.headers["Authorization"] == f"Bearer {TEST_KEY}"  # the real request carries it...
    shown = [client, client.dispatcher, client.transport, result, stream, request, request.headers, stream.response]
    for obj in shown:  # ...but nothing shows it
        assert TEST_KEY not in repr(obj) and TEST_KEY not in str(obj), type(obj).__name__
    assert "[REDACTED]" in repr(request)
    stream.close()


def test_secret_cannot_be_shown_or_pickled():
    secret = Secret(TEST_KEY)
    assert secret.reveal() == TEST_KEY and TEST_KEY not in f"{secret} {secret!r}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)


# -- TLS -------------------------------------------------------------------------------------


def test_tls_is_verified_by_default(make_client, tls_context, sleeps):
    with FaultServer(tls=tls_context) as server:
        server.queue(respond(json_body=CHAT), times=3)
        client = make_client(server.base_url)
        error = fails(llmplug.APIConnectionError, client.create_chat_completion, USER)
        assert "certificate verify failed" in str(error).lower()
        assert server.requests == []  # the request (and its key) never left
        assert error.attempts == 1 and sleeps == []  # the same certificate would fail again


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_tls_verification_can_be_turned_off_explicitly(make_client, tls_context):
    with FaultServer(tls=tls_context) as server:
        server.queue(respond(json_body=CHAT))
        client = make_client(server.base_url, verify=False)
        assert client.create_chat_completion(USER).body.choices[0].message.content == "Hello"
        assert server.requests[0].headers["authorization"] == f"Bearer {TEST_KEY}"


def test_key_in_a_request_query_leaves_no_trace_in_the_exception_chain(transport):
    """Nothing reachable from the error (cause, context, a backend request object) quotes the key."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = llmplug.new("gemini", api_key=TEST_KEY, base_url=f"http://127.0.0.1:{port}/v1beta", transport=transport, max_retries=0)
    with pytest.raises(llmplug.APIConnectionError) as info:
        client.request("GET", "/models", query={"key": TEST_KEY})
    seen, current = [], info.value
    while current is not None:
        seen.append(f"{current!s} {current!r} {current.args!r}")
        current = current.__cause__ or current.__context__
    assert all(TEST_KEY not in text for text in seen)
