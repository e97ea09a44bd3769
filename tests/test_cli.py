"""The command line, run in-process against the fake API."""

from __future__ import annotations

import pytest

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
    assert capsys.readouterr().out.split()[:3] == ["httpx", "requests", "urllib"]


def test_plugins_listing(capsys):
    assert main(["plugins"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "llmplug.providers.openai  (built-in)  registers: openai, openrouter, openai-compatible, gemini-openai" in lines
    assert any(line.startswith("llmplug.transports.urllib  (built-in)  registers: urllib") for line in lines)


def test_usage_error_exits_2():
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
