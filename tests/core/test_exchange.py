"""The exchange decides a call without I/O: these tests hand it responses made
in memory and check each step it asks for (no sockets, no sleeping)."""

from __future__ import annotations

import json
from typing import Any

import pytest

import llmplug
from llmplug.core.convert import structure
from llmplug.core.errors import APIConnectionError, APIResponseValidationError, APITimeoutError, StreamError
from llmplug.core.exchange import USER_AGENT, ApiResult, Done, Exchange, Fail, OpenStream, Pages, ReadBody, Send, Settings, Wait
from llmplug.core.http import BytesStream, Headers, Response, Timeout
from llmplug.core.models import ModelList
from llmplug.core.plugins import PluginManager
from llmplug.core.retry import RetryPolicy
from llmplug.core.values import Secret

KEY = "sk-exchange-test-key"
CHAT = {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}]}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def settings(**options: Any) -> Settings:
    plugins = options.pop("plugins", None) or PluginManager(entry_points=False).load()
    provider = plugins.provider("openai")
    provider = llmplug.ProviderSpec(**{**{f: getattr(provider, f) for f in (
        "name", "family", "api_key_env", "default_model", "defaults", "options", "user_options")},
        "base_url": "https://api.test/v1"})
    return Settings(plugins=plugins, provider=provider, api_key=Secret(KEY), timeout=Timeout(),
                    retry=RetryPolicy(random=lambda: 0.0), headers=Headers({"User-Agent": USER_AGENT}), **options)


def exchange(params: dict[str, Any] | None = None, *, limits: Timeout = Timeout(), max_retries: int = 2,
             clock: Clock | None = None, streams_out: bool = False, **options: Any) -> Exchange:
    return Exchange(settings(**options), "chat.create", params or {"messages": []}, limits=limits,
                    max_retries=max_retries, clock=clock or Clock(), streams_out=streams_out)


def reply(step: Send, status: int, body: bytes = b"", **headers: str) -> Response:
    head = Headers({"content-type": "application/json", **{k.replace("_", "-"): v for k, v in headers.items()}})
    return Response(status, head, BytesStream(body), step.request)


def read(ex: Exchange, step: Any) -> Any:
    """What the driver does for a ReadBody step."""
    assert isinstance(step, ReadBody)
    return ex.on_body(step.response, step.response.read())


