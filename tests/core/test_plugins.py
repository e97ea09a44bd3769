"""The plugin manager and every hook: registration, lookups, wrappers, failures."""

from __future__ import annotations

import pytest

import llmplug
from llmplug.core.http import Headers, Request, Response, BytesStream, Transport
from llmplug.core.plugins import PluginManager
from llmplug.core.specs import ProviderSpec, TransportSpec
from tests.conftest import TEST_KEY

USER = [{"role": "user", "content": "hi"}]


def test_builtin_names():
    assert {"openai", "openrouter", "openai-compatible", "gemini-openai"} <= set(llmplug.providers())
    assert {"httpx", "requests", "urllib"} <= set(llmplug.transports())
    import importlib

    importlib.import_module("llmplug.providers")  # the subpackage import must not break the listing
    importlib.import_module("llmplug.transports")
    assert "openai" in llmplug.providers()
    assert "urllib" in llmplug.transports()


def test_unknown_provider_lists_names():
    with pytest.raises(llmplug.UnknownProviderError) as info:
        llmplug.new("opnai", api_key="k")
    assert isinstance(info.value, ValueError)
    assert "unknown provider 'opnai'" in str(info.value)
    assert "openai" in str(info.value) and "openrouter" in str(info.value)


def test_unknown_transport_lists_names():
    with pytest.raises(llmplug.UnknownTransportError) as info:
        llmplug.new("openai", api_key="k", transport="curl")
    assert "unknown transport 'curl'; available: aiohttp, httpx, httpx2, requests, urllib" in str(info.value)


def test_missing_key_names_the_variable():
    with pytest.raises(llmplug.MissingAPIKeyError) as info:
        llmplug.new("openai")
    assert "OPENAI_API_KEY" in str(info.value)
    with pytest.raises(llmplug.MissingAPIKeyError, match="OPENROUTER_API_KEY"):
        llmplug.new("openrouter")


