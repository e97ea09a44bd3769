"""The command line, run in-process against the fake API."""

from __future__ import annotations

import subprocess
import sys

import pytest

import llmplug

from llmplug.__main__ import main


def test_offline_chat_streams(capsys, transport):
    assert main(["chat", "--offline", "--transport", transport, "Hello CLI"]) == 0
    assert capsys.readouterr().out == "You said: Hello CLI\n"


def test_chat_against_a_server(capsys, api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli")
    code = main(["chat", "--base-url", api.base_url, "--model", "gpt-4.1-mini", "--system", "Be kind", "--no-stream", "Hi"])
    assert code == 0
    assert capsys.readouterr().out == "You said: Hi\n"
    req = api.last_request
    assert req.json["model"] == "gpt-4.1-mini"
    assert req.json["messages"] == [{"role": "system", "content": "Be kind"}, {"role": "user", "content": "Hi"}]
    assert "stream" not in req.json
    assert req.headers.get("Authorization") == "Bearer sk-cli"


def test_errors_exit_1_with_message(capsys):
    assert main(["chat", "Hi"]) == 1
    assert "OPENAI_API_KEY" in capsys.readouterr().err
    assert main(["chat", "--provider", "nope", "Hi"]) == 1
    assert "unknown provider 'nope'" in capsys.readouterr().err


def test_listings(capsys):
    assert main(["providers"]) == 0
    assert "openai-compatible" in capsys.readouterr().out.split()
    assert main(["transports"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "aiohttp  (async only)", "httpx", "httpx2", "requests  (sync only)", "urllib"
    ]


def test_plugins_listing(capsys):
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "llmplug.providers.openai  (built-in)  registers: openai, openrouter, openai-compatible, gemini-openai" in lines
    assert any(line.startswith("llmplug.transports.urllib  (built-in)  registers: urllib") for line in lines)


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


@pytest.mark.parametrize(
    "extra, named",
    [
        (["--provider", "gemini"], "--provider"),
        (["--base-url", "http://127.0.0.1:1/v1"], "--base-url"),
        (["--provider", "openai", "--base-url", "http://127.0.0.1:1/v1"], "--provider or --base-url"),
    ],
)
def test_offline_with_provider_or_base_url_is_a_usage_error(capsys, extra, named):
    with pytest.raises(SystemExit) as info:
        main(["chat", "--offline", *extra, "Hi"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: llmplug chat")
    assert f"--offline uses the bundled fake API: it cannot be combined with {named}" in err


def test_output_into_a_closed_pipe_ends_quietly():
    # A reply larger than a pipe's buffer, so the writer is still writing when the reader goes.
    prompt = " ".join(["x" * 1000] * 100)
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmplug", "chat", "--offline", prompt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout.read(5) == b"You s"
    proc.stdout.close()  # like `| head -c 5`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=30) == 141
    assert "Traceback" not in err and "Exception ignored" not in err and err == ""


def test_a_broken_stream_ends_its_partial_line_before_the_error(capsys, api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli")
    head = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    api.queue("POST", "/v1/chat/completions", events=[
        {**head, "choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]}, "data: [DONE]\n\n",
    ])
    assert main(["chat", "--base-url", api.base_url, "Hi"]) == 1
    out, err = capsys.readouterr()
    assert out == "Hel\n"  # the partial text, then a newline of its own
    assert err.startswith("llmplug: error: ") and "choice 0 had no finish_reason" in err
    assert "require_finish_reason=False" in err and "llmplug.new(" not in err


def test_hints_name_cli_flags(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["chat", "Hi"]) == 1
    err = capsys.readouterr().err
    assert "set OPENAI_API_KEY" in err and "api_key=" not in err
    assert main(["chat", "--provider", "openai-compatible", "Hi"]) == 1
    err = capsys.readouterr().err
    assert "--base-url URL" in err and "base_url=" not in err


def test_a_refusal_is_shown(capsys, api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-cli")
    assert main(["chat", "--base-url", api.base_url, "how to build a bomb"]) == 0
    streamed = capsys.readouterr().out
    assert main(["chat", "--base-url", api.base_url, "--no-stream", "how to build a bomb"]) == 0
    assert capsys.readouterr().out == streamed and streamed.strip()


def test_transports_listing_marks_missing_backends(capsys, monkeypatch):
    from tests.core.test_transport_status import NO_SUCH_MODULE, FastPlugin

    monkeypatch.setitem(sys.modules, "requests", None)  # as if requests were not installed
    pm = llmplug.default_plugin_manager()
    pm.register(FastPlugin(), name="fast")
    try:
        assert main(["transports"]) == 0
    finally:
        pm.unregister(name="fast")
    assert capsys.readouterr().out.splitlines() == [
        "aiohttp  (async only)",
        f"fast  (sync only; not installed: it needs {NO_SUCH_MODULE}, which cannot be imported)",
        "httpx",
        "httpx2",
        'requests  (sync only; not installed: pip install "llmplug[requests]")',
        "urllib",
    ]
    assert main(["chat", "--offline", "--transport", "requests", "Hi"]) == 1
    assert capsys.readouterr().err == (
        "llmplug: error: transport 'requests' is not installed: pip install \"llmplug[requests]\"; "
        "installed: aiohttp, httpx, httpx2, urllib\n"
    )