def test_the_first_request_is_mapped_authenticated_and_bounded() -> None:
    step = exchange({"messages": [{"role": "user", "content": "hi"}]}).start()
    assert isinstance(step, Send)
    request = step.request
    assert (request.method, request.url) == ("POST", "https://api.test/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {KEY}" and request.headers["user-agent"] == "llmplug/0.1"
    assert json.loads(request.content)["model"] == "gpt-4.1" and request.timeout == Timeout()


def test_a_success_is_decoded_into_the_result() -> None:
    ex = exchange()
    step = ex.on_response(reply(ex.start(), 200, json.dumps(CHAT).encode(), x_request_id="req_1"))
    done = read(ex, step)
    assert isinstance(done, Done) and done.result.body.choices[0].message.content == "Hi"
    assert done.result.request_id == "req_1"


def test_5xx_is_retried_with_backoff_then_given_up() -> None:
    ex = exchange()
    steps = []
    step = ex.start()
    for _ in range(3):
        wait = read(ex, ex.on_response(reply(step, 503, b'{"error": {"message": "busy"}}')))
        steps.append(wait)
        if isinstance(wait, Wait):
            step = ex.resend()
    assert [type(s) for s in steps] == [Wait, Wait, Fail]
    assert [s.seconds for s in steps[:2]] == [0.5, 1.0]
    error = steps[2].error
    assert isinstance(error, llmplug.InternalServerError) and error.attempts == 3 and "busy" in str(error)


def test_retry_after_is_honoured_and_a_hint_past_max_wait_is_not_slept() -> None:
    ex = exchange()
    assert read(ex, ex.on_response(reply(ex.start(), 429, b"{}", retry_after="2"))) == Wait(2.0)
    ex = exchange()
    step = read(ex, ex.on_response(reply(ex.start(), 429, b"{}", retry_after="3600")))
    assert isinstance(step, Fail) and "more than max_wait" in str(step.error)


def test_connection_errors_retry_and_a_broken_stream_only_before_its_first_event() -> None:
    ex = exchange()
    ex.start()
    assert isinstance(ex.on_error(APIConnectionError("reset")), Wait)
    early = StreamError("stream broke after 0 events")
    early.retryable = True
    assert isinstance(ex.on_error(early), Wait)
    late = StreamError("stream broke after 2 events")
    assert isinstance(ex.on_error(late), Fail)


@pytest.mark.parametrize(("target", "keeps_key"), [("https://api.test/v2/x", True), ("https://other.test/x", False)])
def test_redirects_are_followed_with_credentials_only_on_the_same_origin(target: str, keeps_key: bool) -> None:
    ex = exchange()
    first = ex.start()
    response = reply(first, 307, location=target)
    step = ex.on_response(response)
    assert isinstance(step, Send) and step.discard is response and step.request.url == target
    assert ("authorization" in step.request.headers) is keeps_key


def test_a_redirect_loop_ends_as_a_status_error() -> None:
    ex = exchange()
    step = ex.start()
    for _ in range(5):
        step = ex.on_response(reply(step, 302, location="https://api.test/v1/loop"))
        assert isinstance(step, Send)
    failed = read(ex, ex.on_response(reply(step, 302, location="https://api.test/v1/loop")))
    assert isinstance(failed, Fail) and failed.error.status_code == 302


def test_a_wait_that_would_cross_the_deadline_fails_now() -> None:
    clock = Clock()
    ex = exchange(limits=Timeout(total=1.0), clock=clock)
    step = ex.start()
    assert step.request.timeout.read == 1.0 and step.request.timeout.connect == 1.0  # capped by what is left
    clock.now += 0.8
    failed = ex.on_error(APITimeoutError("timed out"))
    assert isinstance(failed, Fail) and str(failed.error).startswith("total timeout of 1.0s reached after 1 attempt(s)")
    assert isinstance(failed.error.__cause__, APITimeoutError)


def test_without_raise_for_status_an_error_status_is_a_result_unless_a_stream_was_handed_out() -> None:
    ex = exchange(raise_for_status=False, max_retries=0)
    done = read(ex, ex.on_response(reply(ex.start(), 400, b'{"error": {"message": "bad"}}')))
    assert isinstance(done, Done) and done.result.status == 400 and done.result.body["error"]["message"] == "bad"
    ex = exchange({"messages": [], "stream": True}, raise_for_status=False, max_retries=0, streams_out=True)
    assert isinstance(read(ex, ex.on_response(reply(ex.start(), 400, b"{}"))), Fail)


def test_a_stream_opens_only_on_an_event_stream() -> None:
    ex = exchange({"messages": [], "stream": True})
    step = ex.start()
    events = Response(200, Headers({"content-type": "text/event-stream"}), BytesStream(b""), step.request)
    assert ex.on_response(events) == OpenStream(events)
    page = Response(200, Headers({"content-type": "text/html"}), BytesStream(b"<html>"), step.request)
    failed = read(ex, ex.on_response(page))
    assert isinstance(failed, Fail) and isinstance(failed.error, APIResponseValidationError)


def test_the_key_is_scrubbed_from_every_error() -> None:
    ex = exchange(max_retries=0)
    failed = read(ex, ex.on_response(reply(ex.start(), 401, json.dumps({"error": {"message": f"bad key {KEY}"}}).encode())))
    assert KEY not in str(failed.error) and "[REDACTED]" in str(failed.error)


def test_pages_follow_the_next_page_hook_and_merge() -> None:
    class Paged:
        @llmplug.hookimpl
        def llmplug_next_page(self, provider: Any, operation: str, params: dict[str, Any], result: Any) -> Any:
            after = result.raw.get("next")
            return {**params, "after": after} if after else None

    plugins = PluginManager(entry_points=False)
    plugins.register(Paged(), name="paged")
    pages = Pages(settings(plugins=plugins.load()), "models.list", {})

    def page(ids: list[str], after: str | None) -> ApiResult:
        body = structure({"object": "list", "data": [{"id": i} for i in ids], "next": after}, ModelList)
        return ApiResult(200, body, Headers())

    first = page(["a"], "a")
    assert pages.following(first) == {"after": "a"}
    second = page(["b"], None)
    pages.merge(first, second)
    assert pages.following(second) is None
    result = pages.result(first)
    assert [m.id for m in result.body.data] == ["a", "b"] and result.body.raw["next_pages"][0]["data"][0]["id"] == "b"


def test_a_model_given_as_none_gets_the_operations_own_default() -> None:
    ex = Exchange(settings(), "embeddings.create", {"input": "x", "model": None}, limits=Timeout(), max_retries=0)
    assert ex.params["model"] == "text-embedding-3-small"  # the embeddings default, not the chat model
    ex = Exchange(settings(), "chat.create", {"messages": [], "model": None}, limits=Timeout(), max_retries=0)
    assert ex.params["model"] == "gpt-4.1"
