"""Bad input is refused before anything is sent, the same way on every transport."""

from __future__ import annotations

import pytest

import llmplug
from llmplug.core.retry import RetryPolicy
from tests.conftest import TEST_KEY

USER = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("key", [TEST_KEY + "\n", " " + TEST_KEY, TEST_KEY + "\x00", "sk-ключ-" + TEST_KEY])
def test_malformed_key_is_refused_without_showing_it(key):
    with pytest.raises(llmplug.ConfigurationError) as info:
        llmplug.new("openai", api_key=key)
    assert "no trailing newline" in str(info.value)
    assert TEST_KEY not in str(info.value) and TEST_KEY not in repr(info.value.args)


def test_key_must_be_a_string():
    with pytest.raises(TypeError, match="api_key must be a string"):
        llmplug.new("openai", api_key=12345)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("127.0.0.1:8080/v1", "must be an http:// or https:// URL"),
        ("ftp://host/v1", "must be an http:// or https:// URL"),
        ("http://", "must be an http:// or https:// URL"),
        ("http://h/v1?api-version=1", "must not carry a query string"),
        ("http://h/v1#x", "must not carry a query string"),
    ],
)
def test_bad_base_url(url, message):
    with pytest.raises(llmplug.ConfigurationError, match=message):
        llmplug.new("openai", api_key="k", base_url=url)


def test_base_url_is_normalised(api, transport):
    url = "  HTTP://" + api.base_url.split("://", 1)[1] + "/  "
    with llmplug.new("openai", api_key="k", base_url=url, transport=transport) as client:
        assert client.base_url == api.base_url
        assert client.models().status == 200


def test_repr_hides_url_secrets():
    client = llmplug.new("openai-compatible", base_url="http://user:hunter2@h/v1")
    assert "hunter2" not in repr(client) and "[REDACTED]" in repr(client)


def test_closed_client_refuses_calls(api, transport):
    client = llmplug.new("openai", api_key="k", base_url=api.base_url, transport=transport)
    client.close()
    with pytest.raises(llmplug.ConfigurationError, match="this client is closed"):
        client.models()
    assert api.requests == []


def test_callback_with_stream_false_is_a_contradiction(client, api):
    with pytest.raises(TypeError, match="stream=False"):
        client.create_chat_completion(USER, chunk_callback=print, stream=False)
    assert api.requests == []


@pytest.mark.parametrize(
    ("value", "error"),
    [("café ☃", llmplug.ConfigurationError), ("a\r\nInjected: 1", llmplug.ConfigurationError), (5, llmplug.ConfigurationError), (None, llmplug.ConfigurationError)],
)
def test_bad_header_values_are_refused_before_sending(client, api, value, error):
    with pytest.raises(error, match="header 'X-Title'"):
        client.models(extra_headers={"X-Title": value})
    assert api.requests == []


def test_auth_plugin_setting_a_bad_key_is_refused(api, transport):
    class BadAuth:
        @llmplug.hookimpl(tryfirst=True)
        def llmplug_authenticate(self, provider, request, api_key):
            request.headers["x-api-key"] = "secret\nvalue"
            return request

    pm = llmplug.PluginManager(entry_points=False)
    pm.register(BadAuth(), name="bad-auth")
    client = llmplug.new("openai", api_key="k", base_url=api.base_url, transport=transport, plugins=pm)
    with pytest.raises(llmplug.ConfigurationError, match="the API key holds") as info:
        client.models()
    assert "secret" not in str(info.value)
    assert api.requests == []


def test_timeout_none_per_call_means_no_limit(client, api):
    seen = []

    class Spy:
        @llmplug.hookimpl(wrapper=True)
        def llmplug_authenticate(self, provider, request, api_key):
            result = yield
            seen.append(request.timeout)
            return result

    client.plugins.register(Spy(), name="timeout-spy")
    try:
        client.models(timeout=None)
        client.models()
    finally:
        client.plugins.unregister(name="timeout-spy")
    assert seen[0] == llmplug.Timeout(connect=None, read=None, total=None)
    assert seen[1] == llmplug.Timeout()  # the defaults: 5 s connect, 600 s read, no deadline


