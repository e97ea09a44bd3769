"""Redirects, through every transport: followed by dispatch (never by the HTTP
library), with credentials dropped as soon as the target is another origin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import llmplug
from llmplug.core.http import Headers, Request, Response, BytesStream
from llmplug.core.redirects import redirect_request
from tests.conftest import TEST_KEY
from tests.reliability.faultserver import FaultServer, redirect, respond
from tests.reliability.support import CHAT, USER, fails

SECRETS = {"x-api-key": TEST_KEY, "x-goog-api-key": TEST_KEY, "cookie": f"session={TEST_KEY}"}


@pytest.fixture
def other() -> Iterator[FaultServer]:
    """A second server: same host, another port, so another origin."""
    with FaultServer() as server:
        yield server


def chat_with_secrets(client: llmplug.Client) -> llmplug.ApiResult:
    return client.create_chat_completion(USER, extra_headers={**SECRETS, "X-Trace": "t-1"})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_cross_origin_redirect_drops_credentials(client, fault, other, status):
    fault.queue(redirect(f"{other.base_url}/chat/completions", status))
    other.queue(respond(json_body=CHAT))
    status_code, body, _ = chat_with_secrets(client)
    assert status_code == 200 and body.choices[0].message.content == "Hello"
    [first], [second] = fault.requests, other.requests
    assert first.headers["authorization"] == f"Bearer {TEST_KEY}" and first.headers["x-api-key"] == TEST_KEY
    assert not {"authorization", *SECRETS} & set(second.headers)
    assert TEST_KEY not in repr(second.headers)
    assert second.headers["x-trace"] == "t-1" and second.headers["user-agent"].startswith("llmplug/")
    if status in (307, 308):  # method and body repeated
        assert (second.method, second.json()) == ("POST", first.json())
    else:  # a POST becomes a body-less GET
        assert (second.method, second.body) == ("GET", b"")
        assert "content-type" not in second.headers


def test_same_origin_redirect_keeps_credentials(client, fault):
    fault.queue(redirect("/v1/elsewhere", 307))
    fault.queue(respond(json_body=CHAT))
    assert chat_with_secrets(client).status == 200
    first, second = fault.requests
    assert second.path == "/v1/elsewhere" and second.method == "POST"
    assert second.headers["authorization"] == f"Bearer {TEST_KEY}" and second.headers["x-api-key"] == TEST_KEY


def test_redirect_chain_that_comes_back_stays_stripped(client, fault, other):
    """A -> B -> A: once the credentials were dropped they are not put back."""
    fault.queue(redirect(f"{other.base_url}/hop", 307))
    other.queue(redirect(f"{fault.base_url}/chat/completions", 307))
    fault.queue(respond(json_body=CHAT))
    assert client.create_chat_completion(USER).status == 200
    assert "authorization" in fault.requests[0].headers
    assert "authorization" not in other.requests[0].headers and "authorization" not in fault.requests[1].headers


def test_redirect_loop_ends_with_the_redirect_as_an_error(client, fault, sleeps):
    fault.queue(redirect("/v1/chat/completions", 307), times=10)
    error = fails(llmplug.APIStatusError, client.create_chat_completion, USER)
    assert error.status_code == 307 and error.attempts == 1
    assert len(fault.requests) == 6 and sleeps == []  # the first request and 5 redirects


def test_redirect_to_a_server_that_is_down_is_a_connection_error(client, fault, sleeps):
    from tests.reliability.faultserver import refused_url

    fault.queue(redirect(f"{refused_url()}/chat/completions", 307), times=3)
    error = fails(llmplug.APIConnectionError, client.create_chat_completion, USER)
    assert error.attempts == 3 and len(fault.requests) == 3


@pytest.mark.parametrize(
    ("start", "target", "kept"),
    [
        ("https://api.example.com/v1/x", "https://api.example.com/v1/y", True),
        ("https://api.example.com/v1/x", "https://api.example.com:443/v1/y", True),
        ("https://api.example.com/v1/x", "http://api.example.com/v1/y", False),  # downgrade
        ("https://api.example.com/v1/x", "https://API.example.com/v1/y", True),  # host case
        ("https://api.example.com/v1/x", "https://evil.example.com/v1/y", False),
        ("https://api.example.com/v1/x", "https://api.example.com:8443/v1/y", False),
        ("http://127.0.0.1:8000/v1/x", "http://localhost:8000/v1/y", False),
    ],
)
def test_redirect_request_origin_rule(start, target, kept):
    request = Request("POST", start, headers={"Authorization": "Bearer k", "Api-Key": "k", "X-Other": "1"}, content=b"{}")
    response = Response(307, Headers({"Location": target}), BytesStream(), request)
    follow = redirect_request(request, response)
    assert follow is not None and follow.url == target and follow.headers["x-other"] == "1"
    assert ("authorization" in follow.headers) is kept and ("api-key" in follow.headers) is kept
    assert "authorization" in request.headers  # the original request is not changed
