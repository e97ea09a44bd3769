"""The example plugin packages, installed with pip into the environment the
tests run in and used by name over a real socket: the ``azure-openai``
provider (``examples/plugins/llmplug-azure``) and a third-party transport,
``recording`` (``tests/plugins/fixtures/llmplug-recorder``).

The packages are installed once for this module (offline: no index, no build
isolation) and uninstalled after it, so the environment is left as found
(``tests/plugins/packages.py``).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import llmplug
from llmplug.core.plugins import PluginManager
from tests.conftest import TEST_KEY
from tests.plugins.packages import EXAMPLES, ROOT, installed_packages

PACKAGES = {
    "llmplug-azure": (EXAMPLES / "llmplug-azure", "llmplug_azure"),
    "llmplug-recorder": (Path(__file__).resolve().parent / "fixtures" / "llmplug-recorder", "llmplug_recorder"),
}
USER = [{"role": "user", "content": "Say hello."}]
SAFE = {"filtered": False, "severity": "safe"}
FILTERS = {"hate": SAFE, "self_harm": SAFE, "sexual": SAFE, "violence": SAFE}
#: A chat completion as Azure OpenAI sends it: OpenAI's shape plus content-filter results.
AZURE_CHAT = {
    "choices": [
        {
            "content_filter_results": FILTERS,
            "finish_reason": "stop",
            "index": 0,
            "logprobs": None,
            "message": {"content": "Hello from Azure.", "refusal": None, "role": "assistant"},
        }
    ],
    "created": 1727000000,
    "id": "chatcmpl-AB12cd34EF56gh78",
    "model": "gpt-4o-2024-08-06",
    "object": "chat.completion",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": FILTERS}],
    "system_fingerprint": "fp_5f20662549",
    "usage": {"completion_tokens": 5, "prompt_tokens": 11, "total_tokens": 16},
}
AZURE_HEADERS = {"apim-request-id": "8f1d6c2e-0000-4000-8000-000000000000", "x-request-id": "req-azure-1"}


@pytest.fixture(scope="module", autouse=True)
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """pip-install the example packages (from copies, so no build files land in the tree)."""
    with installed_packages(PACKAGES, tmp_path_factory.mktemp("plugin-packages")):
        yield


def azure(api, **options):
    """An azure-openai client on the fake API, through a fresh manager (it reads the entry points)."""
    options = {"plugins": PluginManager(), "transport": "urllib", "base_url": api.url, **options}
    return llmplug.new("azure-openai", api_key=TEST_KEY, max_retries=0, **options)


# ------------------------------------------------------------ azure-openai


def test_azure_chat_by_name_over_a_socket(api, transport, fresh_default):
    api.queue("POST", "/openai/deployments/my-gpt/chat/completions", json=AZURE_CHAT, headers=AZURE_HEADERS)
    client = llmplug.new(
        "azure-openai", api_key=TEST_KEY, base_url=api.url, deployment="my-gpt", api_version="2024-10-21",
        transport=transport,
    )  # the default manager: what a user gets
    status, body, headers = client.create_chat_completion(USER, temperature=0)

    req = api.last_request
    assert (req.method, req.path, req.query) == ("POST", "/openai/deployments/my-gpt/chat/completions", {"api-version": ["2024-10-21"]})
    assert req.headers.get("api-key") == TEST_KEY
    assert "authorization" not in req.headers  # the Bearer header of the OpenAI family never ran
    assert req.json == {"messages": USER, "temperature": 0, "model": "my-gpt"}  # OpenAI's encoding, untouched
    assert status == 200 and headers["apim-request-id"] == AZURE_HEADERS["apim-request-id"]
    assert isinstance(body, llmplug.core.models.ChatCompletion)
    assert body.content == "Hello from Azure." and body.choices[0].finish_reason == "stop"
    assert body.usage.total_tokens == 16 and body.model == "gpt-4o-2024-08-06"
    assert body.raw["prompt_filter_results"][0]["content_filter_results"] == FILTERS  # nothing Azure sent is lost
    assert TEST_KEY not in repr(client) and TEST_KEY not in repr(client.provider)


def test_azure_deployment_from_model_and_routes_outside_deployments(api):
    client = azure(api, api_version="2025-01-01-preview", base_url=api.url + "/openai")  # either endpoint form
    api.queue("POST", "/openai/deployments/emb-small/embeddings", json={
        "object": "list", "model": "text-embedding-3-small",
        "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5]}],
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    })
    _, body, _ = client.embedding("hello", model="emb-small")
    assert api.last_request.path == "/openai/deployments/emb-small/embeddings"
    assert api.last_request.query == {"api-version": ["2025-01-01-preview"]}
    assert body.vectors == [[0.25, -0.5]]

    api.queue("GET", "/openai/models", json={"object": "list", "data": [{"id": "gpt-4o", "object": "model"}]})
    _, models, _ = client.models()
    assert (api.last_request.path, api.last_request.query) == ("/openai/models", {"api-version": ["2025-01-01-preview"]})
    assert models.ids == ["gpt-4o"]

    requests_before = len(api.requests)
    with pytest.raises(llmplug.ConfigurationError) as info:
        client.create_chat_completion(USER)
    assert str(info.value) == (
        "provider 'azure-openai' needs a deployment: pass deployment=... to llmplug.new, or model=... to the call"
    )
    with pytest.raises(llmplug.UnsupportedOperationError) as info:
        client.moderation("hi")
    assert str(info.value) == (
        "provider 'azure-openai' has no operation 'moderations.create': Azure OpenAI has no such endpoint"
    )
    assert len(api.requests) == requests_before


def test_azure_stream_and_error_are_normalised_by_the_openai_family(api):
    client = azure(api, deployment="my-gpt")
    events = [
        {"choices": [], "created": 0, "id": "", "model": "", "object": "", "prompt_filter_results": [{"prompt_index": 0}]},
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}], "id": "c1", "object": "chat.completion.chunk"},
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}], "id": "c1", "object": "chat.completion.chunk"},
        "data: [DONE]\n\n",
    ]
    api.queue("POST", "/openai/deployments/my-gpt/chat/completions", events=events)
    chunks = []
    _, body, _ = client.create_chat_completion(USER, chunk_callback=lambda chunk, raw=None: chunks.append(str(chunk)))
    assert "".join(chunks) == "Hello" and body.content == "Hello"
    assert api.last_request.json["stream"] is True

    api.queue("POST", "/openai/deployments/my-gpt/chat/completions", status=404, json={
        "error": {"code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist."}
    })
    with pytest.raises(llmplug.NotFoundError) as info:
        client.create_chat_completion(USER)
    assert str(info.value).startswith(
        "azure-openai: 404 The API deployment for this resource does not exist. (DeploymentNotFound)"
    )
    assert (info.value.status_code, info.value.provider) == (404, "azure-openai")


def test_azure_key_and_endpoint_from_the_environment(api, monkeypatch):
    with pytest.raises(llmplug.MissingAPIKeyError) as info:
        llmplug.new("azure-openai", plugins=PluginManager())
    assert str(info.value) == "provider 'azure-openai' needs an API key: pass api_key=... or set AZURE_OPENAI_API_KEY"
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", api.url)
    client = llmplug.new("azure-openai", deployment="d1", transport="urllib", plugins=PluginManager())
    api.queue("POST", "/openai/deployments/d1/chat/completions", json=AZURE_CHAT)
    client.create_chat_completion(USER)
    assert api.last_request.headers.get("api-key") == TEST_KEY
    assert api.last_request.query == {"api-version": ["2024-10-21"]}  # the provider's default


def test_azure_plugin_leaves_other_providers_alone(api):
    client = llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport="urllib", plugins=PluginManager())
    client.models()
    req = api.last_request
    assert (req.path, req.query) == ("/v1/models", {})
    assert req.headers.get("Authorization") == f"Bearer {TEST_KEY}" and "api-key" not in req.headers


# ------------------------------------------------------------ the third-party transport


def test_recording_transport_by_name_over_a_socket(api):
    client = llmplug.new("openai", api_key=TEST_KEY, base_url=api.base_url, transport="recording", plugins=PluginManager())
    _, body, _ = client.create_chat_completion(USER, model="gpt-4o-mini")
    assert body.content == "You said: Say hello."  # the fake API's answer, through the plugin's transport
    assert type(client.transport).__module__ == "llmplug_recorder"
    sent = client.transport.requests
    assert [(r.method, r.url) for r in sent] == [("POST", api.base_url + "/chat/completions")]
    assert api.last_request.path == "/v1/chat/completions"
    client.close()


# ------------------------------------------------------------ listing and control


def test_installed_plugins_are_listed_with_their_distribution(fresh_default):
    infos = {info.name: info for info in llmplug.plugins()}
    assert (infos["azure"].distribution, infos["azure"].version, infos["azure"].builtin) == ("llmplug-azure", "0.1.0", False)
    assert infos["azure"].providers == ("azure-openai",)
    assert infos["azure"].hooks == ("llmplug_register_providers", "llmplug_build_request", "llmplug_authenticate")
    assert (infos["recorder"].distribution, infos["recorder"].transports) == ("llmplug-recorder", ("recording",))
    assert "azure-openai" in llmplug.providers() and "recording" in llmplug.transports()


def test_blocking_and_choosing_installed_plugins(monkeypatch):
    monkeypatch.setenv("LLMPLUG_DISABLE_PLUGINS", "azure")
    with pytest.raises(llmplug.UnknownProviderError) as info:
        llmplug.new("azure-openai", api_key="k", plugins=PluginManager())
    builtin = ", ".join(sorted(PluginManager(entry_points=False).providers()))
    assert str(info.value) == f"unknown provider 'azure-openai'; available: {builtin}"
    assert "recording" in PluginManager().transports()

    monkeypatch.delenv("LLMPLUG_DISABLE_PLUGINS")
    monkeypatch.setenv("LLMPLUG_LOAD_PLUGINS", "llmplug-azure")  # a distribution name works too
    pm = PluginManager()
    assert "azure-openai" in pm.providers()
    with pytest.raises(llmplug.UnknownTransportError) as info:
        llmplug.new("openai", api_key="k", transport="recording", plugins=pm)
    builtin = ", ".join(sorted(PluginManager(entry_points=False).transports()))
    assert str(info.value) == f"unknown transport 'recording'; available: {builtin}"


def test_import_llmplug_imports_no_plugin_until_one_is_needed():
    code = (
        "import sys, llmplug\n"
        "plugins = ('llmplug_azure', 'llmplug_recorder', 'llmplug.providers.openai', 'llmplug.transports.urllib')\n"
        "print(sorted(m for m in plugins if m in sys.modules))\n"
        "llmplug.providers()\n"
        "print(sorted(m for m in plugins if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.splitlines() == [
        "[]",
        "['llmplug.providers.openai', 'llmplug.transports.urllib', 'llmplug_azure', 'llmplug_recorder']",
    ]