def test_key_and_base_url_from_environment(api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", api.base_url)
    client = llmplug.new("openai", transport="urllib")
    client.models()
    assert api.last_request.headers.get("Authorization") == f"Bearer {TEST_KEY}"
    assert TEST_KEY not in repr(client) and TEST_KEY not in repr(vars(client)) and TEST_KEY not in repr(client.dispatcher.__dict__)


def test_compatible_needs_base_url_and_model(api):
    with pytest.raises(llmplug.ConfigurationError, match="base_url"):
        llmplug.new("openai-compatible")
    client = llmplug.new("openai-compatible", base_url=api.base_url, transport="urllib")
    with pytest.raises(llmplug.ConfigurationError, match="model="):
        client.create_chat_completion(USER)
    assert api.requests == []


def test_bad_input_errors_say_what_to_fix(api):
    client = llmplug.new("openai", api_key="k", base_url=api.base_url, transport="urllib")
    with pytest.raises(llmplug.ConfigurationError, match="non-empty list"):
        client.create_chat_completion("hello")
    with pytest.raises(TypeError, match="dict of API parameters"):
        client.create_chat_completion(USER, 42)
    with pytest.raises(llmplug.ConfigurationError, match="http:// or https://"):
        llmplug.new("openai", api_key="k", base_url="127.0.0.1:8080")
    with pytest.raises(llmplug.ConfigurationError, match="max_retries"):
        llmplug.new("openai", api_key="k", max_retries=-1)
    with pytest.raises(ValueError, match="timeout"):
        llmplug.new("openai", api_key="k", timeout=-3)
    with pytest.raises(llmplug.ConfigurationError, match="no such file"):
        client.upload_file("/nonexistent/file.jsonl", "batch")
    assert api.requests == []


def test_default_transport_is_highest_priority_available():
    client = llmplug.new("openai", api_key="k")
    assert client.transport.name == "httpx"


class RecordingTransport(Transport):
    name = "recording"

    def __init__(self, verify: bool = True) -> None:
        self.sent: list[Request] = []

    def send(self, request: Request) -> Response:
        self.sent.append(request)
        body = b'{"object": "list", "data": [{"id": "m1", "object": "model"}]}'
        return Response(200, Headers({"content-type": "application/json"}), BytesStream(body), request)


class RecorderPlugin:
    @llmplug.hookimpl
    def llmplug_register_transports(self, register):
        register(TransportSpec("recording", RecordingTransport, description="records requests"))


def test_register_transport_plugin_and_use_by_name():
    pm = PluginManager(entry_points=False)
    pm.register(RecorderPlugin(), name="recorder")
    client = llmplug.new("openai", api_key=TEST_KEY, transport="recording", plugins=pm)
    status, body, _ = client.models()
    assert status == 200 and body.ids == ["m1"]
    sent = client.transport.sent[0]
    assert sent.url == "https://api.openai.com/v1/models"
    assert sent.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert TEST_KEY not in repr(sent)
    # the default manager is untouched
    assert "recording" not in llmplug.transports()


def test_transport_instance_is_used_as_is():
    transport = RecordingTransport()
    client = llmplug.new("openai", api_key="k", transport=transport, plugins=PluginManager(entry_points=False))
    client.models()
    assert len(transport.sent) == 1 and client.transport is transport
    with pytest.raises(TypeError, match="transport must be a name"):
        llmplug.new("openai", api_key="k", transport=3)


def test_duplicate_provider_name_fails_with_both_plugins():
    class Dup:
        @llmplug.hookimpl
        def llmplug_register_providers(self, register):
            register(ProviderSpec(name="openai", family="openai", base_url="http://x"))

    pm = PluginManager(entry_points=False)
    pm.register(Dup(), name="dup-plugin")
    with pytest.raises(llmplug.PluginError) as info:
        pm.providers()
    assert str(info.value) == (
        "provider name 'openai' is registered twice: by plugin 'llmplug.providers.openai' and by plugin 'dup-plugin'"
    )


def test_misspelt_hook_fails_at_registration():
    class Typo:
        @llmplug.hookimpl
        def llmplug_register_provider(self, register):  # missing "s"
            pass

    pm = PluginManager(entry_points=False)
    with pytest.raises(llmplug.PluginError, match="llmplug_register_provider"):
        pm.register(Typo(), name="typo")
    assert "typo" not in [name for name, _ in pm.pm.list_name_plugin()]


def test_hookwrapper_adds_header_and_auth_override(api):
    class Wrapper:
        @llmplug.hookimpl(wrapper=True)
        def llmplug_build_request(self, provider, operation, params):
            request = yield
            request.headers["X-Trace"] = f"{provider.name}:{operation}"
            return request

        @llmplug.hookimpl(tryfirst=True)
        def llmplug_authenticate(self, provider, request, api_key):
            request.headers["X-Custom-Auth"] = "token-from-plugin"
            return request

    pm = PluginManager(entry_points=False)
    pm.register(Wrapper(), name="wrapper")
    client = llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport="urllib", plugins=pm)
    client.models()
    req = api.last_request
    assert req.headers.get("X-Trace") == "openai:models.list"
    assert req.headers.get("X-Custom-Auth") == "token-from-plugin"
    assert "Authorization" not in req.headers  # the first result won: built-in auth never ran