def test_stream_error_status_raises_even_without_raise_for_status(api, transport):
    with llmplug.new("openai", api_key="k", base_url=api.base_url, transport=transport, raise_for_status=False, max_retries=0) as c:
        api.queue("POST", "/v1/chat/completions", status=429, json={"error": {"message": "slow down"}})
        with pytest.raises(llmplug.RateLimitError, match="slow down"):
            c.create_chat_completion(USER, stream=True)
        api.queue("POST", "/v1/chat/completions", status=429, json={"error": {"message": "slow down"}})
        status, body, _ = c.create_chat_completion(USER, stream=True, chunk_callback=lambda e: None)
    assert status == 429 and body == {"error": {"message": "slow down"}}


@pytest.mark.parametrize("hint", [{"retry-after": "nan"}, {"retry-after": "inf"}, {"retry-after-ms": "NaN"}])
def test_non_finite_retry_hints_are_ignored(api, transport, hint):
    sleeps: list[float] = []
    policy = RetryPolicy(sleep=sleeps.append, random=lambda: 0.0)
    with llmplug.new("openai", api_key="k", base_url=api.base_url, transport=transport, retry=policy) as c:
        api.queue("GET", "/v1/models", status=429, headers=hint)
        assert c.models().status == 200
    assert sleeps == [0.5]


def test_misspelt_option_is_refused_with_a_suggestion():
    with pytest.raises(llmplug.ConfigurationError) as info:
        llmplug.new("openai", api_key="k", timout=5)
    assert str(info.value) == (
        "unknown option 'timout' for provider 'openai'; did you mean 'timeout'? (its extra options: organization, project)"
    )
    with pytest.raises(llmplug.ConfigurationError, match="its extra options: none"):
        llmplug.new("gemini", api_key="k", organization="o")


def test_openai_organization_and_project_headers(api, transport, monkeypatch):
    with llmplug.new("openai", api_key="k", base_url=api.base_url, transport=transport, organization="org-1", project="proj-1") as c:
        c.models()
    assert api.last_request.headers.get("OpenAI-Organization") == "org-1"
    assert api.last_request.headers.get("OpenAI-Project") == "proj-1"
    monkeypatch.setenv("OPENAI_ORG_ID", "org-env")
    with llmplug.new("openai", api_key="k", base_url=api.base_url, transport=transport) as c:
        monkeypatch.setenv("OPENAI_ORG_ID", "org-later")  # read when the client was made, as openai-python does
        c.models()
    assert api.last_request.headers.get("OpenAI-Organization") == "org-env"
    assert "OpenAI-Project" not in api.last_request.headers
    with llmplug.new("openrouter", api_key="k", base_url=api.base_url, transport=transport) as c:
        c.models()
    assert "OpenAI-Organization" not in api.last_request.headers  # OpenAI's variables are OpenAI's own


def test_placeholder_key_does_not_garble_error_messages(api, transport):
    with llmplug.new("openai-compatible", api_key="x", base_url=api.base_url, transport=transport, default_model="m", max_retries=0) as c:
        api.queue("POST", "/v1/chat/completions", status=400, json={"error": {"message": "max_tokens exceeds context"}})
        with pytest.raises(llmplug.BadRequestError) as info:
            c.create_chat_completion(USER)
    assert "max_tokens exceeds context" in str(info.value)


def test_id_methods_take_the_id_by_position_or_name(client, api):
    created = client.upload_file(b"{}\n", "batch", filename="x.jsonl").body
    assert client.file(created.id).body.id == created.id
    assert client.file(file_id=created.id).body.id == created.id
    with pytest.raises(TypeError, match="file\\(\\) got two values for 'file_id'"):
        client.file(created.id, file_id=created.id)
    with pytest.raises(llmplug.ConfigurationError, match="delete_file\\(\\) needs a file id"):
        client.delete_file("")
    with pytest.raises(llmplug.ConfigurationError, match="model\\(\\) needs a model id"):
        client.model()
    assert api.requests[-1].path.endswith(f"/files/{created.id}")
