"""``llmplug bulk``: Batch API lines in, Batch API lines out, resumable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from llmplug.__main__ import main
from llmplug.testing import FakeAPI
from tests.conftest import TEST_KEY

REPO = Path(__file__).resolve().parents[1]


def write_input(path: Path, count: int, **extra: Any) -> Path:
    with path.open("w") as handle:
        for i in range(count):
            body = {"messages": [{"role": "user", "content": f"n{i}"}]}  # the provider's default model
            line = {"custom_id": f"r{i}", "method": "POST", "url": "/v1/chat/completions", "body": body, **extra}
            handle.write(json.dumps(line) + "\n")
    return path


def results(path: Path) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    by_id = {line["custom_id"]: line for line in lines}
    assert len(by_id) == len(lines), "an id written twice"
    return by_id


@pytest.fixture
def keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("GEMINI_API_KEY", TEST_KEY)


def test_every_line_gets_a_result_in_the_batch_format(api, tmp_path, keyed, capsys):
    source = write_input(tmp_path / "in.jsonl", 30)
    with source.open("a") as handle:  # no method/url: --endpoint decides; a body the server refuses
        handle.write(json.dumps({"custom_id": "bad", "body": {"model": "gpt-4.1", "messages": []}}) + "\n")
    out = tmp_path / "out.jsonl"
    assert main(["bulk", str(source), "-o", str(out), "--base-url", api.base_url, "--concurrency", "8"]) == 1
    got = results(out)
    assert set(got) == {f"r{i}" for i in range(30)} | {"bad"}
    line = got["r7"]
    assert line["error"] is None and line["response"]["status_code"] == 200
    assert line["response"]["request_id"].startswith("req_")
    assert line["response"]["body"]["choices"][0]["message"]["content"] == "You said: n7"
    bad = got["bad"]
    assert bad["response"]["status_code"] == 400 and bad["error"]["code"] == "empty_array"
    assert "empty array" in bad["error"]["message"]
    assert "31 calls, 1 failed" in capsys.readouterr().err


def test_a_rerun_skips_what_is_done_and_a_torn_line_is_run_again(api, tmp_path, keyed):
    source = write_input(tmp_path / "in.jsonl", 10)
    out = tmp_path / "out.jsonl"
    assert main(["bulk", str(source), "-o", str(out), "--base-url", api.base_url]) == 0
    lines = out.read_text().splitlines()
    torn_id = json.loads(lines[-1])["custom_id"]
    out.write_text("\n".join(lines[:6]) + "\n" + lines[6][:25])  # four lost, one torn mid-line
    api.reset()
    assert main(["bulk", str(source), "-o", str(out), "--base-url", api.base_url]) == 0
    assert len(api.requests) == 4  # only the four lost ones (the torn one among them)
    assert set(results(out)) == {f"r{i}" for i in range(10)} and torn_id in results(out)


def test_bad_input_names_the_line(api, tmp_path, keyed, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"custom_id": "a", "body": {}}\n{"custom_id": "a", "body": {}}\n')
    assert main(["bulk", str(source), "-o", str(tmp_path / "out.jsonl"), "--base-url", api.base_url]) == 1
    assert "input line 2: custom_id 'a' is used twice" in capsys.readouterr().err
    source.write_text('{"custom_id": "a", "url": "/v1/batches", "body": {}}\n')
    assert main(["bulk", str(source), "-o", str(tmp_path / "out.jsonl"), "--base-url", api.base_url]) == 1
    assert "input line 1: url '/v1/batches' is not one of /v1/chat/completions" in capsys.readouterr().err
    assert api.requests == []


def test_another_provider_gets_the_body_in_its_own_dialect(api, tmp_path, keyed):
    source = write_input(tmp_path / "in.jsonl", 3)
    out = tmp_path / "out.jsonl"
    args = ["bulk", str(source), "-o", str(out), "--provider", "gemini", "--base-url", api.url + "/v1beta"]
    assert main(args) == 0
    assert all(request.path.endswith(":generateContent") for request in api.requests)
    assert {r.json["contents"][0]["parts"][0]["text"] for r in api.requests} == {"n0", "n1", "n2"}
    assert results(out)["r1"]["response"]["body"]["choices"][0]["message"]["content"]
    api.queue("POST", "/v1beta/models/nope:generateContent", status=404)
    source.write_text(json.dumps({"custom_id": "x", "body": {"model": "nope", "messages": [{"role": "user", "content": "hi"}]}}) + "\n")
    assert main(["bulk", str(source), "-o", str(tmp_path / "x.jsonl"), "--provider", "gemini", "--base-url", api.url + "/v1beta"]) == 1
    assert results(tmp_path / "x.jsonl")["x"]["error"]["code"] == "NOT_FOUND"  # the server's own name for it


def test_ctrl_c_leaves_a_valid_file_and_a_rerun_finishes(tmp_path):
    source = write_input(tmp_path / "in.jsonl", 400)
    out = tmp_path / "out.jsonl"
    with FakeAPI() as api:
        api.latency = 0.05
        env = {**os.environ, "OPENAI_API_KEY": TEST_KEY}
        command = [sys.executable, "-m", "llmplug", "bulk", str(source), "-o", str(out), "--base-url", api.base_url,
                   "--concurrency", "4"]
        process = subprocess.Popen(command, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while (not out.exists() or out.stat().st_size < 2000) and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
        assert process.returncode == 130, err
        assert "interrupted" in err and "rerun to do the rest" in err
        first = results(out)  # every line whole
        assert 0 < len(first) < 400
        api.latency = 0.0
        rerun = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
        assert rerun.returncode == 0, rerun.stderr
    assert set(results(out)) == {f"r{i}" for i in range(400)}


def test_status_lines_when_stderr_is_not_a_terminal(api, tmp_path, keyed, capsys):
    source = write_input(tmp_path / "in.jsonl", 5)
    assert main(["bulk", str(source), "-o", str(tmp_path / "out.jsonl"), "--base-url", api.base_url]) == 0
    err = capsys.readouterr().err
    assert "llmplug: 5/5 done (0 failed)" in err and "/s" in err


def test_a_terminal_gets_a_tqdm_bar_with_rate(monkeypatch):
    import io

    import llmplug
    from llmplug.bulk_cli import ProgressBar, progress_display

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bar = progress_display(3)
    assert isinstance(bar, ProgressBar)
    for done in (1, 2, 3):
        bar(llmplug.Progress(done, 1, 3, done * 0.5))
    bar.close()
    assert "3/3" in screen.getvalue() and "failed=1" in screen.getvalue() and "call/s" in screen.getvalue()