def test_parse_hooks_can_be_overridden(api):
    class Shout:
        @llmplug.hookimpl(tryfirst=True)
        def llmplug_parse_response(self, provider, operation, data, response):
            return {"shouted": str(data["choices"][0]["message"]["content"]).upper()}

        @llmplug.hookimpl(tryfirst=True)
        def llmplug_parse_error(self, provider, operation, response, body):
            return llmplug.RateLimitError("custom", status_code=response.status_code, body=body, provider="x")

        @llmplug.hookimpl(tryfirst=True)
        def llmplug_stream_parser(self, provider, operation):
            from llmplug.core.streaming import DONE

            return lambda event: DONE if event.data == "[DONE]" else event.data

        @llmplug.hookimpl(tryfirst=True)
        def llmplug_create_transport(self, spec, options):
            transport = spec.factory(**options)
            transport.marked = True
            return transport

    pm = PluginManager(entry_points=False)
    pm.register(Shout(), name="shout")
    client = llmplug.new("openai", api_key="k", base_url=api.base_url, transport="urllib", plugins=pm, max_retries=0)
    assert client.transport.marked is True
    _, body, _ = client.create_chat_completion(USER)
    assert body == {"shouted": "YOU SAID: HI"}
    api.queue("GET", "/v1/models", status=418, json={})
    with pytest.raises(llmplug.RateLimitError, match="custom"):
        client.models()
    with client.create_chat_completion(USER, stream=True) as stream:
        raw = list(stream)
    assert raw and all(isinstance(item, str) for item in raw)


def test_provider_registered_by_plugin_reuses_family(api):
    class Local:
        @llmplug.hookimpl
        def llmplug_register_providers(self, register):
            register(ProviderSpec(name="my-local", family="openai", base_url=api.base_url, requires_key=False, default_model="tiny"))

    pm = PluginManager(entry_points=False)
    pm.register(Local(), name="local")
    assert "my-local" in pm.providers()
    _, body, _ = llmplug.new("my-local", plugins=pm, transport="urllib").create_chat_completion(USER)
    assert body.model == "tiny"


def test_lookup_tables_are_cached():
    pm = PluginManager(entry_points=False)
    assert pm.providers() is pm.providers()
    assert pm.transports() is pm.transports()


def test_next_page_hook_is_followed(api):
    class Cursor:
        @llmplug.hookimpl
        def llmplug_next_page(self, provider, operation, params, result):
            cursor = result.raw.get("next_cursor")
            return {**params, "cursor": cursor} if cursor else None

    pm = PluginManager(entry_points=False)
    pm.register(Cursor(), name="cursor")
    client = llmplug.new("openai", api_key="k", base_url=api.base_url, transport="urllib", plugins=pm)
    page = lambda ids, cursor: {"object": "list", "data": [{"id": i, "object": "model"} for i in ids], "next_cursor": cursor}
    api.queue("GET", "/v1/models", json=page(["a", "b"], "c1"))
    api.queue("GET", "/v1/models", json=page(["c"], "c2"))
    api.queue("GET", "/v1/models", json=page(["d"], None))
    _, body, _ = client.models(limit=2)
    assert body.ids == ["a", "b", "c", "d"]
    assert [r.query for r in api.requests] == [{"limit": ["2"]}, {"limit": ["2"], "cursor": ["c1"]}, {"limit": ["2"], "cursor": ["c2"]}]
    assert [p["next_cursor"] for p in body.raw["next_pages"]] == ["c2", None]


def test_wrapped_stream_parser_keeps_how_the_stream_ends(api):
    import functools

    class Logged:
        @llmplug.hookimpl(wrapper=True)
        def llmplug_stream_parser(self, provider, operation):
            parse = yield

            @functools.wraps(parse)
            def logged(event):
                return parse(event)

            return logged

    pm = PluginManager(entry_points=False)
    pm.register(Logged(), name="logged")
    client = llmplug.new("openai", api_key="k", base_url=api.base_url, transport="urllib", plugins=pm, max_retries=0)
    chunk = {"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": "stop"}]}
    api.queue("POST", "/v1/chat/completions", events=[chunk])  # no [DONE]: cut before the usage chunk
    with pytest.raises(llmplug.StreamError, match="before it was complete"):
        client.create_chat_completion(USER, stream=True, chunk_callback=lambda c: None)


