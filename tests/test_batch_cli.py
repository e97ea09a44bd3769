"""``llmplug batch submit|status|results|cancel|list`` against the fake API's
batch engines (OpenAI and Gemini), in-process and as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmplug.__main__ import main
from llmplug.testing import FakeAPI
from llmplug.testing.openai_api import openai_service
from tests.conftest import TEST_KEY


@pytest.fixture
def instant(api: FakeAPI) -> FakeAPI:
    """Jobs that end as soon as they are read (no clock to move from a CLI)."""
    settings = api.batch_settings
    settings.validate_seconds = settings.run_seconds = settings.finalize_seconds = 0
    return api


def write_input(path: Path, count: int) -> Path:
    with open(path, "w", encoding="utf-8") as lines:
        for i in range(count):
            lines.write(json.dumps({"custom_id": f"q{i}", "body": {"messages": [{"role": "user", "content": f"Hi {i}"}]}}) + "\n")
    return path


@pytest.fixture(params=["openai", "gemini"])
def flags(request, instant, monkeypatch) -> list[str]:
    if request.param == "openai":
        monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
        return ["--provider", "openai", "--base-url", instant.base_url, "--transport", "urllib"]
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)
    return ["--provider", "gemini", "--base-url", instant.url + "/v1beta", "--transport", "urllib"]


def test_submit_status_results_list(flags, instant, tmp_path, capsys) -> None:
    source = write_input(tmp_path / "in.jsonl", 30)
    assert main(["batch", "submit", str(source), *flags]) == 0
    job_id = capsys.readouterr().out.strip()
    assert job_id
    assert main(["batch", "status", job_id, "--wait", "--poll-interval", "0.01", *flags]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == f"{job_id}  completed, 30/30 done (0 failed)"
    target = tmp_path / "out.jsonl"
    assert main(["batch", "results", job_id, "-o", str(target), *flags]) == 0
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["custom_id"] for line in lines] == [f"q{i}" for i in range(30)]
    assert lines[5]["response"]["status_code"] == 200 and lines[5]["error"] is None
    assert lines[5]["response"]["body"]["choices"][0]["message"]["content"] == "You said: Hi 5"
    assert "30 results, 0 failed" in capsys.readouterr().err
    assert main(["batch", "list", *flags]) == 0
    assert job_id in capsys.readouterr().out


def test_failed_lines_and_cancel(instant, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    flags = ["--base-url", instant.base_url, "--transport", "urllib"]
    openai_service(instant).fail_batch_lines = {"q1": 500}
    source = write_input(tmp_path / "in.jsonl", 3)
    main(["batch", "submit", str(source), *flags])
    job_id = capsys.readouterr().out.strip()
    target = tmp_path / "out.jsonl"
    assert main(["batch", "results", job_id, "-o", str(target), *flags]) == 1  # a request failed
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert lines[1]["response"]["status_code"] == 500 and lines[1]["error"]["message"]
    instant.batch_settings.run_seconds = 1000
    main(["batch", "submit", str(source), *flags])
    slow = capsys.readouterr().out.strip()
    assert main(["batch", "cancel", slow, *flags]) == 0
    assert capsys.readouterr().out.startswith(f"{slow}  cancel")


def test_bad_input_names_the_line(instant, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    source = tmp_path / "in.jsonl"
    source.write_text('{"custom_id": "a", "body": {}}\n{"custom_id": "a", "body": {}}\n')
    assert main(["batch", "submit", str(source), "--base-url", instant.base_url]) == 1
    assert "line 2: custom_id 'a' was already used on line 1" in capsys.readouterr().err
    assert instant.requests == []


def test_the_installed_command(instant, tmp_path) -> None:
    source = write_input(tmp_path / "in.jsonl", 2)
    env = {**os.environ, "OPENAI_API_KEY": TEST_KEY}
    run = [sys.executable, "-m", "llmplug", "batch"]
    submitted = subprocess.run([*run, "submit", str(source), "--base-url", instant.base_url], env=env,
                               capture_output=True, text=True, timeout=60)
    assert submitted.returncode == 0, submitted.stderr
    status = subprocess.run([*run, "status", submitted.stdout.strip(), "--base-url", instant.base_url], env=env,
                            capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "completed, 2/2 done" in status.stdout