def test_a_family_with_a_key_and_no_authenticate_hook_fails_loudly(api):
    class NoAuth:
        @llmplug.hookimpl
        def llmplug_register_providers(self, register):
            register(ProviderSpec(name="no-auth", family="no-auth", base_url=api.base_url, default_model="m",
                                  requires_key=False))

        @llmplug.hookimpl
        def llmplug_build_request(self, provider, operation, params):
            if provider.family == "no-auth":
                return Request("GET", provider.base_url + "/models")

    pm = PluginManager(entry_points=False)
    pm.register(NoAuth(), name="no-auth")
    with llmplug.new("no-auth", api_key="sk-no-auth-key", plugins=pm, transport="urllib") as client:
        with pytest.raises(llmplug.PluginError, match="no plugin authenticates requests for provider family 'no-auth'"):
            client.models()
    assert api.requests == []  # nothing was sent without the key
    with llmplug.new("no-auth", api_key="", plugins=pm, transport="urllib", raise_for_status=False) as client:
        assert client.models().status == 200  # no key: nothing to put on the request


def test_parse_response_gets_the_params_sent(api):
    seen = []

    class Spy:
        @llmplug.hookimpl(wrapper=True)
        def llmplug_parse_response(self, operation, params):
            seen.append((operation, params.get("model"), params.get("temperature")))
            return (yield)

    pm = PluginManager(entry_points=False)
    pm.register(Spy(), name="spy")
    with llmplug.new("openai", api_key="k", base_url=api.base_url, plugins=pm, transport="urllib") as client:
        client.create_chat_completion(USER, temperature=0.5)
    assert seen == [("chat.create", "gpt-4.1", 0.5)]  # the default model core filled in


def test_a_familys_hooks_are_called_only_for_its_providers(api):
    calls = []

    class Other:  # registers family "other" and guards nothing
        @llmplug.hookimpl
        def llmplug_register_providers(self, register):
            register(ProviderSpec(name="other", family="other", base_url=api.base_url, requires_key=False))

        @llmplug.hookimpl(tryfirst=True)
        def llmplug_build_request(self, provider, operation, params):
            calls.append(("other", provider.name))
            return Request("GET", provider.base_url + "/models")

    class Everywhere:  # registers no provider: called for every family
        @llmplug.hookimpl(wrapper=True)
        def llmplug_build_request(self, provider, operation, params):
            calls.append(("wrapper", provider.name))
            return (yield)

    pm = PluginManager(entry_points=False)
    pm.register(Other(), name="other")
    pm.register(Everywhere(), name="everywhere")
    with llmplug.new("openai", api_key="k", base_url=api.base_url, plugins=pm, transport="urllib") as client:
        assert client.create_chat_completion(USER).body.choices[0].message.content == "You said: hi"
    assert calls == [("wrapper", "openai")]  # Other's unguarded hook never saw the openai call
    calls.clear()
    with llmplug.new("other", plugins=pm, transport="urllib", raise_for_status=False) as client:
        client.request("GET", "/models")
    assert calls == [("wrapper", "other"), ("other", "other")]


def test_hooks_answer_in_pluggy_order_and_monitors_still_see_every_call(api):
    """Pick-one hooks skip pluggy's per-call bookkeeping, not its rules: the most
    recent ``tryfirst`` answer wins, a plugin registered after a call takes part in
    the next, and a hook-call monitor (pluggy's tracing) sees every call."""
    answered: list[str] = []

    def plugin(name: str, **opts: bool) -> object:
        class Auth:
            @llmplug.hookimpl(**opts)
            def llmplug_authenticate(self, request):  # names only the argument it needs
                answered.append(name)
                request.headers["X-Auth-By"] = name
                return request

        return Auth()

    pm = PluginManager(entry_points=False)
    client = llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport="urllib", plugins=pm)
    client.models()
    assert "Bearer" in api.last_request.headers["Authorization"]
    pm.register(plugin("first", tryfirst=True), name="first")
    pm.register(plugin("later"), name="later")
    client.models()
    assert api.last_request.headers["X-Auth-By"] == "first" and answered == ["first"]

    seen: list[str] = []
    undo = pm.pm.add_hookcall_monitoring(lambda name, impls, kwargs: seen.append(name), lambda *a: None)
    client.models()
    undo()
    assert "llmplug_authenticate" in seen and "llmplug_build_request" in seen
